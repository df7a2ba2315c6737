import type { KeyObject } from 'node:crypto';
import { CartridgeError, journalCorrupt } from '../errors.js';
import { type Extent, RecordType } from '../journal/journal-event.js';
import {
  blobInto,
  blobOf,
  erasedError,
  type RawRecord,
  readRecordOfLength,
  readRun,
  recordInRun,
} from '../journal/journal-reader.js';
import { DecodeBatch } from '../journal/decode-batch.js';
import type { JournalWriter } from '../journal/journal-writer.js';
import type { StorageFile } from '../journal/io/storage.js';
import type { RecordSealing } from '../journal/record-sealing.js';
import {
  DATA_RECORD_MAX_BYTES,
  FILE_SIZE_MAX_BYTES,
  READ_RUN_MAX_BYTES,
  RECORD_MAX_BYTES,
} from '../limits.js';
import type { BufferPool } from '../projections/buffer-pool.js';
import type { ErasureIndex } from '../projections/erasure-index.js';
import { ContentAdmission } from './content-admission.js';
import { copiedResult, keepResultRoom, resultBuffer, resultRoom } from './result-buffer.js';

/**
 * Reads file content from its extents. Extents whose records lie back to back in the journal
 * (what a file appended to many times, or written in large chunks, looks like) are read with
 * one `pread` per run of up to READ_RUN_MAX_BYTES, and each record is checked from that buffer;
 * a lone record goes through the buffer pool as before. Records still staged in an open
 * transaction, and small appends committed lately, are read from the writer.
 */

/** The key of a content blob by its record's offset: a subject's data key, or undefined. */
export type BlobKeys = (recordOffset: number) => KeyObject | undefined;

/** The keys of a read's extents, in order; undefined when none has a subject key. */
type BlobKeyList = readonly (KeyObject | undefined)[] | undefined;

/** What the runs of one `readExtents` share. */
interface ExtentsRead {
  readonly extents: readonly Extent[];
  /** The result: each extent's bytes land at their place in it. */
  readonly target: Buffer;
  readonly path: string;
  readonly keys: BlobKeyList;
  readonly scratch: RunScratch;
  /** The read's LZ4 blobs, decoded together once its runs are read. */
  readonly batch: DecodeBatch;
}

/** Record types whose blob holds file content (and may be read through an extent). */
const CONTENT_RECORD_TYPES = new Set<number>([
  RecordType.Data,
  RecordType.FileCreated,
  RecordType.FileWritten,
  RecordType.FileAppended,
  RecordType.ExtentsConsolidated,
  RecordType.FilePatched,
]);

export class ContentReader {
  private readonly sealedScratch = new SealedScratch();

  constructor(
    private readonly file: StorageFile,
    private readonly writer: JournalWriter,
    private readonly pool: BufferPool,
    /** Opens the content of an encrypted cartridge; undefined for a plain one. */
    private readonly sealing: RecordSealing | undefined,
    /**
     * The head's erasures: a read of an erased record is refused whatever state it is read
     * for (a checkout of a moment before the erasure included), before any byte is read.
     */
    private readonly erasures: () => ErasureIndex,
    /** The subject data keys of a path's content (see `SubjectKeys.keysForRead`). */
    private readonly subjectKeys: (path: string) => BlobKeys | undefined,
  ) {
    this.admission = new ContentAdmission(pool.capacityBytes);
  }

  /** Which blobs this reader offers the pool (see `content-admission.ts`). */
  private readonly admission: ContentAdmission;

  /** The bytes of a file of `sizeBytes` whose map is `extents`; `path` names it in errors. */
  read(extents: readonly Extent[], sizeBytes: number, path: string): Buffer {
    checkExtentsCover(extents, sizeBytes, path);
    return this.readExtents(extents, sizeBytes, path);
  }

