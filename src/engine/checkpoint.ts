import { Packr } from 'msgpackr';
import { CartridgeError, journalCorrupt } from '../errors.js';
import { extentsFromFlat, flattenExtents } from '../journal/event-codec.js';
import { CHECKPOINT_PART_MAX_BYTES, CHECKPOINT_PARTS_MAX } from '../limits.js';
import type { Allocator } from '../projections/allocator.js';
import type { Catalog, CatalogNode } from '../projections/catalog.js';

/**
 * A checkpoint is the projection state written into the journal as records, so open can
 * start from it and replay only the tail. Its state is the catalog (every entry with its
 * extents) and the journal spans of live records; the allocator's account is rebuilt from
 * those. The encoding is a msgpack array, cut into parts of at most 4 MiB, one record each,
 * all in one commit.
 *
 * State layout: `[version = 1, nextInode, entries, spans]` where each entry is
 * `[path, kind (0 file, 1 directory), inode, mode, createdAtMs, modifiedAtMs, sizeBytes,
 * extents]` with extents flat as in record bodies, and `spans` is a flat
 * `[offset, lengthBytes, ...]` list.
 */

const STATE_VERSION = 1;
const packer = new Packr({ useRecords: false, mapsAsObjects: false });

export function encodeCheckpointState(catalog: Catalog, allocator: Allocator): Buffer[] {
  const entries: unknown[] = [];
  for (const [path, node] of catalog.allEntries()) {
    const isFile = node.kind === 'file';
    entries.push([
      path,
      isFile ? 0 : 1,
      node.inode,
      node.mode,
      node.createdAtMs,
      node.modifiedAtMs,
      isFile ? node.sizeBytes : 0,
      isFile ? flattenExtents(node.extents) : [],
    ]);
  }
  const spans = allocator.liveSpans().flat();
  const encoded = Buffer.from(packer.pack([STATE_VERSION, catalog.nextInode, entries, spans]));
  const parts: Buffer[] = [];
  for (let start = 0; start < encoded.length; start += CHECKPOINT_PART_MAX_BYTES) {
    parts.push(encoded.subarray(start, start + CHECKPOINT_PART_MAX_BYTES));
  }
  if (parts.length === 0) parts.push(encoded);
  if (parts.length > CHECKPOINT_PARTS_MAX) {
    throw new CartridgeError('LIMIT_EXCEEDED', `checkpoint needs ${parts.length} parts`);
  }
  return parts;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function countsOf(value: unknown, offset: number, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount))
    throw journalCorrupt(offset, `checkpoint ${what} malformed`);
  return value as number[];
}

function decodeEntry(value: unknown, offset: number): [string, CatalogNode] {
  if (!Array.isArray(value) || value.length !== 8 || typeof value[0] !== 'string') {
    throw journalCorrupt(offset, 'checkpoint entry malformed');
  }
  const path = value[0] as string;
  const [kind, inode, mode, createdAtMs, modifiedAtMs, sizeBytes] = countsOf(
    value.slice(1, 7),
    offset,
    'entry',
  );
  if (!Array.isArray(value[7]) || (kind !== 0 && kind !== 1))
    throw journalCorrupt(offset, 'checkpoint entry malformed');
  const common = {
    inode: inode as number,
    mode: mode as number,
    createdAtMs: createdAtMs as number,
    modifiedAtMs: modifiedAtMs as number,
  };
  if (kind === 1) return [path, { kind: 'directory', ...common, children: new Set() }];
  const extents = withOffset(offset, () => extentsFromFlat(value[7] as unknown[]));
  return [path, { kind: 'file', ...common, sizeBytes: sizeBytes as number, extents }];
}

/** Runs a decoder, giving its `JOURNAL_CORRUPT` the checkpoint's offset. */
function withOffset<T>(offset: number, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT')
      throw journalCorrupt(offset, error.message);
    throw error;
  }
}

export interface CheckpointState {
  readonly nextInode: number;
  readonly entries: [string, CatalogNode][];
  readonly spans: [number, number][];
}

/** Decodes checkpoint state from untrusted bytes; malformed input is `JOURNAL_CORRUPT`. */
export function decodeCheckpointState(encoded: Buffer, offset: number): CheckpointState {
  let value: unknown;
  try {
    value = packer.unpack(encoded);
  } catch (error) {
    throw new CartridgeError('JOURNAL_CORRUPT', 'checkpoint is not msgpack', {
      offset,
      cause: error,
    });
  }
  if (
    !Array.isArray(value) ||
    value.length !== 4 ||
    value[0] !== STATE_VERSION ||
    !isCount(value[1])
  ) {
    throw journalCorrupt(offset, 'checkpoint header malformed');
  }
  if (!Array.isArray(value[2])) throw journalCorrupt(offset, 'checkpoint entries malformed');
  const entries = (value[2] as unknown[]).map((entry) => decodeEntry(entry, offset));
  const flatSpans = countsOf(value[3], offset, 'spans');
  if (flatSpans.length % 2 !== 0) throw journalCorrupt(offset, 'checkpoint spans malformed');
  const spans: [number, number][] = [];
  for (let index = 0; index < flatSpans.length; index += 2) {
    spans.push([flatSpans[index] as number, flatSpans[index + 1] as number]);
  }
  return { nextInode: value[1], entries, spans };
}

/** Loads decoded state into fresh projections. */
export function applyCheckpointState(
  state: CheckpointState,
  catalog: Catalog,
  allocator: Allocator,
): void {
  catalog.load(state.entries, state.nextInode);
  allocator.loadSpanLengths(state.spans);
  for (const [path, node] of state.entries) {
    if (node.kind === 'file') allocator.loadFile(path, node.sizeBytes, node.extents);
  }
}
