import { journalCorrupt } from '../errors.js';
import type { Extent, JournalRecord } from '../journal/journal-event.js';
import { decodeExtent, extentKey } from './catalog-entry.js';
import { ExtentCursor } from './extent-cursor.js';
import { numberAtKeyEnd } from './index/index-values.js';
import type { PagedTree } from './index/paged-tree.js';

/**
 * How a `file.patched` record changes a file's extent map when the map lives under extent keys,
 * reading only the extents the patch touches. A SQLite commit patches a few pages of a database
 * of any size: folding it must cost in proportion to those pages, not to the file (reading the
 * whole map per commit made 1 000 single-row commits into a 2 000-page database 30× slower than
 * better-sqlite3). The result equals what rebuilding the whole map gives: the same pieces,
 * joined the same way (see `pushMerged`), so a replay and a live fold agree key for key.
 */

export type PatchEvent = Extract<JournalRecord['event'], { type: 'file.patched' }>;

/** A stretch of the map a patch rewrites: its old extents and its new ones, both in file order. */
export interface PatchedSpan {
  readonly startOffset: number;
  readonly oldExtents: readonly Extent[];
  readonly newExtents: readonly Extent[];
}

/**
 * Checks what a patch says against the file's size: ranges ascend without overlap inside the
 * new size, every byte past the kept bytes comes from a range, and the content is exactly as
 * long as the ranges. Anything else is a forged record.
 */
export function checkPatchShape(
  record: JournalRecord,
  oldSizeBytes: number,
  event: PatchEvent,
  sources: readonly Extent[],
): void {
  const keptSizeBytes = Math.min(oldSizeBytes, event.sizeBytes);
  let position = 0;
  let rangeBytes = 0;
  for (let index = 0; index < event.ranges.length; index += 2) {
    const fileOffset = event.ranges[index] as number;
    const lengthBytes = event.ranges[index + 1] as number;
    if (lengthBytes === 0 || fileOffset < position || fileOffset + lengthBytes > event.sizeBytes) {
      throw journalCorrupt(record.offset, 'patch ranges out of order');
    }
    if (fileOffset > position && fileOffset > keptSizeBytes) {
      throw journalCorrupt(record.offset, 'a patch leaves bytes undefined');
    }
    position = fileOffset + lengthBytes;
    rangeBytes += lengthBytes;
  }
  if (event.sizeBytes > position && event.sizeBytes > keptSizeBytes) {
    throw journalCorrupt(record.offset, 'a patch leaves bytes undefined');
  }
  let sourceBytes = 0;
  for (const extent of sources) sourceBytes += extent.lengthBytes;
  if (sourceBytes !== rangeBytes) {
    throw journalCorrupt(record.offset, 'a patch and its ranges differ in length');
  }
}

/** A span being gathered: the old extents found so far and the ranges inside it. */
interface OpenSpan {
  startOffset: number;
  endOffset: number;
  /** Where the old extents gathered so far end. */
  oldEndOffset: number;
  readonly oldExtents: Extent[];
  /** Indexes into the event's ranges (step 2). */
  readonly rangeIndexes: number[];
}

/**
 * The spans a patch rewrites in the map of the file `inode` (of `oldSizeBytes`), each reaching
 * from the start of the first extent it touches to the end of the last; spans that touch are
 * one, so that pieces of one record that end up side by side are joined as a full rebuild
 * joins them. Call `checkPatchShape` first.
 */
export function planKeyedPatch(
  tree: PagedTree,
  inode: number,
  oldSizeBytes: number,
  record: JournalRecord,
  event: PatchEvent,
  sources: readonly Extent[],
): PatchedSpan[] {
  const spans: OpenSpan[] = [];
  const rangeCount = event.ranges.length / 2;
  // The ranges, then the cut-off tail when the patch shrinks the file.
  const intervalCount = rangeCount + (event.sizeBytes < oldSizeBytes ? 1 : 0);
  for (let interval = 0; interval < intervalCount; interval++) {
    const isRange = interval < rangeCount;
    const start = isRange ? (event.ranges[interval * 2] as number) : event.sizeBytes;
    const end = isRange ? start + (event.ranges[interval * 2 + 1] as number) : oldSizeBytes;
    const oldEnd = Math.min(end, oldSizeBytes);
    let spanStart = start;
    let spanEnd = end;
    const found: Extent[] = [];
    let foundStart = start;
    if (start < oldEnd) {
      const floor = tree.last(extentKey(inode, 0), extentKey(inode, start + 1));
      if (floor === undefined) throw journalCorrupt(record.offset, 'a patch past the extent map');
      foundStart = numberAtKeyEnd(floor[0]);
      let expected = foundStart;
      tree.range(floor[0], extentKey(inode, oldEnd), (key, value) => {
        if (numberAtKeyEnd(key) !== expected) {
          throw journalCorrupt(record.offset, 'the extent map has a gap');
        }
        const extent = decodeExtent(value);
        found.push(extent);
        expected += extent.lengthBytes;
      });
      if (expected < oldEnd) throw journalCorrupt(record.offset, 'the extent map is short');
      spanStart = foundStart;
      spanEnd = Math.max(end, expected);
    }
    const last = spans[spans.length - 1];
    if (last !== undefined && spanStart <= last.endOffset) {
      // The same extent can hold the end of one range and the start of the next: skip what
      // the span already has.
      let position = foundStart;
      for (const extent of found) {
        if (position >= last.oldEndOffset) {
          last.oldExtents.push(extent);
          last.oldEndOffset = position + extent.lengthBytes;
        }
        position += extent.lengthBytes;
      }
      last.endOffset = Math.max(last.endOffset, spanEnd);
      if (isRange) last.rangeIndexes.push(interval * 2);
    } else {
      let oldEndOffset = foundStart;
      for (const extent of found) oldEndOffset += extent.lengthBytes;
      spans.push({
        startOffset: spanStart,
        endOffset: spanEnd,
        oldEndOffset,
        oldExtents: found,
        rangeIndexes: isRange ? [interval * 2] : [],
      });
    }
  }
  const source = new ExtentCursor(sources);
  let sourcePosition = 0;
  return spans.map((span) => {
    const old = new ExtentCursor(span.oldExtents, span.startOffset);
    const newExtents: Extent[] = [];
    let position = span.startOffset;
    const keep = (end: number): void => {
      if (end <= position) return;
      if (!old.slice(position, end, newExtents)) {
        throw journalCorrupt(record.offset, 'a patch leaves bytes undefined');
      }
    };
    for (const rangeIndex of span.rangeIndexes) {
      const fileOffset = event.ranges[rangeIndex] as number;
      const lengthBytes = event.ranges[rangeIndex + 1] as number;
      keep(fileOffset);
      if (!source.slice(sourcePosition, sourcePosition + lengthBytes, newExtents)) {
        throw journalCorrupt(record.offset, 'a patch is shorter than its ranges');
      }
      sourcePosition += lengthBytes;
      position = fileOffset + lengthBytes;
    }
    keep(Math.min(span.endOffset, event.sizeBytes));
    return { startOffset: span.startOffset, oldExtents: span.oldExtents, newExtents };
  });
}
