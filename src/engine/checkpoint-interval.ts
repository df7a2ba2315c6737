import { CHECKPOINT_RECORD_COUNTED_BYTES_MAX, DIRTY_PAGES_CHECKPOINT } from '../limits.js';
import type { Position } from '../position.js';

/**
 * How far apart automatic checkpoints are. A checkpoint bounds what the next open (and a
 * checkout of a past state) replays, and replay costs per record far more than per byte: on
 * the reference machine a record of a few hundred bytes took about 7 µs to replay, and a MiB of
 * 64 KiB records 0.4 ms (about 25 µs a record). So the interval is counted two ways, and
 * whichever is reached first makes a checkpoint due:
 *
 * - bytes of journal, each record counting for at most CHECKPOINT_RECORD_COUNTED_BYTES_MAX:
 *   counted in full, a run of 64 KiB writes met a 2 MiB interval every 32 writes, and every
 *   such checkpoint wrote the index pages waiting for it (about 35, 0.65 ms) for what 32
 *   records cost to replay (under 1 ms);
 * - records, which bound the replay of many tiny records that the bytes would let grow long.
 */
export interface CheckpointInterval {
  readonly checkpointIntervalBytes: number;
  readonly checkpointIntervalRecords: number;
}

/** Whether the journal at `now` lies a whole interval past `since`. */
function intervalElapsed(
  since: Position,
  now: Position,
  interval: CheckpointInterval,
): boolean {
  const records = now.sequence - since.sequence;
  // Bounded by the records' count, not summed record by record: records under the cap and
  // over it in one interval count for no more than their bytes, and a checkpoint comes no
  // later than the sum would make it.
  const countedBytes = Math.min(
    now.offset - since.offset,
    records * CHECKPOINT_RECORD_COUNTED_BYTES_MAX,
  );
  return (
    countedBytes >= interval.checkpointIntervalBytes ||
    records >= interval.checkpointIntervalRecords
  );
}

/**
 * Whether an automatic checkpoint is due after a commit: the journal lies a whole interval past
 * `since`, or `dirtyPageCount` index pages are dirty (DIRTY_PAGES_CHECKPOINT bounds the index's
 * in-memory overlay). A writer backing off after a failed checkpoint passes 0 pages, so that
 * only the interval makes it try again.
 */
export function checkpointDue(
  since: Position,
  now: Position,
  interval: CheckpointInterval,
  dirtyPageCount: number,
): boolean {
  return intervalElapsed(since, now, interval) || dirtyPageCount >= DIRTY_PAGES_CHECKPOINT;
}
