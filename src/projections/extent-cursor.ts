import type { Extent } from '../journal/journal-event.js';

/**
 * Walks a list of extents in file order and hands out the pieces covering ascending byte ranges,
 * splitting an extent where a range starts or ends inside it (the piece keeps its record and
 * moves its blob offset).
 */
export class ExtentCursor {
  private index = 0;
  private extentStart: number;

  /** `startOffset`: where the first extent starts in the file (a piece of a map: not 0). */
  constructor(
    private readonly extents: readonly Extent[],
    startOffset = 0,
  ) {
    this.extentStart = startOffset;
  }

  /** The pieces covering `[start, end)`; `start` is at or after the previous call's `end`. */
  slice(start: number, end: number, into: Extent[]): boolean {
    while (this.index < this.extents.length) {
      const extent = this.extents[this.index] as Extent;
      if (this.extentStart + extent.lengthBytes > start) break;
      this.extentStart += extent.lengthBytes;
      this.index++;
    }
    let position = start;
    let index = this.index;
    let extentStart = this.extentStart;
    while (position < end) {
      const extent = this.extents[index];
      if (extent === undefined) return false;
      const from = position - extentStart;
      const to = Math.min(extent.lengthBytes, end - extentStart);
      pushMerged(into, {
        ...extent,
        blobOffset: extent.blobOffset + from,
        lengthBytes: to - from,
      });
      position = extentStart + to;
      if (to === extent.lengthBytes) {
        extentStart += extent.lengthBytes;
        index++;
      }
    }
    return true;
  }
}

export function sameExtent(left: Extent, right: Extent): boolean {
  return (
    left.recordOffset === right.recordOffset &&
    left.recordSequence === right.recordSequence &&
    left.blobOffset === right.blobOffset &&
    left.lengthBytes === right.lengthBytes &&
    left.recordLengthBytes === right.recordLengthBytes
  );
}

/** Adds an extent, joined to the last one when it continues the same record's blob. */
export function pushMerged(extents: Extent[], extent: Extent): void {
  const last = extents[extents.length - 1];
  if (
    last !== undefined &&
    last.recordOffset === extent.recordOffset &&
    last.blobOffset + last.lengthBytes === extent.blobOffset
  ) {
    extents[extents.length - 1] = { ...last, lengthBytes: last.lengthBytes + extent.lengthBytes };
  } else {
    extents.push(extent);
  }
}
