import { assert } from '../assert.js';
import { type Clock, systemClock } from '../clock.js';

/**
 * The promise of `durability: 'normal'`: a commit is durable at most `syncIntervalMs` after it
 * returns. A timer alone cannot keep it: a caller that commits in a synchronous loop never lets
 * the event loop run the timer. So each commit also checks the deadline of the oldest commit
 * not yet synced, and syncs inline once it has passed; the timer covers the idle periods.
 */
export class SyncDeadline {
  /** When the oldest commit not yet synced returned, or undefined when all are synced. */
  private oldestUnsyncedAtMs: number | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: Clock = systemClock,
  ) {
    assert(intervalMs > 0, 'the sync interval is positive');
  }

  /** Notes a commit; true when the oldest unsynced commit has waited its interval. */
  committed(): boolean {
    const nowMs = this.clock.nowMs();
    this.oldestUnsyncedAtMs ??= nowMs;
    return nowMs - this.oldestUnsyncedAtMs >= this.intervalMs;
  }

  /** Every commit so far is durable. */
  synced(): void {
    this.oldestUnsyncedAtMs = undefined;
  }
}
