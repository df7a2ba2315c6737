import type { KeyObject } from 'node:crypto';
import { CartridgeError, fromSystemError, journalCorrupt } from '../errors.js';
import { RECORD_MAX_BYTES } from '../limits.js';
import { type Codec, decompressBlob, decompressBlobInto } from './compression.js';
import { DecodeBatch } from './decode-batch.js';
import { decodeEvent } from './event-codec.js';
import { recordLeafHash } from '../proof/merkle.js';
import { checksumCrc32c } from './hashing.js';
import type { StorageFile } from './io/storage.js';
import {
  type ErasedBlob,
  type ErasureKind,
  type JournalRecord,
  RecordType,
} from './journal-event.js';
import {
  blobHashOf,
  payloadChecksumOf,
  CHAINED_HEADER_BYTES,
  chainHashOf,
  codecBitsOf,
  decodeFrameHeader,
  FRAME_HEADER_BYTES,
  type FrameHeader,
  type FrameHeaderFault,
  isSealed,
  recordLengthOf,
} from './record-frame.js';
import {
  keyIdOfSealedBody,
  type RecordSealing,
  SEALED_BODY_OVERHEAD_BYTES,
} from './record-sealing.js';

/**
 * Reads records back. Two ways in: `readRecordAt` for one record at a known offset (the read
 * path of file content), and `RecordScanner` for a sequential pass (open, verify). Both check
 * the header checksum before believing a length and the payload hash before believing a byte.
 *
 * A `RawRecord` holds the bytes as stored. In an encrypted cartridge they are sealed: the body
 * and the blob are opened (their tags checked) by `toJournalRecord`, `blobOf` and `blobInto`,
 * given the cartridge's `RecordSealing` (undefined for a plain cartridge: every caller says
 * which, so that no read path can forget the key). Checking a record and its chain hash needs
 * no key.
 */

export interface RawRecord {
  readonly offset: number;
  readonly header: FrameHeader;
  /** Header bytes as stored, for computing the chain hash. */
  readonly headerBytes: Buffer;
  readonly body: Buffer;
  readonly storedBlob: Buffer;
  /**
   * Set when the record's blob is erased (its payload checksum no longer holds): what the
   * `content.erased` record naming it says. Its `storedBlob` is then whatever is on disk (the
   * marker, or part of it after a crash) and must not be used.
   */
  readonly erasure?: KnownErasure;
  /**
   * Set on a sealed record read for its blob whose payload checksum was not checked yet (see
   * `deferSealedChecksum` of `recordInRun`): opening the blob checks its tag, and the checksum
   * only when the tag fails, to tell damage from tampering.
   */
  readonly checksumDeferred?: boolean;
}

/** An erased blob as a `content.erased` record names it, with that record's kind and place. */
export interface KnownErasure {
  readonly erased: ErasedBlob;
  readonly kind: ErasureKind;
  /** The offset of the `content.erased` record. */
  readonly erasureOffset: number;
}

/**
 * Finds the erasure of the record at `offset`, if one is known: the head's index for a read at
 * random, or an `ErasureResolver` that looks ahead for a scan in order.
 */
export type ErasureLookup = (offset: number) => KnownErasure | undefined;

/**
 * Whether a record whose payload checksum failed is one whose blob an erasure names: the same
 * record (sequence, blob length), and a body whose own CRC32C is the one the erasure recorded.
 * The blob's bytes are not looked at: after a crash in the middle of an overwrite they are
 * part content, part marker, and the record already says the content is gone.
 */
export function erasureOf(
  offset: number,
  header: FrameHeader,
  payload: Buffer,
  erasures: ErasureLookup | undefined,
): KnownErasure | undefined {
  const known = erasures?.(offset);
  if (known === undefined) return undefined;
  const { erased } = known;
  if (
    erased.recordSequence !== header.sequence ||
    erased.storedBlobLength !== header.storedBlobLength ||
    checksumCrc32c(payload.subarray(0, header.bodyLength)) !== erased.bodyChecksum
  ) {
    return undefined;
  }
  return known;
}

/** The hash of a record's stored blob as the chain and the Merkle log take it. */
export function storedBlobHashOf(raw: RawRecord): Buffer {
  return raw.erasure?.erased.blobHash ?? blobHashOf(raw.storedBlob);
}

