import type { KeyObject } from 'node:crypto';
import { assert } from '../assert.js';
import { CartridgeError, fromSystemError, limitExceeded } from '../errors.js';
import {
  CONSOLIDATED_EXTENT_BYTES,
  SMALL_EXTENT_BYTES,
  TRANSACTION_RECORDS_MAX,
} from '../limits.js';
import { type Codec, type CompressionEffort, compressBlob } from './compression.js';
import { JournalReservation, type ReservationPolicy } from './journal-reservation.js';
import { encodeEvent, recordTypeOf } from './event-codec.js';
import { recordLeafHash } from '../proof/merkle.js';
import { checksumCrc32c, HASH_SIZE_BYTES } from './hashing.js';
import type { StorageFile } from './io/storage.js';
import { type JournalEvent, type JournalRecord, RecordType } from './journal-event.js';
import { isAlwaysPlain } from './journal-reader.js';
import {
  blobHashOf,
  CHAINED_HEADER_BYTES,
  chainHashOf,
  encodeFrameHeader,
  FLAG_COMMIT,
  FLAG_PRIOR_SYNCED,
  FLAG_SEALED,
  FRAME_HEADER_BYTES,
  type FrameHeader,
  linkOf,
  payloadChecksumOf,
} from './record-frame.js';
import {
  type RecordSealing,
  SEALED_BODY_OVERHEAD_BYTES,
  type SealedPayload,
  sealedBlobLengthOf,
} from './record-sealing.js';
import { hashPieces } from './streaming-hash.js';

/**
 * Appends records to the journal. Records are staged first (body encoded, blob compressed and
 * hashed, offset and sequence assigned) and written together by `commit()`; the last record of
 * a commit carries the commit flag, so recovery can tell a complete commit from a torn one.
 * Frame headers are encoded at commit time because the commit flag and the chain hashes are
 * only known then.
 *
 * In an encrypted cartridge, records are sealed at commit time too: the frame header is the
 * associated data, and its link and flags are only known then. Sealed lengths are known at
 * staging (sealing adds a fixed overhead), so offsets are assigned as before.
 */

/**
 * A blob already compressed as a record stores it (before any sealing), with its codec and its
 * decoded length: compaction copies content records this way instead of decoding and
 * compressing them again. Nothing reads such a blob back from the writer (it keeps no copy
 * for staged or recent reads).
 */
export interface CompressedBlob {
  readonly codec: Codec;
  readonly stored: Uint8Array;
  readonly rawLengthBytes: number;
}

/** The position of the journal's end and the chain at that point. */
export interface JournalTail {
  readonly endOffset: number;
  readonly nextSequence: number;
  readonly lastHash: Buffer;
}

interface StagedRecord {
  readonly record: JournalRecord;
  readonly type: number;
  readonly codec: Codec;
  readonly body: Buffer;
  readonly storedBlob: Uint8Array;
  /** The blob as given; undefined for one staged already compressed (see `CompressedBlob`). */
  readonly rawBlob: Uint8Array | undefined;
  readonly rawBlobLength: number;
  /** The hash of the stored blob; unused for a sealed record (`sealed` holds its hash). */
  readonly blobHash: Buffer;
  /** What seals this record: the writer's sealing, or undefined (a plain or signed head). */
  readonly sealing: RecordSealing | undefined;
  /** The subject data key that seals the blob, when the content belongs to a subject. */
  readonly blobKey: KeyObject | undefined;
  /**
   * The record sealed for the header it was last framed with. A checkpoint computes the chain
   * hash of its staged pages before the commit frames them again with the same headers: the
   * sealed bytes must be the same both times, so they are kept rather than sealed again (which
   * would draw another nonce and give another chain hash).
   */
  sealed: SealedFrame | undefined;
}

/** A frame header whose checksum a sealed record fills in once its sealed bytes exist. */
type WritableFrameHeader = { -readonly [Field in keyof FrameHeader]: FrameHeader[Field] };

interface SealedFrame extends SealedPayload {
  readonly associatedData: Buffer;
  readonly blobHash: Buffer;
}

/**
 * A staged record framed for writing: its header and its bytes as stored. A sealed record's
 * blob is in two pieces, written back to back: `blob` (the ciphertext) and `blobTag`.
 */
interface FramedRecord {
  readonly header: Buffer;
  readonly body: Uint8Array;
  readonly blob: Uint8Array;
  readonly blobTag?: Buffer;
  readonly blobHash: Buffer;
}

