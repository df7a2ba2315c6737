/**
 * Where time comes from. The engine reads the clock once per commit, so every record of a
 * commit carries the same time; tests inject a clock to make audit and time-travel runs
 * deterministic.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, a non-negative safe integer. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
