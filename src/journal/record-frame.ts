import { assert } from '../assert.js';
import { BLOB_MAX_BYTES, BODY_MAX_BYTES } from '../limits.js';
import { checksumCrc32c, HASH_SIZE_BYTES, hashBytes } from './hashing.js';
import { putU32, u32At } from './little-endian.js';
import { SEAL_TAG_BYTES, SEALED_BODY_OVERHEAD_BYTES } from './record-sealing.js';

/**
 * The fixed binary header in front of every journal record, format 2 (all integers
 * little-endian):
 *
 * | offset | size | field            | rule                                                   |
 * |--------|------|------------------|--------------------------------------------------------|
 * | 0      | 2    | magic            | 0xCA28                                                 |
 * | 2      | 1    | type             | a `RecordType`                                         |
 * | 3      | 1    | flags            | bits 0-1 codec, 2 commit, 3 prior-synced, 4 sealed     |
 * | 4      | 4    | bodyLength       | body bytes as stored (msgpack, or sealed msgpack)      |
 * | 8      | 4    | storedBlobLength | blob bytes as stored (after compression and sealing)   |
 * | 12     | 4    | rawBlobLength    | blob bytes after decompression                         |
 * | 16     | 4    | commitIndex      | position of the record inside its commit               |
 * | 20     | 8    | sequence         | record number, 0 for the first record                  |
 * | 28     | 8    | link             | the first 8 bytes of the previous record's chain hash  |
 * | 36     | 4    | payloadChecksum  | CRC32C of the body followed by the stored blob         |
 * | 40     | 4    | headerChecksum   | CRC32C of bytes 0..40                                  |
 *
 * Format 1 spent 104 bytes here (two full BLAKE3 hashes); a log of 120-byte lines paid more
 * for frames than for text. The chain keeps its full strength without storing full hashes:
 * the chain hash of a record is BLAKE3(previous chain hash ‖ header bytes 0..36 ‖ body ‖
 * BLAKE3(stored blob)), computed in memory from the genesis on (verify) or from the full hash
 * a checkpoint root stores (open). The link is what recovery needs to tell a record that
 * continues the chain from a stale or foreign one. The blob enters the chain through its own
 * hash so that an erased blob can later be replaced by a marker holding that hash without
 * breaking the chain. Reads check the CRC32C only: it catches damage, and tampering is what
 * the chain (verify) is for.
 */

export const FRAME_HEADER_BYTES = 44;
export const FRAME_MAGIC = 0xca28;
export const LINK_BYTES = 8;
/**
 * The header bytes the chain hash covers, and a sealed record's associated data: everything
 * before the two checksums (which the sealed bytes determine).
 */
export const CHAINED_HEADER_BYTES = 36;
const HEADER_CHECKED_BYTES = 40;

export const FLAG_CODEC_MASK = 0b11;
export const FLAG_COMMIT = 0b100;
/**
 * Set on every record of a commit written when all the journal before it had been synced.
 * Recovery uses it to tell damage inside durable data (a later commit vouches that the bytes
 * before it were on disk) from a torn write of an unsynced tail.
 */
export const FLAG_PRIOR_SYNCED = 0b1000;
/**
 * Set on every record of an encrypted cartridge: its body and blob are sealed (see
 * `record-sealing.ts`), and its lengths are those of the sealed bytes.
 */
export const FLAG_SEALED = 0b1_0000;
const FLAGS_KNOWN = FLAG_CODEC_MASK | FLAG_COMMIT | FLAG_PRIOR_SYNCED | FLAG_SEALED;