/**
 * Appended blobs below this size are kept after their commit (see `recentBlob`): they are the
 * small extents that consolidation rewrites. Larger ones never join a run.
 */
const RECENT_BLOB_MAX_BYTES = SMALL_EXTENT_BYTES;
/** The bytes of recent blobs kept: a consolidation step, twice over. */
const RECENT_BLOBS_MAX_BYTES = 2 * CONSOLIDATED_EXTENT_BYTES;
/** The eviction queue drops the offsets it has passed once they are this many and half of it. */
const RECENT_ORDER_COMPACT_AT = 1024;

interface RecentBlob {
  readonly sequence: number;
  readonly blob: Buffer;
}

/** Writes are cut into calls of at most this many buffers (below IOV_MAX) ... */
const WRITE_BUFFERS_MAX = 512;
/** ... and about this many bytes, so one huge commit does not need one huge iovec. */
const WRITE_BATCH_BYTES = 8 * 1024 * 1024;

export class JournalWriter {
  private tail: JournalTail;
  private readonly staged: StagedRecord[] = [];
  private readonly stagedBlobs = new Map<number, Uint8Array>();
  /** Small appended blobs of the last commits, by record offset. */
  private readonly recentBlobs = new Map<number, RecentBlob>();
  private recentBlobsBytes = 0;
  /**
   * The offsets of `recentBlobs` in the order they were kept, oldest at `recentHead`: the
   * queue that eviction takes from. Iterating the map from its start did the same, but a map
   * that is deleted from at the front and added to at the back keeps the deleted entries as
   * holes until it is rehashed, and every commit's eviction walked over up to a thousand of
   * them.
   */
  private recentOrder: number[] = [];
  private recentHead = 0;
  private poisonedBy: CartridgeError | undefined;
  /** The journal end as of the last successful sync (what is known durable). */
  private syncedEnd: number;
  /** Checks, before each commit and sync, that the file is still the one being written. */
  private guard: ((expectedSizeBytes: number) => void) | undefined;
  /** Zeros kept ahead of the journal's end, so durable commits overwrite (see the class). */
  private reservation: JournalReservation | undefined;

  constructor(
    private readonly file: StorageFile,
    tail: JournalTail,
    private readonly codec: Codec,
    syncedEnd: number,
    /** Seals every record (an encrypted cartridge), or undefined. */
    private readonly sealing: RecordSealing | undefined,
  ) {
    assert(tail.lastHash.length === HASH_SIZE_BYTES, 'chain hash has the wrong size');
    this.tail = tail;
    this.syncedEnd = syncedEnd;
  }

  /**
   * Installs the check run before every commit's writes and every sync, given the file length
   * the writer expects. When it throws, nothing is written and the writer is poisoned with its
   * error: acknowledging writes to a file that is no longer ours would lose them silently.
   */
  guardWith(guard: (expectedSizeBytes: number) => void): void {
    this.guard = guard;
  }

  /**
   * From now on keeps zeros written ahead of the journal's end (`JournalReservation`), as
   * `policy` says: for writers whose every commit is synced, and for files whose writes inside
   * them are cheaper than writes that grow them. The file must end at the journal's end.
   */
  reserveAhead(policy: ReservationPolicy): void {
    this.reservation ??= new JournalReservation(this.file, this.tail.endOffset, policy);
  }

  /**
   * Cuts the reserved zeros off the file (at close); the next sync makes that durable. The file
   * is checked first, as a sync would: a cut must not mask a change made under the writer. A
   * cut that fails leaves zeros the next writer's open cuts (recovery's `@zero-tail`).
   */
  releaseReservation(): void {
    if (this.reservation === undefined) return;
    this.runGuard();
    try {
      this.reservation.release(this.tail.endOffset);
    } catch {
      // Harmless zeros stay past the journal's end; the sync that follows is what counts.
    }
  }

  private runGuard(): void {
    if (this.guard === undefined) return;
    try {
      this.guard(this.reservation?.fileEnd(this.tail.endOffset) ?? this.tail.endOffset);
    } catch (error) {
      this.poisonedBy = fromSystemError(error, 'file check');
      throw this.poisonedBy;
    }
  }

  /** The committed end of the journal (staged records not included). */
  get committedTail(): JournalTail {
    return this.tail;
  }

