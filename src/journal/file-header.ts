import { assert } from '../assert.js';
import { CartridgeError } from '../errors.js';
import { PAGE_SIZE_BYTES } from '../limits.js';
import { checksumCrc32c } from './hashing.js';
import { CipherCode, KEY_ID_BYTES } from './keyring.js';

/**
 * The file header, kept in two 4 KiB slots at offsets 0 and 4096. An update writes the slot
 * the current generation does not occupy, so a torn header write always leaves the other slot
 * intact; open takes the valid slot with the highest generation. Slots are a full page each so
 * that even a torn 4 KiB sector write touches one slot only.
 *
 * | offset | size | field             |
 * |--------|------|-------------------|
 * | 0      | 8    | magic "CARTRIDG"  |
 * | 8      | 2    | formatVersion = 4 |
 * | 10     | 2    | requiredFeatures = 0 |
 * | 12     | 4    | pageSizeBytes = 4096 |
 * | 16     | 8    | generation        |
 * | 24     | 16   | cartridgeId       |
 * | 40     | 8    | createdAtMs       |
 * | 48     | 8    | capacityBlocks (0 = grows without limit) |
 * | 56     | 8    | journalStartOffset = 8192 |
 * | 64     | 8    | syncedLength (journal end known durable) |
 * | 72     | 8    | checkpointOffset: the latest checkpoint root record (0 = none) |
 * | 80     | 1    | compression codec default |
 * | 81     | 1    | cipher: 0 none, 1 aes-256-gcm, 2 chacha20-poly1305 |
 * | 82     | 1    | flags: bit 0 audit retained (compaction never drops audit records) |
 * | 83     | 1    | zero                |
 * | 84     | 4    | keyId: the key new records were sealed with when the slot was written |
 * | 88     | 4004 | zero                |
 * | 4092   | 4    | CRC32C of bytes 0..4092 |
 */

export const HEADER_SLOT_BYTES = PAGE_SIZE_BYTES;
export const HEADER_SLOT_COUNT = 2;
export const JOURNAL_START_OFFSET = HEADER_SLOT_BYTES * HEADER_SLOT_COUNT;
/**
 * Format 4 added encryption at rest (the sealed flag, the cipher and key id fields, record type
 * 18 `key.rotated`), tamper evidence (record type 17 `head.signed`, the Merkle log's checkpoint
 * section) and byte-range patches (record type 19 `file.patched`, SQLite's pages).
 */
export const FILE_FORMAT_VERSION = 4;
/** The highest cipher code a slot may hold. */
const CIPHER_CODE_MAX = CipherCode.ChaCha20Poly1305;
const MAGIC = Buffer.from('CARTRIDG', 'latin1');
const CHECKSUM_OFFSET = HEADER_SLOT_BYTES - 4;

export interface FileHeader {
  readonly generation: number;
  readonly cartridgeId: Buffer;
  readonly createdAtMs: number;
  readonly capacityBlocks: number | null;
  readonly syncedLength: number;
  readonly checkpointOffset: number;
  readonly compressionCodec: number;
  /** 0 for a plain cartridge; otherwise the cipher every record is sealed with. */
  readonly cipherCode: number;
  /**
   * The id of the key new records were sealed with when the header was written (zeros for a
   * plain cartridge). Open checks the keys given against it before reading any record, so a
   * wrong key is refused at once and never taken for damage.
   */
  readonly keyId: Buffer;
  /**
   * Set at create by `audit: { retain: true }` and kept by every header update: compaction
   * refuses to drop the audit records of such a cartridge (`AUDIT_RETAINED`).
   */
  readonly auditRetain: boolean;
}

/** Bit 0 of the flags byte: the audit records are retained. Other bits are written 0. */
const FLAG_AUDIT_RETAIN = 1;

export function encodeFileHeader(header: FileHeader): Buffer {
  assert(header.cartridgeId.length === 16, 'cartridge id must be 16 bytes');
  assert(header.keyId.length === KEY_ID_BYTES, 'key id must be 4 bytes');
  const slot = Buffer.alloc(HEADER_SLOT_BYTES);
  MAGIC.copy(slot, 0);
  slot.writeUInt16LE(FILE_FORMAT_VERSION, 8);
  slot.writeUInt16LE(0, 10);
  slot.writeUInt32LE(PAGE_SIZE_BYTES, 12);
  slot.writeBigUInt64LE(BigInt(header.generation), 16);
  header.cartridgeId.copy(slot, 24);
  slot.writeBigUInt64LE(BigInt(header.createdAtMs), 40);
  slot.writeBigUInt64LE(BigInt(header.capacityBlocks ?? 0), 48);
  slot.writeBigUInt64LE(BigInt(JOURNAL_START_OFFSET), 56);
  slot.writeBigUInt64LE(BigInt(header.syncedLength), 64);
  slot.writeBigUInt64LE(BigInt(header.checkpointOffset), 72);
  slot.writeUInt8(header.compressionCodec, 80);
  slot.writeUInt8(header.cipherCode, 81);
  slot.writeUInt8(header.auditRetain ? FLAG_AUDIT_RETAIN : 0, 82);
  header.keyId.copy(slot, 84);
  slot.writeUInt32LE(checksumCrc32c(slot.subarray(0, CHECKSUM_OFFSET)), CHECKSUM_OFFSET);
  return slot;
}

