/**
 * One time per commit, never earlier than the last commit's: a wall clock set back must not
 * make history run backwards, or a checkout by date could not find its commit by search. An
 * injected clock's fraction, negative or non-finite reading is made a whole, valid time here,
 * since records hold counts.
 */
export function commitTimeAfter(nowMs: number, lastCommitAtMs: number): number {
  const wallMs = Number.isFinite(nowMs) && nowMs > 0 ? Math.floor(nowMs) : 0;
  return Math.max(wallMs, lastCommitAtMs);
}