function readFully(file: StorageFile, target: Buffer, position: number): number {
  try {
    return file.read(target, 0, target.length, position);
  } catch (error) {
    throw fromSystemError(error, 'journal read');
  }
}

function faultReason(fault: FrameHeaderFault): string {
  return `record header refused (${fault})`;
}

/**
 * Reads and checks one record at `offset`; any damage is `JOURNAL_CORRUPT` at that offset. A
 * record whose blob `erasures` says is erased is returned with its `erasure` set.
 */
export function readRecordAt(
  file: StorageFile,
  offset: number,
  erasures?: ErasureLookup,
): RawRecord {
  const headerBytes = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  if (readFully(file, headerBytes, offset) !== FRAME_HEADER_BYTES) {
    throw journalCorrupt(offset, 'record header cut short');
  }
  const decoded = decodeFrameHeader(headerBytes);
  if (!decoded.ok) throw journalCorrupt(offset, faultReason(decoded.fault));
  const { header } = decoded;
  const payload = Buffer.allocUnsafe(header.bodyLength + header.storedBlobLength);
  if (readFully(file, payload, offset + FRAME_HEADER_BYTES) !== payload.length) {
    throw journalCorrupt(offset, 'record payload cut short');
  }
  return checkedRecord(offset, header, headerBytes, payload, erasures);
}

/** The record once its payload checks out against its header's checksum (or its erasure's). */
function checkedRecord(
  offset: number,
  header: FrameHeader,
  headerBytes: Buffer,
  payload: Buffer,
  erasures: ErasureLookup | undefined,
  deferSealedChecksum = false,
): RawRecord {
  if (deferSealedChecksum && isSealed(header)) {
    return {
      offset,
      header,
      headerBytes,
      body: payload.subarray(0, header.bodyLength),
      storedBlob: payload.subarray(header.bodyLength),
      checksumDeferred: true,
    };
  }
  const fault = payloadFault(header, payload);
  const body = payload.subarray(0, header.bodyLength);
  const storedBlob = payload.subarray(header.bodyLength);
  // Written out rather than spread: every record read goes through here, often in code V8 has
  // not optimised yet, where spreading an object costs more than building it.
  if (fault === undefined) return { offset, header, headerBytes, body, storedBlob };
  const erasure = erasureOf(offset, header, payload, erasures);
  if (erasure === undefined) throw journalCorrupt(offset, fault);
  return { offset, header, headerBytes, body, storedBlob, erasure };
}

/**
 * Reads and checks the record at `offset` whose whole length the caller already knows (an
 * extent, a branch's child reference): one `pread` instead of the header, then the payload.
 * An unknown (0) or impossible length falls back to `readRecordAt`. With `scratch` (at least
 * `lengthBytes` long) the record is read into it: for a caller that is done with the stored
 * bytes before the scratch is used again (an opened blob is always a fresh buffer).
 */
export function readRecordOfLength(
  file: StorageFile,
  offset: number,
  lengthBytes: number,
  erasures?: ErasureLookup,
  deferSealedChecksum = false,
  scratch?: Buffer,
): RawRecord {
  if (lengthBytes <= 0 || lengthBytes > RECORD_MAX_BYTES) {
    return readRecordAt(file, offset, erasures);
  }
  const run = readRun(file, offset, lengthBytes, scratch);
  return recordInRun(run, offset, offset, erasures, deferSealedChecksum);
}

/**
 * Reads `lengthBytes` of the journal at `offset` in one `pread`: a run of adjacent records
 * that `recordInRun` then checks one by one from the buffer. With `scratch` (at least
 * `lengthBytes` long) the run is read into it instead of a fresh buffer.
 */
export function readRun(
  file: StorageFile,
  offset: number,
  lengthBytes: number,
  scratch?: Buffer,
): Buffer {
  const bytes =
    scratch === undefined ? Buffer.allocUnsafe(lengthBytes) : scratch.subarray(0, lengthBytes);
  if (readFully(file, bytes, offset) !== lengthBytes) {
    throw journalCorrupt(offset, 'record run cut short');
  }
  return bytes;
}

