import type { Position } from '../position.js';

/**
 * How far apart automatic checkpoints are. A checkpoint bounds what the next open replays, and
 * replay costs per record far more than per byte: on the reference machine a record of a few
 * hundred bytes took about 7 µs to replay and a MiB of 64 KiB records 0.4 ms. So the interval
 * is counted both ways, and whichever is reached first makes a checkpoint due: the records
 * bound open's replay when records are small, the bytes bound it when they are large.
 */
export interface CheckpointInterval {
  readonly checkpointIntervalBytes: number;
  readonly checkpointIntervalRecords: number;
}

/** Whether the journal at `now` lies a whole interval past `since`, in bytes or in records. */
export function intervalElapsed(
  since: Position,
  now: Position,
  interval: CheckpointInterval,
): boolean {
  return (
    now.offset - since.offset >= interval.checkpointIntervalBytes ||
    now.sequence - since.sequence >= interval.checkpointIntervalRecords
  );
}
