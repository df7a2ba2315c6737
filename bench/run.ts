/**
 * `npm run bench`: runs every workload and prints one `name: value` line per figure, then a
 * checksum line of the work done. `BENCH_SIZE=small|large` (default large); small is the CI
 * smoke run and must stay well under 20 s. What the figures mean: bench/README.md.
 */
import { Checksum, type MeasureOptions, measurePair, median, type PairTiming, sampleReported } from './measure.js';
import { MIB } from './support.js';
import * as durableCommit4k from './workloads/durable-commit-4k.js';
import * as open100k from './workloads/open-100k.js';
import * as read64kWarm from './workloads/read-64k-warm.js';
import * as write64k from './workloads/write-64k.js';

type BenchSize = 'small' | 'large';

interface SizeConfig {
  readonly write: MeasureOptions;
  readonly read: MeasureOptions;
  readonly durable: MeasureOptions;
  readonly openFiles: number;
  readonly openWarmupRounds: number;
  readonly openRounds: number;
}

/**
 * The write workload runs first in the process and needs a long warm-up: with 80 warm-up
 * operations its first figure came out 40-50 % slower than the same workload run again later
 * in the process (JIT tiers, heap and malloc arenas growing into fresh memory).
 */
const SIZES: Record<BenchSize, SizeConfig> = {
  small: {
    write: { warmupRounds: 30, rounds: 15, opsPerRound: 16, latencySamples: 64 },
    read: { warmupRounds: 2, rounds: 9, opsPerRound: 500, latencySamples: 500 },
    durable: { warmupRounds: 10, rounds: 61, opsPerRound: 1, latencySamples: 0 },
    openFiles: 20_000,
    openWarmupRounds: 0,
    openRounds: 1,
  },
  large: {
    write: { warmupRounds: 100, rounds: 61, opsPerRound: 16, latencySamples: 400 },
    read: { warmupRounds: 5, rounds: 31, opsPerRound: 2000, latencySamples: 5000 },
    durable: { warmupRounds: 20, rounds: 301, opsPerRound: 1, latencySamples: 0 },
    openFiles: 100_000,
    openWarmupRounds: 1,
    openRounds: 5,
  },
};

function sizeFromEnvironment(): BenchSize {
  const value = process.env.BENCH_SIZE ?? 'large';
  if (value !== 'small' && value !== 'large') throw new Error(`BENCH_SIZE must be small or large, not ${value}`);
  return value;
}

function print(name: string, value: number | string, digits = 3): void {
  const text = typeof value === 'number' ? value.toFixed(digits) : value;
  console.log(`${name}: ${text}`);
}

const us = (ns: number): number => ns / 1000;

/** Prints a pair's raw figures: median per-op time of rounds, p50 of single ops, CPU time. */
function printPair(prefix: string, timing: PairTiming, withCpu: boolean): void {
  print(`${prefix}_cartridge_us`, us(timing.subject.medianNs), 2);
  print(`${prefix}_baseline_us`, us(timing.baseline.medianNs), 2);
  print(`${prefix}_cartridge_p50_us`, us(timing.subject.p50Ns), 2);
  print(`${prefix}_baseline_p50_us`, us(timing.baseline.p50Ns), 2);
  if (!withCpu) return;
  print(`${prefix}_cpu_ratio`, timing.baseline.medianCpuNs / timing.subject.medianCpuNs);
  print(`${prefix}_cartridge_cpu_us`, us(timing.subject.medianCpuNs), 2);
  print(`${prefix}_baseline_cpu_us`, us(timing.baseline.medianCpuNs), 2);
}

function withTeardown<T extends { teardown: () => void }, R>(prepared: T, body: (prepared: T) => R): R {
  let result: R;
  try {
    result = body(prepared);
  } catch (error) {
    try {
      prepared.teardown();
    } catch {
      // The first error is the one worth reporting.
    }
    throw error;
  }
  prepared.teardown();
  return result;
}

function main(): void {
  const size = sizeFromEnvironment();
  const config = SIZES[size];
  const checksum = new Checksum();
  const started = performance.now();
  print('bench_size', size);

  // 1. 64 KiB writes, durability 'off': higher is better (baseline time / cartridge time).
  for (const compression of ['zstd', 'none'] as const) {
    const prefix = compression === 'zstd' ? 'write_64k' : 'write_64k_none';
    const timing = withTeardown(write64k.setup(compression), (pair) =>
      measurePair(pair.subject, pair.baseline, config.write, checksum),
    );
    print(`${prefix}_ratio`, timing.baseline.medianNs / timing.subject.medianNs);
    printPair(prefix, timing, true);
  }

  // 2. Warm 64 KiB reads from the buffer pool: higher is better.
  {
    const timing = withTeardown(read64kWarm.setup(), (pair) =>
      measurePair(pair.subject, pair.baseline, config.read, checksum),
    );
    print('read_64k_warm_ratio', timing.baseline.medianNs / timing.subject.medianNs);
    printPair('read_64k_warm', timing, true);
  }

  // 3. One durable 4 KiB commit: LOWER is better (cartridge time / baseline time).
  {
    const timing = withTeardown(durableCommit4k.setup(), (pair) =>
      measurePair(pair.subject, pair.baseline, config.durable, checksum),
    );
    print('durable_commit_4k_ratio', timing.subject.medianNs / timing.baseline.medianNs);
    printPair('durable_commit_4k', timing, false);
  }

  // 4. Open of a cartridge with many small files, in fresh child processes.
  {
    const name = `open_${config.openFiles / 1000}k`;
    const reports = withTeardown(open100k.setup(config.openFiles), (prepared) => {
      print(`${name}_setup_ms`, prepared.setupMs, 0);
      print(`${name}_file_mib`, prepared.cartridgeBytes / MIB, 1);
      // Alternate open and readFile children so that both see the same machine conditions.
      const runPair = () => ({ open: prepared.open(), plain: prepared.openPlainNode(), read: prepared.readFile() });
      return sampleReported(runPair, config.openWarmupRounds, config.openRounds);
    });
    for (const { open, plain, read } of reports) {
      for (const report of [open, plain]) {
        checksum.add(report.fileCount);
        checksum.add(report.recordCount);
        checksum.add(report.bytes);
      }
      checksum.add(read.bytes);
    }
    const openMs = median(reports.map((pair) => pair.open.ms));
    const readMs = median(reports.map((pair) => pair.read.ms));
    print(`${name}_ms`, openMs, 1);
    print(`${name}_rss_mib`, median(reports.map((pair) => pair.open.rssMiB)), 1);
    print(`${name}_ratio`, readMs / openMs);
    print(`${name}_readfile_ms`, readMs, 2);
    print(`${name}_heap_used_mib`, median(reports.map((pair) => pair.open.heapUsedMiB)), 1);
    print(`${name}_rss_before_open_mib`, median(reports.map((pair) => pair.open.rssBeforeMiB)), 1);
    print(`${name}_readfile_rss_mib`, median(reports.map((pair) => pair.read.rssMiB)), 1);
    print(`${name}_plain_node_ms`, median(reports.map((pair) => pair.plain.ms)), 1);
    print(`${name}_plain_node_rss_mib`, median(reports.map((pair) => pair.plain.rssMiB)), 1);
    print(`${name}_plain_node_rss_before_open_mib`, median(reports.map((pair) => pair.plain.rssBeforeMiB)), 1);
    print(`${name}_runs`, reports.length, 0);
  }

  print('elapsed_s', (performance.now() - started) / 1000, 1);
  console.log(`checksum: ${checksum.hex} (${checksum.ops} ops)`);
}

main();
