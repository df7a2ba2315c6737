import { CartridgeError } from '../errors.js';
import type { JournalTail } from '../journal/journal-writer.js';
import { LINK_BYTES, linkOf } from '../journal/record-frame.js';

/**
 * Resume tokens of change streams. A token names a place in one cartridge's journal: the
 * commit boundary at `offset`, where the record with `sequence` starts (or will start) and
 * carries `link`, the first bytes of the chain hash of the record before it; and how many
 * records of that commit were already delivered. Resuming checks all of it against the
 * journal, so a token of another cartridge, of a rewritten history or a forged one is refused
 * instead of silently skipping or repeating events.
 *
 * Layout (then base64url): u8 version (2), 16 bytes cartridge id, u48 offset, u48 sequence,
 * 8 bytes link, u32 records to skip. Fixed and small: every event carries one.
 */

export interface StreamMark {
  readonly offset: number;
  readonly sequence: number;
  readonly link: Buffer;
}

export interface ResumePoint {
  readonly mark: StreamMark;
  readonly skipRecords: number;
}

const TOKEN_VERSION = 2;
const CARTRIDGE_ID_BYTES = 16;
const TOKEN_BYTES = 1 + CARTRIDGE_ID_BYTES + 6 + 6 + LINK_BYTES + 4;

/** The mark of a chain state the caller knows in full (a writer's tail, a replayed one). */
export function markOf(tail: JournalTail): StreamMark {
  return { offset: tail.endOffset, sequence: tail.nextSequence, link: linkOf(tail.lastHash) };
}

export function encodeToken(cartridgeId: Buffer, mark: StreamMark, skipRecords: number): string {
  const bytes = Buffer.allocUnsafe(TOKEN_BYTES);
  bytes[0] = TOKEN_VERSION;
  cartridgeId.copy(bytes, 1, 0, CARTRIDGE_ID_BYTES);
  let at = 1 + CARTRIDGE_ID_BYTES;
  bytes.writeUIntLE(mark.offset, at, 6);
  bytes.writeUIntLE(mark.sequence, at + 6, 6);
  at += 12;
  mark.link.copy(bytes, at, 0, LINK_BYTES);
  bytes.writeUInt32LE(skipRecords, at + LINK_BYTES);
  return bytes.toString('base64url');
}

function unavailable(detail: string): CartridgeError {
  return new CartridgeError('HISTORY_UNAVAILABLE', `resume token ${detail}`);
}

/** Reads a token of this cartridge; anything else is `HISTORY_UNAVAILABLE`. */
export function decodeToken(token: string, cartridgeId: Buffer): ResumePoint {
  if (token.length > 2 * TOKEN_BYTES) throw unavailable('is not a token');
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== TOKEN_BYTES || bytes[0] !== TOKEN_VERSION) {
    throw unavailable('is not a token');
  }
  if (!bytes.subarray(1, 1 + CARTRIDGE_ID_BYTES).equals(cartridgeId)) {
    throw unavailable('belongs to another cartridge');
  }
  const at = 1 + CARTRIDGE_ID_BYTES;
  return {
    mark: {
      offset: bytes.readUIntLE(at, 6),
      sequence: bytes.readUIntLE(at + 6, 6),
      link: Buffer.from(bytes.subarray(at + 12, at + 12 + LINK_BYTES)),
    },
    skipRecords: bytes.readUInt32LE(at + 12 + LINK_BYTES),
  };
}
