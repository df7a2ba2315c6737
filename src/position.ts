/**
 * The identity of a record: where it starts in the journal and its sequence number. Both are
 * needed: an offset alone could name a different record after a cut tail was rewritten, so
 * every reference (extents, index pages, snapshots, tokens) checks the sequence too.
 */
declare const positionBrand: unique symbol;

export interface Position {
  readonly offset: number;
  readonly sequence: number;
  readonly [positionBrand]: true;
}

export function positionOf(offset: number, sequence: number): Position {
  return { offset, sequence } as Position;
}

/** Where the record after a journal tail will be: the tail's end offset and next sequence. */
export function positionAfter(tail: {
  readonly endOffset: number;
  readonly nextSequence: number;
}): Position {
  return positionOf(tail.endOffset, tail.nextSequence);
}