  /**
   * Moves the committed end forward to commits another process wrote and this handle has read
   * (a read-only handle following a writer). Nothing may be staged.
   */
  adoptTail(tail: JournalTail): void {
    assert(this.staged.length === 0, 'a followed journal has nothing staged');
    assert(tail.endOffset >= this.tail.endOffset, 'a followed journal only grows');
    this.tail = tail;
    this.syncedEnd = Math.max(this.syncedEnd, tail.endOffset);
  }

  get stagedCount(): number {
    return this.staged.length;
  }

  get poisoned(): CartridgeError | undefined {
    return this.poisonedBy;
  }

  /** The offset the next staged record will get. */
  nextOffset(): number {
    const last = this.staged[this.staged.length - 1];
    return last === undefined ? this.tail.endOffset : last.record.offset + last.record.lengthBytes;
  }

  /**
   * Stages a record and returns it as the projections will see it. `blob` must not change
   * until the commit is written; the engine copies caller buffers it does not own.
   */
  stage(
    event: JournalEvent,
    blob?: Uint8Array | CompressedBlob,
    effort: CompressionEffort = 'normal',
    blobKey?: KeyObject,
  ): JournalRecord {
    if (this.staged.length >= TRANSACTION_RECORDS_MAX) {
      throw limitExceeded(
        'records in one transaction',
        this.staged.length + 1,
        TRANSACTION_RECORDS_MAX,
      );
    }
    const body = encodeEvent(event);
    const given = blob ?? EMPTY_BLOB;
    const rawBlob = given instanceof Uint8Array ? given : undefined;
    const { codec, stored } =
      rawBlob === undefined ? (given as CompressedBlob) : compressBlob(this.codec, rawBlob, effort);
    const rawBlobLength =
      rawBlob === undefined ? (given as CompressedBlob).rawLengthBytes : rawBlob.length;
    const type = recordTypeOf(event);
    // A signed head is never sealed (see `isAlwaysPlain`): anyone must be able to read it.
    const sealing = isAlwaysPlain(type) ? undefined : this.sealing;
    // A sealed blob's hash is known once it is sealed, at commit time.
    const blobHash = sealing === undefined ? blobHashOf(stored) : EMPTY_HASH;
    const storedLengthBytes =
      sealing === undefined
        ? body.length + stored.length
        : body.length + SEALED_BODY_OVERHEAD_BYTES + sealedBlobLengthOf(stored.length);
    const offset = this.nextOffset();
    const sequence = this.tail.nextSequence + this.staged.length;
    // The Merkle leaf hashes the record as stored. A sealed record's stored bytes exist only
    // once it is sealed, at commit time: until then its leaf is a placeholder, filled in place
    // when the record is sealed, and the record says so (see `MerkleLog.settle`).
    const record: JournalRecord = {
      offset,
      sequence,
      lengthBytes: FRAME_HEADER_BYTES + storedLengthBytes,
      rawBlobLength,
      event,
      leafHash:
        sealing === undefined
          ? recordLeafHash({ type, sequence, offset, blobHash, body })
          : Buffer.alloc(HASH_SIZE_BYTES),
      leafDeferred: sealing !== undefined,
    };
    this.staged.push({
      record,
      type,
      codec,
      body,
      storedBlob: stored,
      rawBlob,
      rawBlobLength,
      blobHash,
      sealing,
      blobKey: sealing === undefined ? undefined : blobKey,
      sealed: undefined,
    });
    if (rawBlob !== undefined && rawBlob.length > 0) this.stagedBlobs.set(offset, rawBlob);
    return record;
  }

  /** The records staged so far, in order (the Merkle log settles their leaves, see `settle`). */
  get stagedRecords(): readonly JournalRecord[] {
    return this.staged.map((staged) => staged.record);
  }

  /** The blob of a staged, not yet written record (reads inside a transaction need it). */
  stagedBlob(offset: number): Uint8Array | undefined {
    return this.stagedBlobs.get(offset);
  }

  /**
   * The blob of a small appended record committed lately, if it is still kept and is the
   * record `sequence` names. Consolidation rewrites a file's run of small appends soon after
   * they were written: reading them back from the file (a `pread` and a CRC32C per record) cost
   * it about as much as compressing them. Committed records change on disk while this writer
   * lives only by an erasure, which forgets the copy first (`forgetBlob`); a failed commit cuts
   * back only its own bytes. So the copy kept here is what a read would return.
   */
  recentBlob(offset: number, sequence: number): Buffer | undefined {
    const recent = this.recentBlobs.get(offset);
    return recent !== undefined && recent.sequence === sequence ? recent.blob : undefined;
  }

