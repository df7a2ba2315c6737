/**
 * Time as the engine reads it. Record times come from the wall clock, read once per commit so
 * every record of a commit carries the same time. Deadlines (how long a commit may stay
 * unsynced) use a monotonic clock, which never jumps when the wall clock is set. Tests inject
 * a clock to make audit, time-travel and durability runs deterministic.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, a non-negative safe integer: record times. */
  now(): number;
  /** Milliseconds from an arbitrary origin, never decreasing: deadlines. */
  nowMs(): number;
}

export const systemClock: Clock = { now: () => Date.now(), nowMs: () => performance.now() };