export interface FrameHeader {
  readonly type: number;
  readonly flags: number;
  readonly bodyLength: number;
  readonly storedBlobLength: number;
  readonly rawBlobLength: number;
  readonly commitIndex: number;
  readonly sequence: number;
  /** The first LINK_BYTES of the previous record's chain hash. */
  readonly link: Buffer;
  readonly payloadChecksum: number;
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

export function isSealed(header: FrameHeader): boolean {
  return (header.flags & FLAG_SEALED) !== 0;
}

export function codecBitsOf(header: FrameHeader): number {
  return header.flags & FLAG_CODEC_MASK;
}

export function linkOf(chainHash: Buffer): Buffer {
  return chainHash.subarray(0, LINK_BYTES);
}

/** Writes the header into `target` (exactly FRAME_HEADER_BYTES long) and checksums it. */
export function encodeFrameHeader(header: FrameHeader, target: Buffer): void {
  assert(target.length === FRAME_HEADER_BYTES, 'frame header target has the wrong size');
  assert(header.link.length === LINK_BYTES, 'link has the wrong size');
  assert(Number.isSafeInteger(header.sequence) && header.sequence >= 0, 'bad sequence');
  assert(header.type >= 0 && header.type <= 0xff, 'record type out of range');
  assert(header.flags >= 0 && header.flags <= 0xff, 'flags out of range');
  // Plain byte stores: every record of every commit passes here, and `Buffer`'s checked
  // writers (and a BigInt per sequence) cost more than the rest of the header together.
  target[0] = FRAME_MAGIC & 0xff;
  target[1] = FRAME_MAGIC >>> 8;
  target[2] = header.type;
  target[3] = header.flags;
  putU32(target, 4, header.bodyLength);
  putU32(target, 8, header.storedBlobLength);
  putU32(target, 12, header.rawBlobLength);
  putU32(target, 16, header.commitIndex);
  putU32(target, 20, header.sequence % 0x1_0000_0000);
  putU32(target, 24, Math.floor(header.sequence / 0x1_0000_0000));
  header.link.copy(target, 28, 0, LINK_BYTES);
  putU32(target, 36, header.payloadChecksum >>> 0);
  putU32(target, 40, checksumCrc32c(target.subarray(0, HEADER_CHECKED_BYTES)));
}

/** Why a header was refused; `undefined` from `decodeFrameHeader` means it is valid. */
export type FrameHeaderFault = 'zero' | 'magic' | 'checksum' | 'flags' | 'length';

export type DecodedFrameHeader =
  | { readonly ok: true; readonly header: FrameHeader }
  | { readonly ok: false; readonly fault: FrameHeaderFault };

function isAllZero(bytes: Uint8Array): boolean {
  for (let index = 0; index < bytes.length; index++) if (bytes[index] !== 0) return false;
  return true;
}

/**
 * A sealed body holds at least its key id, nonce and tag; a sealed blob is empty or holds at
 * least its tag, and without a codec it is exactly the raw blob and its tag.
 */
function sealedLengthsValid(
  codecBits: number,
  bodyLength: number,
  storedBlobLength: number,
  rawBlobLength: number,
): boolean {
  if (bodyLength < SEALED_BODY_OVERHEAD_BYTES) return false;
  if (codecBits === 0) {
    return storedBlobLength === (rawBlobLength === 0 ? 0 : rawBlobLength + SEAL_TAG_BYTES);
  }
  return storedBlobLength > SEAL_TAG_BYTES;
}

/** A sequence above this high word is past Number.MAX_SAFE_INTEGER (2^53 - 1). */
const SAFE_SEQUENCE_HIGH_MAX = 0x1f_ffff;

/**
 * Validates and decodes a header from untrusted bytes. The checksum is checked before any
 * field is believed; lengths are checked against the limits before anyone allocates by them.
 * Fields are read with byte arithmetic rather than `Buffer` methods: every read of a record
 * decodes a header, often in code that is not optimised yet (the first reads after open).
 */
export function decodeFrameHeader(source: Buffer): DecodedFrameHeader {
  assert(source.length >= FRAME_HEADER_BYTES, 'frame header source is too short');
  if (((source[0] as number) | ((source[1] as number) << 8)) !== FRAME_MAGIC) {
    return {
      ok: false,
      fault: isAllZero(source.subarray(0, FRAME_HEADER_BYTES)) ? 'zero' : 'magic',
    };
  }
  if (
    checksumCrc32c(source.subarray(0, HEADER_CHECKED_BYTES)) !== u32At(source, HEADER_CHECKED_BYTES)
  ) {
    return { ok: false, fault: 'checksum' };
  }
  const flags = source[3] as number;
  if ((flags & ~FLAGS_KNOWN) !== 0 || (flags & FLAG_CODEC_MASK) === 3) {
    return { ok: false, fault: 'flags' };
  }
  const bodyLength = u32At(source, 4);
  const storedBlobLength = u32At(source, 8);
  const rawBlobLength = u32At(source, 12);
  const codecBits = flags & FLAG_CODEC_MASK;
  // Sealing may add its overhead to the limits, which bound what the writer seals.
  const sealed = (flags & FLAG_SEALED) !== 0;
  const lengthsValid =
    bodyLength <= BODY_MAX_BYTES + (sealed ? SEALED_BODY_OVERHEAD_BYTES : 0) &&
    storedBlobLength <= BLOB_MAX_BYTES + (sealed ? SEAL_TAG_BYTES : 0) &&
    rawBlobLength <= BLOB_MAX_BYTES &&
    (!sealed
      ? codecBits !== 0 || storedBlobLength === rawBlobLength
      : sealedLengthsValid(codecBits, bodyLength, storedBlobLength, rawBlobLength));
  if (!lengthsValid) return { ok: false, fault: 'length' };
  const sequenceHigh = u32At(source, 24);
  if (sequenceHigh > SAFE_SEQUENCE_HIGH_MAX) return { ok: false, fault: 'length' };
  return {
    ok: true,
    header: {
      type: source[2] as number,
      flags,
      bodyLength,
      storedBlobLength,
      rawBlobLength,
      commitIndex: u32At(source, 16),
      sequence: u32At(source, 20) + sequenceHigh * 0x1_0000_0000,
      link: Buffer.from(source.subarray(28, 28 + LINK_BYTES)),
      payloadChecksum: u32At(source, 36),
    },
  };
}

/** The blob hash of an empty blob, computed once: most records carry no blob. */
export const EMPTY_BLOB_HASH = hashBytes(Buffer.alloc(0));

export function blobHashOf(storedBlob: Uint8Array): Buffer {
  return storedBlob.length === 0 ? EMPTY_BLOB_HASH : hashBytes(storedBlob);
}

/** One scratch buffer for chain hash inputs: no allocation per record for small bodies. */
let chainScratch = Buffer.allocUnsafe(64 * 1024);

/**
 * The chain hash of a record: BLAKE3(previous chain hash ‖ header bytes 0..36 ‖ body ‖
 * BLAKE3(stored blob)). One one-shot call over a reused buffer, no hasher object per record
 * (a native object per record grew memory without bound in synchronous loops).
 */
export function chainHashOf(
  previousHash: Buffer,
  encodedHeader: Buffer,
  body: Uint8Array,
  blobHash: Buffer,
): Buffer {
  assert(previousHash.length === HASH_SIZE_BYTES, 'previous hash has the wrong size');
  const length = HASH_SIZE_BYTES + CHAINED_HEADER_BYTES + body.length + HASH_SIZE_BYTES;
  if (length > chainScratch.length) chainScratch = Buffer.allocUnsafe(length);
  previousHash.copy(chainScratch, 0);
  encodedHeader.copy(chainScratch, HASH_SIZE_BYTES, 0, CHAINED_HEADER_BYTES);
  chainScratch.set(body, HASH_SIZE_BYTES + CHAINED_HEADER_BYTES);
  blobHash.copy(chainScratch, length - HASH_SIZE_BYTES);
  return hashBytes(chainScratch.subarray(0, length));
}

/** CRC32C of the body followed by the stored blob, as one stream. */
export function payloadChecksumOf(body: Uint8Array, storedBlob: Uint8Array): number {
  return checksumCrc32c(storedBlob, checksumCrc32c(body));
}