  /** Keeps the small appended blobs of a commit that was just written. */
  private keepRecentBlobs(): void {
    for (const staged of this.staged) {
      const raw = staged.rawBlob;
      const length = staged.rawBlobLength;
      if (staged.type !== RecordType.FileAppended || raw === undefined || length === 0) continue;
      if (length >= RECENT_BLOB_MAX_BYTES) continue;
      // An appended blob is the append buffer's own fresh concatenation (`AppendBuffer.take`),
      // which nothing changes afterwards, so it is kept as it is: a copy per commit cost more
      // than the read it saves. Only a small tail cut from a large append is copied, so that
      // the bytes kept stay bounded by what is counted.
      const blob =
        raw.buffer.byteLength <= 2 * RECENT_BLOB_MAX_BYTES
          ? Buffer.from(raw.buffer, raw.byteOffset, length)
          : Buffer.concat([raw]);
      this.recentBlobs.set(staged.record.offset, { sequence: staged.record.sequence, blob });
      this.recentOrder.push(staged.record.offset);
      this.recentBlobsBytes += length;
    }
    const order = this.recentOrder;
    while (this.recentBlobsBytes > RECENT_BLOBS_MAX_BYTES && this.recentHead < order.length) {
      const offset = order[this.recentHead++] as number;
      const recent = this.recentBlobs.get(offset);
      // Forgotten already (its bytes were erased): nothing left to evict.
      if (recent === undefined) continue;
      this.recentBlobs.delete(offset);
      this.recentBlobsBytes -= recent.blob.length;
    }
    if (this.recentHead >= RECENT_ORDER_COMPACT_AT && this.recentHead * 2 >= order.length) {
      this.recentOrder = order.slice(this.recentHead);
      this.recentHead = 0;
    }
  }

  /**
   * Overwrites committed bytes in place: an erasure's marker over a blob (see
   * `erasure-marker.ts`), never anything past the committed end or with records staged. The
   * `content.erased` record naming the bytes is durable before this is called, so a failure
   * leaves the blob part content, part marker, which the record already accounts for; the
   * writer is poisoned all the same, as after any failed write, and reopening finishes it.
   */
  overwriteCommitted(position: number, bytes: Uint8Array): void {
    this.throwIfPoisoned();
    assert(this.staged.length === 0, 'an overwrite with records staged');
    assert(
      position >= 0 && position + bytes.length <= this.tail.endOffset,
      'an overwrite past the committed journal',
    );
    this.runGuard();
    try {
      this.file.write([bytes], position);
    } catch (error) {
      this.poisonedBy = fromSystemError(error, 'erasure write');
      throw this.poisonedBy;
    }
  }

  /** Forgets the copy kept of a record's blob (see `recentBlob`): its bytes were erased. */
  forgetBlob(offset: number): void {
    const recent = this.recentBlobs.get(offset);
    if (recent === undefined) return;
    this.recentBlobs.delete(offset);
    this.recentBlobsBytes -= recent.blob.length;
  }

  /** The sequence number the next staged record will get. */
  nextSequence(): number {
    return this.tail.nextSequence + this.staged.length;
  }

  /** Drops staged records after the first `count` (a savepoint rollback). */
  rollbackTo(count: number): void {
    assert(count >= 0 && count <= this.staged.length, 'rollback beyond the staged records');
    for (const dropped of this.staged.splice(count)) this.stagedBlobs.delete(dropped.record.offset);
  }

  /** The frame header a staged record will have; only the last of a commit has the flag. */
  private headerOf(
    staged: StagedRecord,
    index: number,
    previousHash: Buffer,
    last: boolean,
  ): Buffer {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    // Set when all the journal before the commit has been synced; nothing syncs between
    // staging and committing, so the value is the same whenever it is computed.
    const priorSynced = this.syncedEnd >= this.tail.endOffset ? FLAG_PRIOR_SYNCED : 0;
    encodeFrameHeader(
      {
        type: staged.type,
        flags: staged.codec | priorSynced | (last ? FLAG_COMMIT : 0),
        bodyLength: staged.body.length,
        storedBlobLength: staged.storedBlob.length,
        rawBlobLength: staged.rawBlobLength,
        commitIndex: index,
        sequence: staged.record.sequence,
        link: linkOf(previousHash),
        payloadChecksum: payloadChecksumOf(staged.body, staged.storedBlob),
      },
      header,
    );
    return header;
  }

