/**
 * The timing helper of the benchmarks: warm-up, then N rounds, report the median.
 *
 * A figure always compares Cartridge against a baseline measured in the same run. Rounds of
 * the two alternate (baseline first in even rounds, subject first in odd rounds), so that a
 * noisy neighbour on a shared machine slows both sides alike instead of one of them. A round
 * is timed as a whole (no timer call per operation, so the timer costs nothing in the
 * headline figure); p50 latencies come from a separate pass of individually timed operations.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** One operation of a workload. It returns a number that goes into the checksum, so that the
 * work cannot be optimised away and a run can show it did the work it claims. */
export type Hot = () => number;

export interface MeasureOptions {
  /** Rounds run before timing starts and thrown away (JIT, page cache, pool warm-up). */
  readonly warmupRounds: number;
  readonly rounds: number;
  readonly opsPerRound: number;
  /** Individually timed operations per side, for the p50 latency. */
  readonly latencySamples: number;
}

export interface Timing {
  /** Median over rounds of the mean wall time of one operation in the round, in nanoseconds. */
  readonly medianNs: number;
  /**
   * Median over rounds of the process CPU time (user + system, all threads) per operation, in
   * nanoseconds. Less sensitive than wall time to other tenants of a shared machine; blind to
   * time spent waiting on the disk.
   */
  readonly medianCpuNs: number;
  /** Median of individually timed operations, in nanoseconds. */
  readonly p50Ns: number;
  /** Mean wall time per operation of every timed round, in nanoseconds, in run order. */
  readonly roundNs: readonly number[];
}

export interface PairTiming {
  readonly subject: Timing;
  readonly baseline: Timing;
}

/** FNV-1a style fold of every value the hot closures return, plus a count of operations. */
export class Checksum {
  private value = 0x811c9dc5;
  private opCount = 0;

  add(result: number): void {
    // Fold the low 32 bits and the high bits of safe integers; anything else by its bits.
    const low = Number.isSafeInteger(result) ? result % 2 ** 32 : Math.round(result * 1000) % 2 ** 32;
    const high = Number.isSafeInteger(result) ? Math.floor(result / 2 ** 32) : 0;
    this.value = Math.imul(this.value ^ (low >>> 0), 0x01000193) >>> 0;
    this.value = Math.imul(this.value ^ (high >>> 0), 0x01000193) >>> 0;
    this.opCount++;
  }

  get ops(): number {
    return this.opCount;
  }

  get hex(): string {
    return this.value.toString(16).padStart(8, '0');
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export interface RoundTime {
  readonly wallNs: number;
  readonly cpuNs: number;
}

function timeRound(hot: Hot, opsPerRound: number, checksum: Checksum): RoundTime {
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let index = 0; index < opsPerRound; index++) checksum.add(hot());
  const wallNs = Number(process.hrtime.bigint() - start) / opsPerRound;
  const cpu = process.cpuUsage(cpuStart);
  return { wallNs, cpuNs: ((cpu.user + cpu.system) * 1000) / opsPerRound };
}

function timeOne(hot: Hot, checksum: Checksum): number {
  const start = process.hrtime.bigint();
  const result = hot();
  const elapsed = Number(process.hrtime.bigint() - start);
  checksum.add(result);
  return elapsed;
}

/**
 * Measures `subject` against `baseline`, alternating their rounds. With one operation per
 * round and no latency samples, the rounds are themselves single-operation timings and give
 * the p50 (the right shape for operations that wait on the disk, where a round mean would
 * let one slow fsync move the whole round).
 */
export function measurePair(subject: Hot, baseline: Hot, options: MeasureOptions, checksum: Checksum): PairTiming {
  const subjectRounds: RoundTime[] = [];
  const baselineRounds: RoundTime[] = [];
  const total = options.warmupRounds + options.rounds;
  for (let round = 0; round < total; round++) {
    const warm = round >= options.warmupRounds;
    const order: [Hot, RoundTime[]][] =
      round % 2 === 0 ? [[baseline, baselineRounds], [subject, subjectRounds]] : [[subject, subjectRounds], [baseline, baselineRounds]];
    for (const [hot, sink] of order) {
      const time = timeRound(hot, options.opsPerRound, checksum);
      if (warm) sink.push(time);
    }
  }
  const subjectSamples: number[] = [];
  const baselineSamples: number[] = [];
  for (let sample = 0; sample < options.latencySamples; sample++) {
    baselineSamples.push(timeOne(baseline, checksum));
    subjectSamples.push(timeOne(subject, checksum));
  }
  return {
    subject: timingOf(subjectRounds, subjectSamples, options),
    baseline: timingOf(baselineRounds, baselineSamples, options),
  };
}

/**
 * One side's figures from its timed rounds and latency samples (rounds of one operation are
 * their own latency samples when none were taken apart). Shared with `measure-async.ts`.
 */
export function timingOf(rounds: RoundTime[], samples: number[], options: MeasureOptions): Timing {
  const wall = rounds.map((round) => round.wallNs);
  const latencies = samples.length > 0 ? samples : options.opsPerRound === 1 ? wall : [];
  return {
    medianNs: median(wall),
    medianCpuNs: median(rounds.map((round) => round.cpuNs)),
    p50Ns: latencies.length > 0 ? median(latencies) : Number.NaN,
    roundNs: wall,
  };
}

/**
 * For work that times itself (a child process reporting its own figures): warm-up runs, then
 * `rounds` runs, each returning its report; the caller takes medians of the fields it needs.
 */
export function sampleReported<T>(run: () => T, warmupRounds: number, rounds: number): T[] {
  for (let round = 0; round < warmupRounds; round++) run();
  const reports: T[] = [];
  for (let round = 0; round < rounds; round++) reports.push(run());
  return reports;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mean of nothing');
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/** Thrown when a workload runs past its time budget; printed as the error code `TIME_BUDGET`. */
export class BudgetExceededError extends Error {
  readonly code = 'TIME_BUDGET';

  constructor(label: string, budgetMs: number) {
    super(`${label} ran past its time budget of ${Math.round(budgetMs / 1000)} s`);
    this.name = 'BudgetExceededError';
  }
}

/**
 * The time budget of one workload. Long loops call `check()` between operations, so that a
 * workload that today's engine makes very slow (or that would run for hours) stops with a
 * reported `TIME_BUDGET` miss instead of holding up the whole run.
 */
export class Deadline {
  private readonly endMs: number;

  constructor(
    readonly label: string,
    readonly budgetMs: number,
  ) {
    this.endMs = performance.now() + budgetMs;
  }

  get remainingMs(): number {
    return Math.max(0, this.endMs - performance.now());
  }

  check(): void {
    if (performance.now() > this.endMs) throw new BudgetExceededError(this.label, this.budgetMs);
  }
}

let fullCollection: (() => void) | undefined;

/**
 * A full garbage collection, so that a workload (or a timed phase) does not pay for the garbage
 * an earlier one left: a heap of a million catalog entries or a reopened 2 000 000-append log
 * takes seconds to collect, and without this it was collected in whatever came next (the first
 * tenth of a log phase, for one). The process was not started with `--expose-gc`, so the flag
 * is set at run time and `gc` fetched from a fresh context, where V8 then installs it.
 */
export function collectGarbage(): void {
  if (fullCollection === undefined) {
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
}
