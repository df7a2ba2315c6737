import { assert } from '../assert.js';
import { journalCorrupt } from '../errors.js';
import type { Extent, JournalRecord } from '../journal/journal-event.js';
import { BLOB_MAX_BYTES, PAGE_SIZE_BYTES } from '../limits.js';
import type { Projection } from './projection.js';
import type { UndoLog } from './undo-log.js';

/**
 * The allocator: the space map of the journal and the capacity account.
 *
 * Capacity is counted the way users think of it: a file of S bytes holds ceil(S / 4 KiB)
 * blocks, and the cartridge refuses (`ENOSPC`) content beyond `capacityBlocks`. The journal
 * itself is append-only, so the space map answers a different question: which 4 KiB pages of
 * the journal still hold bytes some file refers to (live) and which only hold superseded
 * history (dead, reclaimable by compaction). Spans of live records under 256 KiB are counted
 * per page in a dense map (a counting bitmap, since small records share pages); larger spans
 * are kept as extents, so a 1 GiB file costs one entry instead of 262 144 bits.
 *
 * The allocator does not keep its own copy of each file's extents: it is evolved before the
 * catalog, and reads the file's state before the record through `fileBefore`. On a catalog of
 * 100 000 files that halves the memory the two projections take.
 */

export const LARGE_SPAN_BYTES = 256 * 1024;

/** What the allocator needs to know of a file as it was before the record being applied. */
export interface FileExtents {
  readonly sizeBytes: number;
  readonly extents: readonly Extent[];
}

interface RecordSpan {
  readonly offset: number;
  readonly lengthBytes: number;
  referencedBytes: number;
}

function blocksFor(sizeBytes: number): number {
  return Math.ceil(sizeBytes / PAGE_SIZE_BYTES);
}

/**
 * An extent lies inside one decoded blob. A larger one can only come from a forged journal or
 * checkpoint, and would make the byte counts round (and go negative) instead of adding up.
 */
function checkExtent(extent: Extent): void {
  if (extent.blobOffset + extent.lengthBytes > BLOB_MAX_BYTES) {
    throw journalCorrupt(extent.recordOffset, 'extent is larger than a blob');
  }
}

export class Allocator implements Projection {
  readonly name = 'allocator';
  private usedBlocksValue = 0;
  private liveBytesValue = 0;
  private journalEndValue: number;
  /** Records holding content, by offset, while any file refers to them (or just written). */
  private readonly spans = new Map<number, RecordSpan>();
  private pageCounts = new Uint32Array(1024);
  private smallPagesUsed = 0;
  private largePages = 0;

  constructor(
    private readonly undo: UndoLog,
    readonly capacityBlocks: number | null,
    private readonly journalStartOffset: number,
    private readonly fileBefore: (path: string) => FileExtents | undefined,
  ) {
    this.journalEndValue = journalStartOffset;
  }

  get usedBlocks(): number {
    return this.usedBlocksValue;
  }

  /** Journal bytes of records that some file still refers to. */
  get liveBytes(): number {
    return this.liveBytesValue;
  }

  get journalEnd(): number {
    return this.journalEndValue;
  }

  get journalBytes(): number {
    return this.journalEndValue - this.journalStartOffset;
  }

  /** Pages of the journal holding bytes of records that files still refer to. */
  get livePages(): number {
    return this.smallPagesUsed + this.largePages;
  }

  /** Whether `addedBlocks` more blocks fit after `releasedBlocks` are given back. */
  fits(addedBlocks: number, releasedBlocks: number): boolean {
    if (this.capacityBlocks === null) return true;
    return this.usedBlocksValue - releasedBlocks + addedBlocks <= this.capacityBlocks;
  }

  evolve(record: JournalRecord): void {
    const endBefore = this.journalEndValue;
    this.journalEndValue = Math.max(endBefore, record.offset + record.lengthBytes);
    this.undo.push(() => {
      this.journalEndValue = endBefore;
    });
    const event = record.event;
    if (record.rawBlobLength > 0 && event.type !== 'checkpoint') this.openSpan(record);
    switch (event.type) {
      case 'file.created':
      case 'file.written':
        this.release(event.path);
        this.account(0, event.sizeBytes, event.extents);
        return;
      case 'file.appended':
        this.account(this.fileBefore(event.path)?.sizeBytes ?? 0, event.sizeBytes, event.extents);
        return;
      case 'entry.deleted':
        this.release(event.path);
        return;
      default:
        return;
    }
  }

  /** A content record starts as a span nobody refers to yet; its extents follow at once. */
  private openSpan(record: JournalRecord): void {
    const span = { offset: record.offset, lengthBytes: record.lengthBytes, referencedBytes: 0 };
    this.spans.set(span.offset, span);
    this.undo.push(() => this.spans.delete(span.offset));
  }