export type SlotVerdict =
  | { readonly kind: 'valid'; readonly header: FileHeader }
  | { readonly kind: 'foreign' }
  | { readonly kind: 'damaged' }
  | { readonly kind: 'unsupported'; readonly version: number };

function safeNumber(slot: Buffer, offset: number): number | undefined {
  const value = Number(slot.readBigUInt64LE(offset));
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Judges one slot read from untrusted bytes; short slots are damaged. */
export function decodeFileHeaderSlot(slot: Buffer): SlotVerdict {
  if (slot.length < MAGIC.length || !slot.subarray(0, MAGIC.length).equals(MAGIC)) {
    return { kind: 'foreign' };
  }
  if (slot.length < HEADER_SLOT_BYTES) return { kind: 'damaged' };
  if (checksumCrc32c(slot.subarray(0, CHECKSUM_OFFSET)) !== slot.readUInt32LE(CHECKSUM_OFFSET)) {
    return { kind: 'damaged' };
  }
  const version = slot.readUInt16LE(8);
  if (version !== FILE_FORMAT_VERSION || slot.readUInt16LE(10) !== 0) {
    return { kind: 'unsupported', version };
  }
  const generation = safeNumber(slot, 16);
  const createdAtMs = safeNumber(slot, 40);
  const capacityBlocks = safeNumber(slot, 48);
  const journalStart = safeNumber(slot, 56);
  const syncedLength = safeNumber(slot, 64);
  const checkpointOffset = safeNumber(slot, 72);
  const compressionCodec = slot.readUInt8(80);
  const cipherCode = slot.readUInt8(81);
  const flags = slot.readUInt8(82);
  const sane =
    slot.readUInt32LE(12) === PAGE_SIZE_BYTES &&
    journalStart === JOURNAL_START_OFFSET &&
    generation !== undefined &&
    createdAtMs !== undefined &&
    capacityBlocks !== undefined &&
    syncedLength !== undefined &&
    checkpointOffset !== undefined &&
    compressionCodec <= 2 &&
    cipherCode <= CIPHER_CODE_MAX;
  if (!sane) return { kind: 'damaged' };
  return {
    kind: 'valid',
    header: {
      generation,
      createdAtMs,
      syncedLength,
      checkpointOffset,
      compressionCodec,
      cipherCode,
      keyId: Buffer.from(slot.subarray(84, 84 + KEY_ID_BYTES)),
      auditRetain: (flags & FLAG_AUDIT_RETAIN) !== 0,
      cartridgeId: Buffer.from(slot.subarray(24, 40)),
      capacityBlocks: capacityBlocks === 0 ? null : capacityBlocks,
    },
  };
}

/**
 * Chooses the header from both slots: the valid one with the highest generation. A file with
 * no cartridge magic is `NOT_A_CARTRIDGE`; a newer format is `UNSUPPORTED_VERSION`; magic with
 * both slots damaged is `JOURNAL_CORRUPT` at offset 0.
 */
export function chooseFileHeader(slots: readonly Buffer[]): FileHeader {
  const verdicts = slots.map(decodeFileHeaderSlot);
  let best: FileHeader | undefined;
  for (const verdict of verdicts) {
    if (
      verdict.kind === 'valid' &&
      (best === undefined || verdict.header.generation > best.generation)
    ) {
      best = verdict.header;
    }
  }
  if (best !== undefined) return best;
  const unsupported = verdicts.find((verdict) => verdict.kind === 'unsupported');
  if (unsupported !== undefined && unsupported.kind === 'unsupported') {
    throw new CartridgeError(
      'UNSUPPORTED_VERSION',
      `file format version ${unsupported.version} is not supported`,
    );
  }
  if (verdicts.every((verdict) => verdict.kind === 'foreign')) {
    throw new CartridgeError('NOT_A_CARTRIDGE', 'the file does not start with a cartridge header');
  }
  throw new CartridgeError('JOURNAL_CORRUPT', 'both header slots are damaged', { offset: 0 });
}

export function slotOffsetOf(generation: number): number {
  return (generation % HEADER_SLOT_COUNT) * HEADER_SLOT_BYTES;
}