  /**
   * A staged record of an encrypted cartridge, sealed with its frame header (bytes 0..36, the
   * sealed lengths in it) as associated data; the payload checksum, outside those bytes, is
   * then computed over the sealed bytes.
   */
  private sealedFrameOf(
    sealing: RecordSealing,
    staged: StagedRecord,
    index: number,
    previousHash: Buffer,
    last: boolean,
  ): FramedRecord {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    const priorSynced = this.syncedEnd >= this.tail.endOffset ? FLAG_PRIOR_SYNCED : 0;
    // One object, encoded twice: first for the associated data, then with the checksum of
    // the sealed bytes (object spreads here showed in profiles of sealed writes).
    const fields: WritableFrameHeader = {
      type: staged.type,
      flags: staged.codec | priorSynced | (last ? FLAG_COMMIT : 0) | FLAG_SEALED,
      bodyLength: staged.body.length + SEALED_BODY_OVERHEAD_BYTES,
      storedBlobLength: sealedBlobLengthOf(staged.storedBlob.length),
      rawBlobLength: staged.rawBlobLength,
      commitIndex: index,
      sequence: staged.record.sequence,
      link: linkOf(previousHash),
      payloadChecksum: 0,
    };
    encodeFrameHeader(fields, header);
    const associatedData = header.subarray(0, CHAINED_HEADER_BYTES);
    let sealed = staged.sealed;
    if (sealed === undefined || !sealed.associatedData.equals(associatedData)) {
      const kept = Buffer.from(associatedData);
      const payload = sealing.seal(kept, staged.body, staged.storedBlob, staged.blobKey);
      const blobHash =
        payload.blobTag.length === 0
          ? blobHashOf(payload.blobCiphertext)
          : hashPieces([payload.blobCiphertext, payload.blobTag]);
      sealed = {
        associatedData: kept,
        body: payload.body,
        blobCiphertext: payload.blobCiphertext,
        blobTag: payload.blobTag,
        blobHash,
      };
      staged.sealed = sealed;
      // The leaf hashes the record as stored: filled in now that its stored bytes exist.
      const { record } = staged;
      const leaf = recordLeafHash({
        type: staged.type,
        sequence: record.sequence,
        offset: record.offset,
        blobHash: sealed.blobHash,
        body: sealed.body,
      });
      leaf.copy(record.leafHash);
    }
    fields.payloadChecksum = checksumCrc32c(
      sealed.blobTag,
      payloadChecksumOf(sealed.body, sealed.blobCiphertext),
    );
    encodeFrameHeader(fields, header);
    return {
      header,
      body: sealed.body,
      blob: sealed.blobCiphertext,
      blobTag: sealed.blobTag,
      blobHash: sealed.blobHash,
    };
  }

  /**
   * The chain hash after every record staged so far, none of which will close the commit (more
   * follow): a checkpoint root stores it, so that open resumes the chain from the root alone.
   */
  stagedChainHash(): Buffer {
    let previousHash = this.tail.lastHash;
    this.staged.forEach((staged, index) => {
      const { sealing } = staged;
      if (sealing === undefined) {
        const header = this.headerOf(staged, index, previousHash, false);
        previousHash = chainHashOf(previousHash, header, staged.body, staged.blobHash);
      } else {
        const framed = this.sealedFrameOf(sealing, staged, index, previousHash, false);
        previousHash = chainHashOf(previousHash, framed.header, framed.body, framed.blobHash);
      }
    });
    return previousHash;
  }

