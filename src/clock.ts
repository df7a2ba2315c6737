/**
 * Time as the engine reads it. Deadlines (how long a commit may stay unsynced) use a
 * monotonic clock, which never jumps when the wall clock is set; record times use the wall
 * clock. One module, so that every deadline reads the same clock.
 */
export interface Clock {
  /** Milliseconds from an arbitrary origin, never decreasing. */
  nowMs(): number;
}

export const monotonicClock: Clock = { nowMs: () => performance.now() };
