import { assert } from '../assert.js';
import { BLOB_MAX_BYTES, BODY_MAX_BYTES } from '../limits.js';
import { checksumCrc32c, HASH_SIZE_BYTES, hashBytes } from './hashing.js';

/**
 * The fixed binary header in front of every journal record (all integers little-endian):
 *
 * | offset | size | field            | rule                                                |
 * |--------|------|------------------|-----------------------------------------------------|
 * | 0      | 2    | magic            | 0xCA27                                              |
 * | 2      | 1    | version          | 1                                                   |
 * | 3      | 1    | type             | a `RecordType`                                      |
 * | 4      | 1    | flags            | bits 0-1 codec, 2 commit, 3 prior-synced; others 0  |
 * | 5      | 1    | redaction        | 0; reserved for redaction, outside the chain hash   |
 * | 6      | 2    | reserved         | 0                                                   |
 * | 8      | 4    | bodyLength       | msgpack body bytes, stored plain                    |
 * | 12     | 4    | storedBlobLength | blob bytes as stored (after compression)            |
 * | 16     | 4    | rawBlobLength    | blob bytes after decompression                      |
 * | 20     | 4    | commitIndex      | position of the record inside its commit            |
 * | 24     | 8    | sequence         | record number, 0 for the first record               |
 * | 32     | 32   | previousHash     | chain hash of the previous record                   |
 * | 64     | 32   | blobHash         | BLAKE3 of the stored blob                           |
 * | 96     | 4    | bodyChecksum     | CRC32C of the body                                  |
 * | 100    | 4    | headerChecksum   | CRC32C of bytes 0..100                              |
 *
 * The chain hash of a record is BLAKE3 of its first 100 header bytes (redaction byte zeroed)
 * followed by its body. It commits to the blob through `blobHash`, so file content can later
 * be replaced by a redaction marker without breaking the chain, and the blob is hashed once,
 * in one pass, on the write path. The body, small, is covered directly.
 */

export const FRAME_HEADER_BYTES = 104;
export const FRAME_MAGIC = 0xca27;
export const FRAME_VERSION = 1;

export const FLAG_CODEC_MASK = 0b11;
export const FLAG_COMMIT = 0b100;
/**
 * Set on every record of a commit written when all the journal before it had been synced.
 * Recovery uses it to tell damage inside durable data (a later commit vouches that the bytes
 * before it were on disk) from a torn write of an unsynced tail.
 */
export const FLAG_PRIOR_SYNCED = 0b1000;
const FLAGS_KNOWN = FLAG_CODEC_MASK | FLAG_COMMIT | FLAG_PRIOR_SYNCED;

export interface FrameHeader {
  readonly type: number;
  readonly flags: number;
  readonly bodyLength: number;
  readonly storedBlobLength: number;
  readonly rawBlobLength: number;
  readonly commitIndex: number;
  readonly sequence: number;
  readonly previousHash: Buffer;
  readonly blobHash: Buffer;
  readonly bodyChecksum: number;
}

export function payloadLengthOf(header: FrameHeader): number {
  return header.bodyLength + header.storedBlobLength;
}

export function recordLengthOf(header: FrameHeader): number {
  return FRAME_HEADER_BYTES + header.bodyLength + header.storedBlobLength;
}

export function isCommit(header: FrameHeader): boolean {
  return (header.flags & FLAG_COMMIT) !== 0;
}

export function codecBitsOf(header: FrameHeader): number {
  return header.flags & FLAG_CODEC_MASK;
}

/** Writes the header into `target` (exactly FRAME_HEADER_BYTES long) and checksums it. */
export function encodeFrameHeader(header: FrameHeader, target: Buffer): void {
  assert(target.length === FRAME_HEADER_BYTES, 'frame header target has the wrong size');
  assert(header.previousHash.length === HASH_SIZE_BYTES, 'previous hash has the wrong size');
  assert(header.blobHash.length === HASH_SIZE_BYTES, 'blob hash has the wrong size');
  assert(Number.isSafeInteger(header.sequence) && header.sequence >= 0, 'bad sequence');
  target.writeUInt16LE(FRAME_MAGIC, 0);
  target.writeUInt8(FRAME_VERSION, 2);
  target.writeUInt8(header.type, 3);
  target.writeUInt8(header.flags, 4);
  target.writeUInt8(0, 5);
  target.writeUInt16LE(0, 6);
  target.writeUInt32LE(header.bodyLength, 8);
  target.writeUInt32LE(header.storedBlobLength, 12);
  target.writeUInt32LE(header.rawBlobLength, 16);
  target.writeUInt32LE(header.commitIndex, 20);
  target.writeBigUInt64LE(BigInt(header.sequence), 24);
  header.previousHash.copy(target, 32);
  header.blobHash.copy(target, 64);
  target.writeUInt32LE(header.bodyChecksum >>> 0, 96);
  target.writeUInt32LE(checksumCrc32c(target.subarray(0, 100)), 100);
}