  /**
   * Bytes `[start, end)` of a file (the caller keeps `start <= end <= sizeBytes`): only the
   * records that hold them are read, so a stream over a large file reads each record once.
   */
  readRange(
    extents: readonly Extent[],
    sizeBytes: number,
    path: string,
    start: number,
    end: number,
  ): Buffer {
    checkExtentsCover(extents, sizeBytes, path);
    const wanted: Extent[] = [];
    let extentStart = 0;
    for (const extent of extents) {
      const extentEnd = extentStart + extent.lengthBytes;
      if (extentEnd > start && extentStart < end) {
        const skipBytes = Math.max(0, start - extentStart);
        wanted.push({
          ...extent,
          blobOffset: extent.blobOffset + skipBytes,
          lengthBytes: Math.min(extentEnd, end) - extentStart - skipBytes,
        });
      }
      if (extentEnd >= end) break;
      extentStart = extentEnd;
    }
    return this.readExtents(wanted, end - start, path);
  }

  /**
   * `REDACTED` when a redaction named the version (its record's offset) whose content a read
   * is about to return, whatever state the read is for.
   */
  refuseRedactedVersion(versionOffset: number, path: string): void {
    if (!this.erasures().isVersionRedacted(versionOffset)) return;
    throw new CartridgeError('REDACTED', `this version of ${path} was redacted`, {
      path,
      offset: versionOffset,
    });
  }

  /** `REDACTED` or `SHREDDED` when an extent's record was erased. */
  private refuseErased(extents: readonly Extent[]): void {
    const erasures = this.erasures();
    if (!erasures.hasErasures()) return;
    for (const extent of extents) {
      const erasure = erasures.lookup(extent.recordOffset);
      if (erasure !== undefined) throw erasedError(extent.recordOffset, erasure.kind);
    }
  }

  /**
   * The key of each extent's blob, or undefined when no extent has a subject key. Resolved
   * before anything is read, so that shredded content is `SHREDDED` even when a copy of its
   * plaintext is still cached.
   */
  private blobKeysOf(extents: readonly Extent[], path: string): BlobKeyList {
    const keyOf = this.subjectKeys(path);
    if (keyOf === undefined) return undefined;
    return extents.map((extent) => keyOf(extent.recordOffset));
  }

  private readExtents(extents: readonly Extent[], sizeBytes: number, path: string): Buffer {
    this.refuseErased(extents);
    const keys = this.blobKeysOf(extents, path);
    const only = extents.length === 1 ? (extents[0] as Extent) : undefined;
    if (only !== undefined) return this.readLoneExtent(only, sizeBytes, path, keys?.[0]);
    const result = resultBuffer(sizeBytes);
    const read: ExtentsRead = {
      extents,
      target: result,
      path,
      keys,
      scratch: new RunScratch(),
      batch: new DecodeBatch(),
    };
    let position = 0;
    let index = 0;
    while (index < extents.length) {
      const extent = extents[index] as Extent;
      const direct = this.directBlob(extent);
      if (direct !== undefined) {
        position = copyExtent(result, position, direct, extent, path);
        index++;
        continue;
      }
      // The records of a file of many extents are read in runs straight into the result,
      // without filling the pool (a file of one goes through `readLoneExtent`). Their LZ4 blobs
      // wait in `batch`, in the run buffers, which are reused only once it has decoded them.
      if (read.batch.isEmpty) read.scratch.release();
      const runEnd = this.runEndOf(extents, index);
      position = this.readRunInto(read, index, runEnd, position);
      index = runEnd;
    }
    read.batch.flush();
    return result;
  }

  /**
   * A blob available without I/O: staged in the open transaction, appended lately (what
   * consolidation reads), or in the pool.
   */
  private directBlob(extent: Extent): Uint8Array | undefined {
    return this.writerBlob(extent) ?? this.pool.get(extent.recordOffset);
  }