  /** Charges a file's growth from `sizeBefore` to `sizeAfter` and references new extents. */
  private account(sizeBefore: number, sizeAfter: number, added: readonly Extent[]): void {
    const delta = blocksFor(sizeAfter) - blocksFor(sizeBefore);
    this.usedBlocksValue += delta;
    for (const extent of added) this.reference(extent, +1);
    this.undo.push(() => {
      this.usedBlocksValue -= delta;
    });
  }

  private release(path: string): void {
    const file = this.fileBefore(path);
    if (file === undefined) return;
    const blocks = blocksFor(file.sizeBytes);
    this.usedBlocksValue -= blocks;
    for (const extent of file.extents) this.reference(extent, -1);
    this.undo.push(() => {
      this.usedBlocksValue += blocks;
    });
  }

  /** Adds or removes one reference to the record an extent lives in. */
  private reference(extent: Extent, direction: 1 | -1): void {
    const span = this.spans.get(extent.recordOffset);
    // Records come from untrusted bytes during replay: a dangling extent is corruption.
    if (span === undefined) throw journalCorrupt(extent.recordOffset, 'extent refers to no record');
    checkExtent(extent);
    const delta = extent.lengthBytes * direction;
    const wasLive = span.referencedBytes > 0;
    span.referencedBytes += delta;
    assert(span.referencedBytes >= 0, 'record referenced a negative number of bytes');
    const isLive = span.referencedBytes > 0;
    if (!wasLive && isLive) this.markSpan(span, +1);
    // Nothing refers to a dead record again (new content always goes to new records).
    if (wasLive && !isLive) {
      this.markSpan(span, -1);
      this.spans.delete(span.offset);
    }
    this.undo.push(() => this.undoReference(span, delta, wasLive, isLive));
  }

  private undoReference(span: RecordSpan, delta: number, wasLive: boolean, isLive: boolean): void {
    span.referencedBytes -= delta;
    if (wasLive && !isLive) {
      this.spans.set(span.offset, span);
      this.markSpan(span, +1);
    }
    if (!wasLive && isLive) this.markSpan(span, -1);
  }

  private markSpan(span: RecordSpan, direction: 1 | -1): void {
    this.liveBytesValue += direction * span.lengthBytes;
    if (span.lengthBytes >= LARGE_SPAN_BYTES) {
      this.largePages += direction * blocksFor(span.lengthBytes);
      return;
    }
    const firstPage = Math.floor(span.offset / PAGE_SIZE_BYTES);
    const lastPage = Math.floor((span.offset + span.lengthBytes - 1) / PAGE_SIZE_BYTES);
    this.ensurePages(lastPage + 1);
    for (let page = firstPage; page <= lastPage; page++) {
      const before = this.pageCounts[page] as number;
      const after = before + direction;
      assert(after >= 0, 'page reference count below zero');
      this.pageCounts[page] = after;
      if (before === 0 && after > 0) this.smallPagesUsed++;
      if (before > 0 && after === 0) this.smallPagesUsed--;
    }
  }

  private ensurePages(pageCount: number): void {
    if (pageCount <= this.pageCounts.length) return;
    let length = this.pageCounts.length;
    while (length < pageCount) length *= 2;
    const grown = new Uint32Array(length);
    grown.set(this.pageCounts);
    this.pageCounts = grown;
  }

  /** The journal span of every live record, `[offset, lengthBytes]`, for checkpoints. */
  liveSpans(): [number, number][] {
    const spans: [number, number][] = [];
    for (const span of this.spans.values()) {
      if (span.referencedBytes > 0) spans.push([span.offset, span.lengthBytes]);
    }
    return spans;
  }

  /** Restores the spans of live records from a checkpoint (open only; no undo). */
  loadSpan(offset: number, lengthBytes: number): void {
    this.spans.set(offset, { offset, lengthBytes, referencedBytes: 0 });
  }

  /** Charges a file from a checkpointed catalog; its spans are loaded first (open only). */
  loadFile(sizeBytes: number, extents: readonly Extent[]): void {
    assert(!this.undo.recording, 'checkpoints load outside transactions');
    this.usedBlocksValue += blocksFor(sizeBytes);
    for (const extent of extents) {
      const span = this.spans.get(extent.recordOffset);
      if (span === undefined)
        throw journalCorrupt(extent.recordOffset, 'checkpoint extent dangles');
      checkExtent(extent);
      if (span.referencedBytes === 0) this.markSpan(span, +1);
      span.referencedBytes += extent.lengthBytes;
    }
  }

  setJournalEnd(offset: number): void {
    this.journalEndValue = offset;
  }
}
