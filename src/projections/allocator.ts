import { assert } from '../assert.js';
import type { Extent, JournalRecord } from '../journal/journal-event.js';
import { PAGE_SIZE_BYTES } from '../limits.js';
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
 */

export const LARGE_SPAN_BYTES = 256 * 1024;

interface RecordSpan {
  readonly offset: number;
  readonly lengthBytes: number;
  referencedBytes: number;
}

function blocksFor(sizeBytes: number): number {
  return Math.ceil(sizeBytes / PAGE_SIZE_BYTES);
}

export class Allocator implements Projection {
  readonly name = 'allocator';
  private usedBlocksValue = 0;
  private liveBytesValue = 0;
  private journalEndValue: number;
  private readonly files = new Map<string, { sizeBytes: number; extents: Extent[] }>();
  private readonly spans = new Map<number, RecordSpan>();
  private pageCounts = new Uint32Array(1024);
  private smallPagesUsed = 0;
  private readonly largeSpans = new Map<number, number>();
  private largePages = 0;
  /** Lengths of records seen, so extents can be charged to the whole record they sit in. */
  private readonly recordLengths = new Map<number, number>();

  constructor(
    private readonly undo: UndoLog,
    readonly capacityBlocks: number | null,
    private readonly journalStartOffset: number,
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

  /** Pages of the journal holding bytes of records that files still refer to. */
  get livePages(): number {
    return this.smallPagesUsed + this.largePages;
  }

  /** Whether `addedBlocks` more blocks fit after `releasedBlocks` are given back. */
  fits(addedBlocks: number, releasedBlocks: number): boolean {
    if (this.capacityBlocks === null) return true;
    return this.usedBlocksValue - releasedBlocks + addedBlocks <= this.capacityBlocks;
  }

  blocksOf(path: string): number {
    const file = this.files.get(path);
    return file === undefined ? 0 : blocksFor(file.sizeBytes);
  }

  evolve(record: JournalRecord): void {
    const endBefore = this.journalEndValue;
    this.journalEndValue = Math.max(endBefore, record.offset + record.lengthBytes);
    if (record.rawBlobLength > 0 && record.event.type !== 'checkpoint') {
      this.recordLengths.set(record.offset, record.lengthBytes);
    }
    this.undo.push(() => {
      this.journalEndValue = endBefore;
      this.recordLengths.delete(record.offset);
    });
    const event = record.event;
    switch (event.type) {
      case 'file.created':
      case 'file.written':
        this.release(event.path);
        this.assign(event.path, event.sizeBytes, event.extents);
        return;
      case 'file.appended':
        this.grow(event.path, event.sizeBytes, event.extents);
        return;
      case 'entry.deleted':
        this.release(event.path);
        return;
      default:
        return;
    }
  }

  private assign(path: string, sizeBytes: number, extents: readonly Extent[]): void {
    this.files.set(path, { sizeBytes, extents: [...extents] });
    this.usedBlocksValue += blocksFor(sizeBytes);
    for (const extent of extents) this.reference(extent, +1);
    this.undo.push(() => {
      this.files.delete(path);
      this.usedBlocksValue -= blocksFor(sizeBytes);
    });
  }

  private grow(path: string, sizeBytes: number, added: readonly Extent[]): void {
    const file = this.files.get(path);
    assert(file !== undefined, 'append to a file the allocator does not know');
    const before = { sizeBytes: file.sizeBytes, extentCount: file.extents.length };
    this.usedBlocksValue += blocksFor(sizeBytes) - blocksFor(file.sizeBytes);
    file.sizeBytes = sizeBytes;
    for (const extent of added) {
      file.extents.push(extent);
      this.reference(extent, +1);
    }
    this.undo.push(() => {
      this.usedBlocksValue -= blocksFor(sizeBytes) - blocksFor(before.sizeBytes);
      file.sizeBytes = before.sizeBytes;
      file.extents.length = before.extentCount;
    });
  }

  private release(path: string): void {
    const file = this.files.get(path);
    if (file === undefined) return;
    this.files.delete(path);
    this.usedBlocksValue -= blocksFor(file.sizeBytes);
    for (const extent of file.extents) this.reference(extent, -1);
    this.undo.push(() => {
      this.files.set(path, file);
      this.usedBlocksValue += blocksFor(file.sizeBytes);
    });
  }

  /** Adds or removes one reference to the record an extent lives in. */
  private reference(extent: Extent, direction: 1 | -1): void {
    const delta = extent.lengthBytes * direction;
    let span = this.spans.get(extent.recordOffset);
    if (span === undefined) {
      const lengthBytes = this.recordLengths.get(extent.recordOffset) ?? extent.lengthBytes;
      span = { offset: extent.recordOffset, lengthBytes, referencedBytes: 0 };
      this.spans.set(span.offset, span);
    }
    const wasLive = span.referencedBytes > 0;
    span.referencedBytes += delta;
    assert(span.referencedBytes >= 0, 'record referenced a negative number of bytes');
    const isLive = span.referencedBytes > 0;
    if (!wasLive && isLive) this.markSpan(span, +1);
    if (wasLive && !isLive) {
      this.markSpan(span, -1);
      this.spans.delete(span.offset);
      // Nothing refers to a dead record again (new content always goes to new records).
      this.recordLengths.delete(span.offset);
    }
    const undoSpan = span;
    this.undo.push(() => this.undoReference(undoSpan, delta, wasLive, isLive));
  }

  private undoReference(span: RecordSpan, delta: number, wasLive: boolean, isLive: boolean): void {
    span.referencedBytes -= delta;
    if (wasLive && !isLive) {
      this.spans.set(span.offset, span);
      this.recordLengths.set(span.offset, span.lengthBytes);
      this.markSpan(span, +1);
    }
    if (!wasLive && isLive) {
      this.markSpan(span, -1);
      this.spans.delete(span.offset);
    }
  }

  private markSpan(span: RecordSpan, direction: 1 | -1): void {
    this.liveBytesValue += direction * span.lengthBytes;
    if (span.lengthBytes >= LARGE_SPAN_BYTES) {
      if (direction > 0) this.largeSpans.set(span.offset, span.lengthBytes);
      else this.largeSpans.delete(span.offset);
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

  /** Counts of the space map, for `stats()`. */
  spaceMap(): { smallSpanPages: number; largeSpanCount: number; largeSpanPages: number } {
    return {
      smallSpanPages: this.smallPagesUsed,
      largeSpanCount: this.largeSpans.size,
      largeSpanPages: this.largePages,
    };
  }

  get journalBytes(): number {
    return this.journalEndValue - this.journalStartOffset;
  }

  /** The journal span of every live record, `[offset, lengthBytes]`, for checkpoints. */
  liveSpans(): [number, number][] {
    return [...this.spans.values()].map((span) => [span.offset, span.lengthBytes]);
  }

  /** Restores span lengths from a checkpoint; call before `loadFile` (open only). */
  loadSpanLengths(spans: readonly (readonly [number, number])[]): void {
    for (const [offset, lengthBytes] of spans) this.recordLengths.set(offset, lengthBytes);
  }

  /** Rebuilds a file's account from a checkpointed catalog (open only; no undo). */
  loadFile(path: string, sizeBytes: number, extents: readonly Extent[]): void {
    this.assign(path, sizeBytes, extents);
  }

  setJournalEnd(offset: number): void {
    this.journalEndValue = offset;
  }
}