  /** A blob the writer holds: staged, or appended lately. */
  private writerBlob(extent: Extent): Uint8Array | undefined {
    return (
      this.writer.stagedBlob(extent.recordOffset) ??
      this.writer.recentBlob(extent.recordOffset, extent.recordSequence)
    );
  }

  /** The end (exclusive) of the run of extents from `start` whose records are adjacent. */
  private runEndOf(extents: readonly Extent[], start: number): number {
    const first = extents[start] as Extent;
    let end = start + 1;
    let runBytes = first.recordLengthBytes;
    let nextOffset = first.recordOffset + first.recordLengthBytes;
    while (end < extents.length) {
      const next = extents[end] as Extent;
      if (next.recordOffset !== nextOffset) break;
      if (runBytes + next.recordLengthBytes > READ_RUN_MAX_BYTES) break;
      if (this.writerBlob(next) !== undefined) break;
      runBytes += next.recordLengthBytes;
      nextOffset += next.recordLengthBytes;
      end++;
    }
    return end;
  }

  /**
   * A file of one extent: through the pool, as it is likely read again. When the pool does not
   * keep the blob (a pool too small, or none) and it is the whole file, it is the result itself,
   * with no second buffer and no copy: the record's bytes (or, encrypted, its decryption) land
   * straight in what the caller gets.
   */
  private readLoneExtent(
    extent: Extent,
    sizeBytes: number,
    path: string,
    blobKey: KeyObject | undefined,
  ): Buffer {
    const direct = this.directBlob(extent);
    if (direct === undefined) {
      const { blob, owned } = this.loneBlob(extent, blobKey);
      if (owned && extent.blobOffset === 0 && extent.lengthBytes === blob.length) return blob;
      return copiedExtent(blob, extent, sizeBytes, path);
    }
    return copiedExtent(direct, extent, sizeBytes, path);
  }

  /**
   * The blob of a lone extent's record, and whether it is `owned`: a fresh buffer that nothing
   * else holds, which the caller may return as it is.
   */
  private loneBlob(
    extent: Extent,
    blobKey: KeyObject | undefined,
  ): { readonly blob: Buffer; readonly owned: boolean } {
    // The extent knows its record's length: one read instead of header, then payload. A sealed
    // record is read into a buffer kept for the purpose: its stored bytes are dead once opened
    // (the plaintext is a buffer of its own), so a fresh one per read would only cost an
    // allocation and the page faults of touching new memory. A plain record's blob is a view of
    // the bytes read, so they get memory of their own (a buffer, or a room in the result slabs).
    const sealed = this.sealing !== undefined;
    const lengthBytes = extent.recordLengthBytes;
    // Decided before the read, by the larger of the record's length and the extent's end in the
    // blob (the blob is at least that long): a plain record whose blob the pool will not keep is
    // read straight into the slabs results are cut from, and its blob is the caller's, with no
    // buffer of its own and no copy.
    const admitted = this.admission.admits(
      extent.recordOffset,
      Math.max(lengthBytes, extent.blobOffset + extent.lengthBytes),
    );
    const room = sealed
      ? this.sealedScratch.upTo(lengthBytes)
      : admitted
        ? undefined
        : resultRoom(lengthBytes);
    const raw = readRecordOfLength(
      this.file,
      extent.recordOffset,
      lengthBytes,
      undefined,
      true,
      room,
    );
    // A plain record was read into a buffer of its own (or a result's room), a sealed one
    // decrypted into one: the blob is held by nothing else until the pool keeps it, and the
    // caller may have it without a copy when the pool keeps something else (a compact copy) or
    // nothing.
    const blob = checkedBlob(raw, extent, this.sealing, blobKey);
    // The room is kept only when the blob is a view of it (a compressed blob was decoded into a
    // buffer of its own, and the room is free again).
    if (room !== undefined && !sealed && blob.buffer === room.buffer) keepResultRoom(lengthBytes);
    if (!admitted) return { blob, owned: true };
    const kept = compactForPool(blob);
    const pooled = this.pool.set(extent.recordOffset, kept);
    return { blob, owned: !pooled || kept !== blob };
  }