/**
 * Checks the record at `offset` inside a run read from `runOffset`; views, no copies. With
 * `deferSealedChecksum`, for a reader that only wants the blob, a sealed record's payload
 * checksum is left to `blobOf`/`blobInto`: the blob's AEAD tag is a stronger check of the same
 * bytes, so the checksum is computed only when the tag fails (then it tells damage,
 * `JOURNAL_CORRUPT`, from tampering, `DECRYPTION_FAILED`), sparing a pass over every blob read.
 */
export function recordInRun(
  run: Buffer,
  runOffset: number,
  offset: number,
  erasures?: ErasureLookup,
  deferSealedChecksum = false,
): RawRecord {
  const start = offset - runOffset;
  if (start < 0 || start + FRAME_HEADER_BYTES > run.length) {
    throw journalCorrupt(offset, 'record lies outside its run');
  }
  const headerBytes = run.subarray(start, start + FRAME_HEADER_BYTES);
  const decoded = decodeFrameHeader(headerBytes);
  if (!decoded.ok) throw journalCorrupt(offset, faultReason(decoded.fault));
  const { header } = decoded;
  const end = start + recordLengthOf(header);
  if (end > run.length) throw journalCorrupt(offset, 'record payload cut short');
  const payload = run.subarray(start + FRAME_HEADER_BYTES, end);
  return checkedRecord(offset, header, headerBytes, payload, erasures, deferSealedChecksum);
}

/**
 * Checks a payload against its header: the CRC32C of body and stored blob together, which lie
 * back to back in `payload`, so one pass over it gives the same checksum as body then blob.
 */
function payloadFault(header: FrameHeader, payload: Buffer): string | undefined {
  if (checksumCrc32c(payload) !== header.payloadChecksum) {
    return 'record payload checksum mismatch';
  }
  return undefined;
}

/**
 * The chain hash of a checked record, given the chain hash of the record before it (and the
 * hash of its stored blob, when the caller has it already).
 */
export function chainHashOfRecord(
  previousHash: Buffer,
  raw: RawRecord,
  blobHash: Buffer = storedBlobHashOf(raw),
): Buffer {
  return chainHashOf(previousHash, raw.headerBytes, raw.body, blobHash);
}

/**
 * A sealed record in a cartridge opened without a key, or a plain record in an encrypted one
 * (which nothing authenticates, so it is refused rather than believed).
 */
function refuseUnopenable(raw: RawRecord, sealing: RecordSealing | undefined): never {
  if (sealing === undefined) {
    throw new CartridgeError(
      'KEY_REQUIRED',
      `the record at journal offset ${raw.offset} is encrypted and no key was given`,
      { offset: raw.offset },
    );
  }
  throw new CartridgeError(
    'DECRYPTION_FAILED',
    `the record at journal offset ${raw.offset} is not sealed in an encrypted cartridge`,
    { offset: raw.offset },
  );
}

function associatedDataOf(raw: RawRecord): Buffer {
  return raw.headerBytes.subarray(0, CHAINED_HEADER_BYTES);
}

/**
 * The blob of a checked record as stored before sealing (opened if sealed, not decompressed),
 * with its codec and decoded length: what compaction copies into a new record as it is.
 */
export function storedBlobOf(
  raw: RawRecord,
  sealing: RecordSealing | undefined,
): { codec: Codec; stored: Buffer; rawLengthBytes: number } {
  return {
    codec: codecBitsOf(raw.header) as Codec,
    stored: compressedBlobOf(raw, sealing, undefined),
    rawLengthBytes: raw.header.rawBlobLength,
  };
}

/** The error for reading the blob of an erased record. */
export function erasedError(offset: number, kind: ErasureKind): CartridgeError {
  return kind === 'redacted'
    ? new CartridgeError('REDACTED', `the content at journal offset ${offset} was redacted`, {
        offset,
      })
    : new CartridgeError('SHREDDED', `the key of the content at ${offset} was shredded`, {
        offset,
      });
}

/**
 * The blob as compressed: opened if the record is sealed (with `blobKey`, the subject data key
 * that sealed it, when one did).
 */