  private encodeStaged(): { buffers: Buffer[][]; tail: JournalTail } {
    let previousHash = this.tail.lastHash;
    const batches: Buffer[][] = [[]];
    let batchBytes = 0;
    this.staged.forEach((staged, index) => {
      const { sealing } = staged;
      const last = index === this.staged.length - 1;
      let header: Buffer;
      let body: Uint8Array = staged.body;
      let blob: Uint8Array = staged.storedBlob;
      let blobTag: Buffer | undefined;
      if (sealing === undefined) {
        header = this.headerOf(staged, index, previousHash, last);
        previousHash = chainHashOf(previousHash, header, body, staged.blobHash);
      } else {
        const framed = this.sealedFrameOf(sealing, staged, index, previousHash, last);
        header = framed.header;
        body = framed.body;
        blob = framed.blob;
        blobTag = framed.blobTag;
        previousHash = chainHashOf(previousHash, header, body, framed.blobHash);
      }
      let batch = batches[batches.length - 1] as Buffer[];
      if (batch.length + 4 > WRITE_BUFFERS_MAX || batchBytes >= WRITE_BATCH_BYTES) {
        batch = [];
        batches.push(batch);
        batchBytes = 0;
      }
      batch.push(header);
      if (body.length > 0) batch.push(toBuffer(body));
      if (blob.length > 0) batch.push(toBuffer(blob));
      if (blobTag !== undefined && blobTag.length > 0) batch.push(blobTag);
      batchBytes += staged.record.lengthBytes;
    });
    const tail = {
      endOffset: this.nextOffset(),
      nextSequence: this.tail.nextSequence + this.staged.length,
      lastHash: previousHash,
    };
    return { buffers: batches, tail };
  }

  /**
   * Writes every staged record as one commit and, when `sync` is set, makes it durable. On a
   * write error the file is cut back to the previous end so no partial commit stays behind;
   * if that fails, or a sync fails, the writer is poisoned: the file's state is unknown and
   * only a reopen (which replays) may continue.
   */
  commit(sync: boolean): JournalTail {
    this.throwIfPoisoned();
    assert(this.staged.length > 0, 'commit without staged records');
    this.runGuard();
    const { buffers, tail } = this.encodeStaged();
    // Every record is sealed as it is written: its leaf hash is final.
    for (const staged of this.staged) staged.record.leafDeferred = false;
    const startOffset = this.tail.endOffset;
    this.reserveFor(startOffset, tail.endOffset);
    try {
      let position = startOffset;
      for (const batch of buffers) {
        this.file.write(batch, position);
        for (const buffer of batch) position += buffer.length;
      }
      assert(position === tail.endOffset, 'written bytes disagree with the staged lengths');
    } catch (error) {
      this.discardStaged();
      this.cutBackTo(startOffset, error);
      throw fromSystemError(error, 'journal write');
    }
    this.keepRecentBlobs();
    this.discardStaged();
    this.tail = tail;
    // The file was checked just before this commit's write: a second `stat` microseconds
    // later, before its sync, would ask the same question again.
    if (sync) this.syncFile();
    return tail;
  }

  /** Makes every committed record durable; a failure poisons the writer (fsyncgate). */
  sync(): void {
    this.throwIfPoisoned();
    this.runGuard();
    this.syncFile();
  }

  private syncFile(): void {
    try {
      this.file.sync();
    } catch (error) {
      this.poisonedBy = fromSystemError(error, 'journal sync');
      throw this.poisonedBy;
    }
    this.syncedEnd = this.tail.endOffset;
  }

  discardStaged(): void {
    this.staged.length = 0;
    this.stagedBlobs.clear();
    // No staged record is left to hold a sealed blob: their memory serves the next commit.
    this.sealing?.releaseCommitBuffers();
  }

  private reserveFor(startOffset: number, endOffset: number): void {
    if (this.reservation === undefined) return;
    try {
      this.reservation.reserve(startOffset, endOffset);
    } catch (error) {
      this.discardStaged();
      this.poisonedBy = fromSystemError(error, 'journal reservation');
      throw this.poisonedBy;
    }
  }

  private cutBackTo(offset: number, cause: unknown): void {
    try {
      this.file.truncate(offset);
      this.reservation?.cutTo(offset);
    } catch {
      this.poisonedBy = new CartridgeError('POISONED', 'a failed write could not be undone', {
        cause,
      });
    }
  }

  /**
   * Poisons the writer from outside: the file it writes is no longer the cartridge's (a
   * compaction renamed another over it, then failed), so nothing more may be acknowledged.
   */
  poison(cause: CartridgeError): void {
    this.poisonedBy ??= cause;
  }

  throwIfPoisoned(): void {
    if (this.poisonedBy === undefined) return;
    throw new CartridgeError(
      'POISONED',
      'an earlier I/O failure left the journal in an unknown state; reopen the cartridge',
      {
        cause: this.poisonedBy,
      },
    );
  }
}

const EMPTY_HASH = Buffer.alloc(0);
const EMPTY_BLOB = Buffer.alloc(0);

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
