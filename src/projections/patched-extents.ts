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
      foundStart = extentsCovering(tree, inode, start, oldEnd, record, found);
      let foundEnd = foundStart;
      for (const extent of found) foundEnd += extent.lengthBytes;
      spanStart = foundStart;
      spanEnd = Math.max(end, foundEnd);
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
  const result: PatchedSpan[] = [];
  // Plain loops, no closures: this runs at every SQLite commit.
  for (const span of spans) {
    const old = new ExtentCursor(span.oldExtents, span.startOffset);
    const newExtents: Extent[] = [];
    let position = span.startOffset;
    for (let step = 0; step <= span.rangeIndexes.length; step++) {
      const rangeIndex = span.rangeIndexes[step];
      const keptEnd =
        rangeIndex === undefined
          ? Math.min(span.endOffset, event.sizeBytes)
          : (event.ranges[rangeIndex] as number);
      if (keptEnd > position && !old.slice(position, keptEnd, newExtents)) {
        throw journalCorrupt(record.offset, 'a patch leaves bytes undefined');
      }
      if (rangeIndex === undefined) break;
      const lengthBytes = event.ranges[rangeIndex + 1] as number;
      if (!source.slice(sourcePosition, sourcePosition + lengthBytes, newExtents)) {
        throw journalCorrupt(record.offset, 'a patch is shorter than its ranges');
      }
      sourcePosition += lengthBytes;
      position = keptEnd + lengthBytes;
    }
    result.push({ startOffset: span.startOffset, oldExtents: span.oldExtents, newExtents });
  }
  return result;
}

/**
 * Gathers into `found` the extents covering `[start, end)` of the file `inode`, in order, and
 * returns where the first starts. A patch of whole pages mostly starts where an extent does
 * (earlier patches cut the map at page bounds), so one walk from `start` mostly does; only
 * when no extent starts there does a second walk start from the extent holding `start`.
 */
function extentsCovering(
  tree: PagedTree,
  inode: number,
  start: number,
  end: number,
  record: JournalRecord,
  found: Extent[],
): number {
  const endKey = extentKey(inode, end);
  const startKey = extentKey(inode, start);
  let firstOffset = collectFrom(tree, startKey, endKey, record, found);
  if (firstOffset !== start) {
    found.length = 0;
    const floor = tree.last(extentKey(inode, 0), startKey);
    if (floor === undefined) throw journalCorrupt(record.offset, 'a patch past the extent map');
    firstOffset = collectFrom(tree, floor[0], endKey, record, found);
  }
  let expected = firstOffset;
  for (const extent of found) expected += extent.lengthBytes;
  if (expected < end) throw journalCorrupt(record.offset, 'the extent map is short');
  return firstOffset;
}

/** The extents from `firstKey` up to `endKey`, which must follow each other without a gap. */
function collectFrom(
  tree: PagedTree,
  firstKey: string,
  endKey: string,
  record: JournalRecord,
  found: Extent[],
): number {
  let firstOffset = -1;
  let expected = -1;
  tree.range(firstKey, endKey, (key, value) => {
    const offset = numberAtKeyEnd(key);
    if (firstOffset < 0) firstOffset = expected = offset;
    if (offset !== expected) throw journalCorrupt(record.offset, 'the extent map has a gap');
    const extent = decodeExtent(value);
    found.push(extent);
    expected += extent.lengthBytes;
  });
  return firstOffset;
}
