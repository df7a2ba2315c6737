import { CartridgeError, limitExceeded } from '../errors.js';
import { type Position, positionOf } from '../position.js';
import type { SnapshotEntry } from '../projections/timeline.js';

/**
 * Named snapshots: a name for a moment of the journal, kept in the cartridge itself (a
 * `snapshot.created` record, indexed by the timeline). A snapshot costs one small record
 * whatever the size of the data, and pins its position against compaction.
 */

export const SNAPSHOT_NAME_MAX_BYTES = 255;
export const SNAPSHOT_DESCRIPTION_MAX_BYTES = 4096;

export interface SnapshotInfo {
  readonly name: string;
  /** The snapshot's record: `checkout(name)` shows the state right after its commit. */
  readonly position: Position;
  /** The journal offset of the snapshot's record (the head when it was taken). */
  readonly offset: number;
  readonly createdAt: Date;
  readonly createdAtMs: number;
  readonly description: string | null;
}

export function snapshotInfo(entry: SnapshotEntry): SnapshotInfo {
  return {
    name: entry.name,
    position: positionOf(entry.offset, entry.sequence),
    offset: entry.offset,
    createdAt: new Date(entry.createdAtMs),
    createdAtMs: entry.createdAtMs,
    description: entry.description,
  };
}

// Control characters would make names ambiguous in listings and logs.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * Names a change stream's `from` reads as positions, not as snapshots: a snapshot by one of
 * these names could never be streamed from, so they are refused.
 */
const RESERVED_NAMES = new Set(['now', 'start']);

/**
 * A snapshot name as given by a caller: text of 1 to 255 UTF-8 bytes, no control characters,
 * not a reserved name.
 */
export function requireSnapshotName(name: unknown, creating = false): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new CartridgeError('INVALID_ARGUMENT', 'a snapshot name must be non-empty text');
  }
  const sizeBytes = Buffer.byteLength(name, 'utf8');
  if (sizeBytes > SNAPSHOT_NAME_MAX_BYTES) {
    throw limitExceeded('snapshot name length', sizeBytes, SNAPSHOT_NAME_MAX_BYTES);
  }
  if (CONTROL_CHARACTERS.test(name)) {
    throw new CartridgeError('INVALID_ARGUMENT', 'a snapshot name holds a control character');
  }
  if (creating && RESERVED_NAMES.has(name)) {
    throw new CartridgeError('INVALID_ARGUMENT', `${name} is reserved (a stream start)`);
  }
  return name;
}

export function requireSnapshotDescription(description: unknown): string | null {
  if (description === undefined || description === null) return null;
  if (typeof description !== 'string') {
    throw new CartridgeError('INVALID_ARGUMENT', 'a snapshot description must be text');
  }
  const sizeBytes = Buffer.byteLength(description, 'utf8');
  if (sizeBytes > SNAPSHOT_DESCRIPTION_MAX_BYTES) {
    throw limitExceeded('snapshot description length', sizeBytes, SNAPSHOT_DESCRIPTION_MAX_BYTES);
  }
  return description;
}