  /**
   * Reads extents `[start, end)` with one `pread` and copies each record's slice. Blobs read
   * this way are not cached: a long log read once must not flush the pool's working set.
   */
  private readRunInto(read: ExtentsRead, start: number, end: number, position: number): number {
    const { extents, target, path, keys, scratch, batch } = read;
    const first = extents[start] as Extent;
    const last = extents[end - 1] as Extent;
    const runLength = last.recordOffset + last.recordLengthBytes - first.recordOffset;
    // The lengths come from the catalog (untrusted bytes): bounded before anything is read.
    if (runLength <= 0 || runLength > Math.max(READ_RUN_MAX_BYTES, RECORD_MAX_BYTES)) {
      throw journalCorrupt(first.recordOffset, `extents of ${path} name an impossible run`);
    }
    const run = readRun(this.file, first.recordOffset, runLength, scratch.take(runLength));
    for (let index = start; index < end; index++) {
      const extent = extents[index] as Extent;
      const raw = recordInRun(run, first.recordOffset, extent.recordOffset, undefined, true);
      checkIdentity(raw, extent);
      const whole = extent.blobOffset === 0 && extent.lengthBytes === raw.header.rawBlobLength;
      if (whole) {
        // Decoded in place: no buffer per record, no second copy.
        if (position + extent.lengthBytes > target.length) {
          throw journalCorrupt(extent.recordOffset, `content of ${path} overruns its size`);
        }
        const into = target.subarray(position, position + extent.lengthBytes);
        blobInto(raw, into, this.sealing, keys?.[index], batch);
        position += extent.lengthBytes;
      } else {
        const blob = blobOf(raw, this.sealing, keys?.[index]);
        position = copyExtent(target, position, blob, extent, path);
      }
    }
    return position;
  }
}

/**
 * The buffer a sealed record read alone is read into, kept across reads. Only ciphertext ever
 * lies in it (its plaintext is opened into a buffer of its own), and it is kept only up to
 * SEALED_SCRATCH_MAX_BYTES: a larger record gets a buffer of its own, so that one large read
 * does not pin its size for the life of the handle.
 */
class SealedScratch {
  private buffer: Buffer | undefined;

  /** A buffer of at least `lengthBytes`, or undefined (read into a fresh one) for a large one. */
  upTo(lengthBytes: number): Buffer | undefined {
    if (lengthBytes > SEALED_SCRATCH_MAX_BYTES) return undefined;
    if (this.buffer === undefined || this.buffer.length < lengthBytes) {
      this.buffer = Buffer.allocUnsafe(Math.min(SEALED_SCRATCH_MAX_BYTES, 2 * lengthBytes));
    }
    return this.buffer;
  }
}

/** The largest sealed record `SealedScratch` keeps a buffer for: a data record and its frame. */
const SEALED_SCRATCH_MAX_BYTES = DATA_RECORD_MAX_BYTES + 4096;

/**
 * The buffers the runs of one read are read into. A log appended one commit at a time is a
 * hundred runs (its consolidated records lie apart in the journal): a fresh buffer for each
 * cost an allocation and the page faults of touching new memory. Runs are laid one after the
 * other while their blobs wait in the read's decode batch; a run that does not fit the current
 * buffer gets a new one of twice the size (the old one lives on in the batch until it is
 * decoded); once the batch is empty, `release` starts again from the front of the largest.
 */
class RunScratch {
  private buffer: Buffer | undefined;
  private usedBytes = 0;

  take(lengthBytes: number): Buffer {
    if (this.buffer === undefined || this.buffer.length - this.usedBytes < lengthBytes) {
      this.buffer = Buffer.allocUnsafe(Math.max(lengthBytes, 2 * (this.buffer?.length ?? 0)));
      this.usedBytes = 0;
    }
    const start = this.usedBytes;
    this.usedBytes += lengthBytes;
    return this.buffer.subarray(start, this.usedBytes);
  }