/** Why a header was refused; `undefined` from `decodeFrameHeader` means it is valid. */
export type FrameHeaderFault =
  'zero' | 'magic' | 'checksum' | 'version' | 'flags' | 'reserved' | 'length';

export type DecodedFrameHeader =
  | { readonly ok: true; readonly header: FrameHeader }
  | { readonly ok: false; readonly fault: FrameHeaderFault };

function isAllZero(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) if (bytes[index] !== 0) return false;
  return true;
}

/**
 * Validates and decodes a header from untrusted bytes. The checksum is checked before any
 * field is believed; lengths are checked against the limits before anyone allocates by them.
 */
export function decodeFrameHeader(source: Buffer): DecodedFrameHeader {
  assert(source.length >= FRAME_HEADER_BYTES, 'frame header source is too short');
  if (source.readUInt16LE(0) !== FRAME_MAGIC) {
    return {
      ok: false,
      fault: isAllZero(source.subarray(0, FRAME_HEADER_BYTES)) ? 'zero' : 'magic',
    };
  }
  if (checksumCrc32c(source.subarray(0, 100)) !== source.readUInt32LE(100)) {
    return { ok: false, fault: 'checksum' };
  }
  if (source.readUInt8(2) !== FRAME_VERSION) return { ok: false, fault: 'version' };
  const flags = source.readUInt8(4);
  if ((flags & ~FLAGS_KNOWN) !== 0 || (flags & FLAG_CODEC_MASK) === 3) {
    return { ok: false, fault: 'flags' };
  }
  if (source.readUInt16LE(6) !== 0) return { ok: false, fault: 'reserved' };
  const bodyLength = source.readUInt32LE(8);
  const storedBlobLength = source.readUInt32LE(12);
  const rawBlobLength = source.readUInt32LE(16);
  const codecBits = flags & FLAG_CODEC_MASK;
  const lengthsValid =
    bodyLength <= BODY_MAX_BYTES &&
    storedBlobLength <= BLOB_MAX_BYTES &&
    rawBlobLength <= BLOB_MAX_BYTES &&
    (codecBits !== 0 || storedBlobLength === rawBlobLength);
  if (!lengthsValid) return { ok: false, fault: 'length' };
  const sequence = Number(source.readBigUInt64LE(24));
  if (!Number.isSafeInteger(sequence)) return { ok: false, fault: 'length' };
  return {
    ok: true,
    header: {
      type: source.readUInt8(3),
      flags,
      bodyLength,
      storedBlobLength,
      rawBlobLength,
      commitIndex: source.readUInt32LE(20),
      sequence,
      previousHash: Buffer.from(source.subarray(32, 64)),
      blobHash: Buffer.from(source.subarray(64, 96)),
      bodyChecksum: source.readUInt32LE(96),
    },
  };
}

/**
 * The chain hash of a record: BLAKE3 of header bytes 0..100 with the redaction byte zeroed,
 * followed by the body.
 */
export function chainHashOf(encodedHeader: Buffer, body: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(100 + body.length);
  encodedHeader.copy(input, 0, 0, 100);
  input[5] = 0;
  input.set(body, 100);
  return hashBytes(input);
}

/** The blob hash of an empty blob, computed once: most records carry no blob. */
export const EMPTY_BLOB_HASH = hashBytes(Buffer.alloc(0));

export function blobHashOf(storedBlob: Uint8Array): Buffer {
  return storedBlob.length === 0 ? EMPTY_BLOB_HASH : hashBytes(storedBlob);
}
