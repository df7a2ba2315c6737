/**
 * `measurePair` for operations that may return a promise (a peer whose writes are asynchronous
 * only, such as classic-level). Rounds alternate exactly as in `measurePair`; a result that is
 * a number is used as it is, and only a promise is awaited, so a synchronous side runs its whole
 * round without yielding and pays nothing for sharing the loop with an asynchronous one.
 */
import type { Checksum, MeasureOptions, PairTiming, RoundTime } from './measure.js';
import { timingOf } from './measure.js';

export type MaybeAsyncHot = () => number | Promise<number>;

async function timeRound(
  hot: MaybeAsyncHot,
  opsPerRound: number,
  checksum: Checksum,
): Promise<RoundTime> {
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let index = 0; index < opsPerRound; index++) {
    const result = hot();
    checksum.add(typeof result === 'number' ? result : await result);
  }
  const wallNs = Number(process.hrtime.bigint() - start) / opsPerRound;
  const cpu = process.cpuUsage(cpuStart);
  return { wallNs, cpuNs: ((cpu.user + cpu.system) * 1000) / opsPerRound };
}

async function timeOne(hot: MaybeAsyncHot, checksum: Checksum): Promise<number> {
  const start = process.hrtime.bigint();
  const result = hot();
  const value = typeof result === 'number' ? result : await result;
  const elapsed = Number(process.hrtime.bigint() - start);
  checksum.add(value);
  return elapsed;
}

export async function measurePairAsync(
  subject: MaybeAsyncHot,
  baseline: MaybeAsyncHot,
  options: MeasureOptions,
  checksum: Checksum,
): Promise<PairTiming> {
  const subjectRounds: RoundTime[] = [];
  const baselineRounds: RoundTime[] = [];
  const total = options.warmupRounds + options.rounds;
  for (let round = 0; round < total; round++) {
    const warm = round >= options.warmupRounds;
    const order: [MaybeAsyncHot, RoundTime[]][] =
      round % 2 === 0
        ? [
            [baseline, baselineRounds],
            [subject, subjectRounds],
          ]
        : [
            [subject, subjectRounds],
            [baseline, baselineRounds],
          ];
    for (const [hot, sink] of order) {
      const time = await timeRound(hot, options.opsPerRound, checksum);
      if (warm) sink.push(time);
    }
  }
  const subjectSamples: number[] = [];
  const baselineSamples: number[] = [];
  for (let sample = 0; sample < options.latencySamples; sample++) {
    baselineSamples.push(await timeOne(baseline, checksum));
    subjectSamples.push(await timeOne(subject, checksum));
  }
  return {
    subject: timingOf(subjectRounds, subjectSamples, options),
    baseline: timingOf(baselineRounds, baselineSamples, options),
  };
}