function compressedBlobOf(
  raw: RawRecord,
  sealing: RecordSealing | undefined,
  blobKey: KeyObject | undefined,
): Buffer {
  if (raw.erasure !== undefined) throw erasedError(raw.offset, raw.erasure.kind);
  const sealed = isSealed(raw.header);
  if (!sealed && sealing === undefined) return raw.storedBlob;
  if (!sealed || sealing === undefined) refuseUnopenable(raw, sealing);
  const associatedData = associatedDataOf(raw);
  if (raw.checksumDeferred !== true) {
    return sealing.openBlob(associatedData, raw.body, raw.storedBlob, raw.offset, blobKey);
  }
  try {
    return sealing.openBlob(associatedData, raw.body, raw.storedBlob, raw.offset, blobKey);
  } catch (error) {
    // Whatever refused the blob (a tag, a key id, a nonce), bytes that fail their checksum
    // are damage, reported as such, exactly as when the checksum is checked first.
    if (payloadChecksumOf(raw.body, raw.storedBlob) !== raw.header.payloadChecksum) {
      throw journalCorrupt(raw.offset, 'record payload checksum mismatch');
    }
    throw error;
  }
}

/**
 * Whether a record is stored in the clear whatever the cartridge: a signed head, which holds
 * nothing secret (hashes, a public key, a signature) and must be readable without the key, so
 * that anyone can check the signature (see `verifyStored`). Its signature authenticates it to
 * whoever holds the public key, as in a plain cartridge; it has no blob. And a
 * `content.erased` record (offsets, lengths, checksums and hashes of stored bytes): whoever
 * checks the chain across an erased blob needs it, key or no key; the chain authenticates it.
 */
export function isAlwaysPlain(type: number): boolean {
  return (
    type === RecordType.HeadSigned ||
    type === RecordType.ContentErased ||
    type === RecordType.JournalCompacted
  );
}

/**
 * The body as encoded: opened if the record is sealed. Data and index page bodies are always
 * empty, so theirs is not opened (replay never needs their keys); their blob's tag, which
 * covers the same header, is checked whenever the blob is read.
 */
function plainBodyOf(raw: RawRecord, sealing: RecordSealing | undefined): Buffer {
  const sealed = isSealed(raw.header);
  if (!sealed && (sealing === undefined || isAlwaysPlain(raw.header.type))) {
    if (raw.header.storedBlobLength !== 0 && sealing !== undefined) refuseUnopenable(raw, sealing);
    return raw.body;
  }
  if (!sealed || sealing === undefined) refuseUnopenable(raw, sealing);
  const { type, bodyLength } = raw.header;
  if (type === RecordType.Data || type === RecordType.IndexPage) {
    if (bodyLength !== SEALED_BODY_OVERHEAD_BYTES) {
      throw journalCorrupt(raw.offset, 'record body of a data or index record is not empty');
    }
    return EMPTY_BUFFER;
  }
  return sealing.openBody(associatedDataOf(raw), raw.body, raw.offset);
}

/** The decoded blob of a checked record (opened first with `sealing` if it is sealed). */
export function blobOf(
  raw: RawRecord,
  sealing: RecordSealing | undefined,
  blobKey?: KeyObject,
): Buffer {
  const codec = codecBitsOf(raw.header) as Codec;
  const compressed = compressedBlobOf(raw, sealing, blobKey);
  if (codec === 0) return compressed;
  try {
    return decompressBlob(codec, compressed, raw.header.rawBlobLength);
  } catch (error) {
    if (error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT') {
      throw journalCorrupt(raw.offset, error.message);
    }
    throw error;
  }
}

/**
 * Writes the decoded blob of a checked record into `target`, which must be exactly its raw
 * length: the read path of a file assembled from many records. With a `batch`, a blob it
 * accepts is only queued there, and `target` holds it once the batch is flushed (the stored
 * bytes must stay unchanged until then).
 */
