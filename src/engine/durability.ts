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
  private timer: NodeJS.Timeout | undefined;

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
    this.cancel();
  }

  /** Runs `sync` one interval from now, unless a sync happens first (the idle case). */
  schedule(sync: () => void): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      sync();
    }, this.intervalMs);
    // A pending sync must not keep the process alive: close syncs anyway.
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
