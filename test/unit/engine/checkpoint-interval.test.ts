import { describe, expect, it } from 'vitest';
import { checkpointDue } from '../../../src/engine/checkpoint-interval.js';
import {
  CHECKPOINT_RECORD_COUNTED_BYTES_MAX,
  DIRTY_PAGES_CHECKPOINT,
} from '../../../src/limits.js';
import { positionOf } from '../../../src/position.js';

/**
 * The rule both the live writer and a journal rewrite use to make an automatic checkpoint: a
 * whole interval of journal (each record counting for at most CHECKPOINT_RECORD_COUNTED_BYTES_MAX
 * bytes), a whole interval of records, or too many dirty index pages.
 */

const INTERVAL = { checkpointIntervalBytes: 64 * 1024, checkpointIntervalRecords: 1000 };
const since = positionOf(8192, 10);

describe('checkpointDue', () => {
  it('counts small records by their bytes', () => {
    // 100 records of 600 bytes: 60 000 bytes, under the interval; 110 are over it.
    expect(checkpointDue(since, positionOf(8192 + 100 * 600, 110), INTERVAL, 0)).toBe(false);
    expect(checkpointDue(since, positionOf(8192 + 110 * 600, 120), INTERVAL, 0)).toBe(true);
  });

  it('counts a large record for no more than the cap', () => {
    const perInterval = INTERVAL.checkpointIntervalBytes / CHECKPOINT_RECORD_COUNTED_BYTES_MAX;
    // Records of 64 KiB: one is a whole interval of bytes, but counts for the cap only.
    const large = 64 * 1024;
    const after = (count: number) => positionOf(8192 + count * large, 10 + count);
    expect(checkpointDue(since, after(perInterval - 1), INTERVAL, 0)).toBe(false);
    expect(checkpointDue(since, after(perInterval), INTERVAL, 0)).toBe(true);
  });

  it('counts tiny records by their number', () => {
    const records = INTERVAL.checkpointIntervalRecords;
    expect(
      checkpointDue(since, positionOf(8192 + (records - 1) * 20, 9 + records), INTERVAL, 0),
    ).toBe(false);
    expect(checkpointDue(since, positionOf(8192 + records * 20, 10 + records), INTERVAL, 0)).toBe(
      true,
    );
  });

  it('is due with too many dirty pages, whatever the interval', () => {
    const now = positionOf(8192 + 100, 11);
    expect(checkpointDue(since, now, INTERVAL, DIRTY_PAGES_CHECKPOINT - 1)).toBe(false);
    expect(checkpointDue(since, now, INTERVAL, DIRTY_PAGES_CHECKPOINT)).toBe(true);
  });
});