export function blobInto(
  raw: RawRecord,
  target: Buffer,
  sealing: RecordSealing | undefined,
  blobKey?: KeyObject,
  batch?: DecodeBatch,
): void {
  const codec = codecBitsOf(raw.header) as Codec;
  if (target.length !== raw.header.rawBlobLength) {
    throw journalCorrupt(raw.offset, 'blob length disagrees with its extent');
  }
  const compressed = compressedBlobOf(raw, sealing, blobKey);
  if (codec === 0) {
    target.set(compressed);
    return;
  }
  if (batch !== undefined && DecodeBatch.accepts(codec)) {
    batch.add(compressed, target, raw.offset);
    return;
  }
  try {
    decompressBlobInto(codec, compressed, target);
  } catch (error) {
    if (error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT') {
      throw journalCorrupt(raw.offset, error.message);
    }
    throw error;
  }
}

/** The leaf hash of records read where nothing folds them (see `JournalRecord.leafHash`). */
const NO_LEAF_HASH = Buffer.alloc(0);

/**
 * A record's Merkle leaf hash, over what is stored: the body as on disk (sealed, in an
 * encrypted cartridge) and the hash of the stored blob (`blobHash`, which the chain needs as
 * well). So anyone can recompute it, with or without the key.
 */
export function leafHashOfRaw(raw: RawRecord, blobHash: Buffer): Buffer {
  return recordLeafHash({
    type: raw.header.type,
    sequence: raw.header.sequence,
    offset: raw.offset,
    blobHash,
    body: raw.body,
  });
}

/**
 * The record as projections see it (its body opened first with `sealing` if it is sealed); a
 * malformed body is `JOURNAL_CORRUPT` at its offset. Readers that fold records into the
 * projections pass the record's `leafHash` (see `leafHashOfRaw`); others leave it out.
 */
export function toJournalRecord(
  raw: RawRecord,
  sealing: RecordSealing | undefined,
  leafHash?: Buffer,
): JournalRecord {
  const body = plainBodyOf(raw, sealing);
  let event;
  try {
    event = decodeEvent(raw.header.type, body);
  } catch (error) {
    if (error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT') {
      throw journalCorrupt(raw.offset, error.message);
    }
    throw error;
  }
  if (event.type === 'key.rotated') {
    // The rotation is the first record sealed with the new key, and names it: a rotation
    // sealed with another key, or in a plain journal, was not written by a writer.
    const sealedWith = isSealed(raw.header) ? keyIdOfSealedBody(raw.body).toString('hex') : null;
    if (sealedWith !== event.keyId) {
      throw journalCorrupt(raw.offset, 'key rotation is not sealed with the key it names');
    }
  }
  return {
    offset: raw.offset,
    sequence: raw.header.sequence,
    lengthBytes: recordLengthOf(raw.header),
    rawBlobLength: raw.header.rawBlobLength,
    event,
    leafHash: leafHash ?? NO_LEAF_HASH,
  };
}

export type ScanStep =
  | { readonly kind: 'record'; readonly raw: RawRecord }
  | { readonly kind: 'end'; readonly offset: number }
  | { readonly kind: 'damage'; readonly offset: number; readonly reason: string };

/** A step of `nextLenient`: the body is a view, valid until the next read. */
export type LenientStep =
  | {
      readonly kind: 'record';
      readonly offset: number;
      readonly header: FrameHeader;
      readonly body: Buffer;
      readonly payloadValid: boolean;
    }
  | { readonly kind: 'end'; readonly offset: number }
  | { readonly kind: 'damage'; readonly offset: number; readonly reason: string };

const SCAN_CHUNK_BYTES = 1024 * 1024;
const EMPTY_BUFFER = Buffer.alloc(0);

/**
 * Reads records one after another from `startOffset` to `endOffset`, through a reusable
 * read-ahead buffer so that replay costs a few large reads instead of two per record. It does
 * not judge sequence or chain continuity (the caller does); it reports the first place where
 * the bytes stop being a record.
 */
export class RecordScanner {
  /**
   * Sized at the first read to what the scan can need, up to SCAN_CHUNK_BYTES: a change stream
   * following a live journal scans one small commit at a time, and a megabyte per scan made
   * the garbage collector run flat out.
   */
  private buffer = EMPTY_BUFFER;
  private bufferStart = 0;
  private bufferLength = 0;
  private offset: number;

  constructor(
    private readonly file: StorageFile,
    startOffset: number,
    private readonly endOffset: number,
    /** Resolves records whose payload checksum fails because their blob was erased. */
    private readonly erasures?: ErasureLookup,
  ) {
    this.offset = startOffset;
  }