  release(): void {
    this.usedBytes = 0;
  }
}

/**
 * Size and extents come from the journal: they must agree, within the limit, before anything
 * is allocated by them (a forged size would throw a RangeError or allocate gigabytes).
 */
function checkExtentsCover(extents: readonly Extent[], sizeBytes: number, path: string): void {
  let extentBytes = 0;
  for (const extent of extents) extentBytes += extent.lengthBytes;
  if (extentBytes !== sizeBytes || sizeBytes > FILE_SIZE_MAX_BYTES) {
    throw journalCorrupt(extents[0]?.recordOffset ?? 0, `size of ${path} disagrees`);
  }
}

/** Checks that a record is the one an extent names, and holds content. */
function checkIdentity(raw: RawRecord, extent: Extent): void {
  // A valid record of the wrong identity (a stale or misdirected block) must not pass.
  if (raw.header.sequence !== extent.recordSequence) {
    throw journalCorrupt(extent.recordOffset, 'extent points at another record');
  }
  if (!CONTENT_RECORD_TYPES.has(raw.header.type)) {
    throw journalCorrupt(extent.recordOffset, 'extent points at a record without content');
  }
}

/** The blob of the record an extent names, after checking it is that record. */
function checkedBlob(
  raw: RawRecord,
  extent: Extent,
  sealing: RecordSealing | undefined,
  blobKey: KeyObject | undefined,
): Buffer {
  checkIdentity(raw, extent);
  return blobOf(raw, sealing, blobKey);
}

/** The bytes of a file of one extent, copied out of `blob` into a buffer of their own. */
function copiedExtent(blob: Uint8Array, extent: Extent, sizeBytes: number, path: string): Buffer {
  if (extent.lengthBytes === sizeBytes) {
    checkExtentInBlob(blob, extent, path);
    return copiedResult(extentView(blob, extent));
  }
  const result = resultBuffer(sizeBytes);
  copyExtent(result, 0, blob, extent, path);
  return result;
}

function copyExtent(
  target: Buffer,
  position: number,
  blob: Uint8Array,
  extent: Extent,
  path: string,
): number {
  checkExtentInBlob(blob, extent, path);
  target.set(extentView(blob, extent), position);
  return position + extent.lengthBytes;
}

function checkExtentInBlob(blob: Uint8Array, extent: Extent, path: string): void {
  if (extent.blobOffset + extent.lengthBytes > blob.length) {
    throw journalCorrupt(extent.recordOffset, `content of ${path} lies outside its record`);
  }
}

/** The extent's bytes in `blob`: the whole blob (the common case) without a view of it. */
function extentView(blob: Uint8Array, extent: Extent): Uint8Array {
  return extent.blobOffset === 0 && extent.lengthBytes === blob.length
    ? blob
    : blob.subarray(extent.blobOffset, extent.blobOffset + extent.lengthBytes);
}

/**
 * A blob the pool may keep, holding no more memory than its own bytes. A small record is read
 * into a buffer cut from a shared slab, or a page-sized one, and its blob is a view of that:
 * kept in the pool, the view pins all of it, so a pool charged 100 bytes per small file held
 * kilobytes per file (a million reads of small files grew a process by 2 GiB with a 32 MiB
 * pool). A blob whose backing memory is mostly something else is copied into its own first.
 */
function compactForPool(blob: Buffer): Buffer {
  const wastedBytes = blob.buffer.byteLength - blob.length;
  if (wastedBytes <= POOL_SLACK_BYTES || wastedBytes <= blob.length / 8) return blob;
  const own = Buffer.allocUnsafeSlow(blob.length);
  blob.copy(own);
  return own;
}

/** Bytes a kept blob's backing memory may exceed it by without a copy (a frame and a body). */
const POOL_SLACK_BYTES = 256;