  get position(): number {
    return this.offset;
  }

  /** Makes bytes [offset, offset + length) available in the buffer; false at end of file. */
  private ensure(offset: number, length: number): boolean {
    if (offset + length > this.endOffset) return false;
    if (offset >= this.bufferStart && offset + length <= this.bufferStart + this.bufferLength)
      return true;
    if (length > this.buffer.length) {
      const scanBytes = Math.min(SCAN_CHUNK_BYTES, this.endOffset - offset);
      this.buffer = Buffer.allocUnsafe(Math.max(length, scanBytes));
    }
    const wanted = Math.min(this.buffer.length, this.endOffset - offset);
    this.bufferStart = offset;
    this.bufferLength = readFully(this.file, this.buffer.subarray(0, wanted), offset);
    return this.bufferLength >= length;
  }

  private view(offset: number, length: number): Buffer {
    const start = offset - this.bufferStart;
    return this.buffer.subarray(start, start + length);
  }

  /**
   * The frame at the scan's offset, its header checked and its bytes in the buffer (the
   * payload a view, valid until the next read), or where the scan ends or meets damage.
   */
  private frame():
    | { readonly kind: 'frame'; readonly header: FrameHeader; readonly payload: Buffer }
    | { readonly kind: 'end'; readonly offset: number }
    | { readonly kind: 'damage'; readonly offset: number; readonly reason: string } {
    const offset = this.offset;
    if (offset === this.endOffset) return { kind: 'end', offset };
    if (!this.ensure(offset, FRAME_HEADER_BYTES)) {
      return { kind: 'damage', offset, reason: 'record header cut short' };
    }
    const decoded = decodeFrameHeader(this.view(offset, FRAME_HEADER_BYTES));
    if (!decoded.ok) return { kind: 'damage', offset, reason: faultReason(decoded.fault) };
    const { header } = decoded;
    const lengthBytes = recordLengthOf(header);
    if (!this.ensure(offset, lengthBytes)) {
      return { kind: 'damage', offset, reason: 'record payload cut short' };
    }
    const payload = this.view(offset + FRAME_HEADER_BYTES, lengthBytes - FRAME_HEADER_BYTES);
    return { kind: 'frame', header, payload };
  }

  next(): ScanStep {
    const offset = this.offset;
    const frame = this.frame();
    if (frame.kind !== 'frame') return frame;
    const { header, payload } = frame;
    const lengthBytes = FRAME_HEADER_BYTES + payload.length;
    const headerBytes = Buffer.from(this.view(offset, FRAME_HEADER_BYTES));
    const fault = payloadFault(header, payload);
    let erasure: KnownErasure | undefined;
    // A good payload's blob stays a view of the buffer (the body is copied: it outlives it).
    let stored = payload;
    if (fault !== undefined) {
      // Copied first: the lookup may read ahead in the same file, never through this buffer.
      stored = Buffer.from(payload);
      erasure = erasureOf(offset, header, stored, this.erasures);
      if (erasure === undefined) return { kind: 'damage', offset, reason: fault };
    }
    this.offset = offset + lengthBytes;
    const bodyBytes = stored.subarray(0, header.bodyLength);
    return {
      kind: 'record',
      raw: {
        offset,
        header,
        headerBytes,
        body: erasure === undefined ? Buffer.from(bodyBytes) : bodyBytes,
        storedBlob: stored.subarray(header.bodyLength),
        ...(erasure === undefined ? {} : { erasure }),
      },
    };
  }

  /**
   * The next record whose header holds, whether or not its payload checks out (`payloadValid`
   * says): how an `ErasureResolver` walks past erased blobs to the records that name them. It
   * stops (`end` or `damage`) only where a header does not hold.
   */
  nextLenient(): LenientStep {
    const offset = this.offset;
    const frame = this.frame();
    if (frame.kind !== 'frame') return frame;
    const { header, payload } = frame;
    this.offset = offset + FRAME_HEADER_BYTES + payload.length;
    return {
      kind: 'record',
      offset,
      header,
      body: payload.subarray(0, header.bodyLength),
      payloadValid: payloadFault(header, payload) === undefined,
    };
  }
}
