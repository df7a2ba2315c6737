/**
 * `npm run bench`: runs the workloads and prints one `name: value` line per figure (a figure
 * with a target adds the target and `met` or `missed`), a table of the targets, and a checksum
 * line of the work done. `BENCH_SIZE=small|medium|large` (default large); small is the CI smoke
 * run and must stay under a minute; medium is a tenth of large for the figures that would not
 * fit in the time on an engine that is slow at scale. `BENCH_ONLY=name,name` runs the named
 * workloads only (a name also selects the workloads whose names start with it and a dash).
 * What the figures mean: bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { cpus, tmpdir, totalmem } from 'node:os';
import {
  Checksum,
  collectGarbage,
  Deadline,
  type MeasureOptions,
  measurePair,
  median,
  type PairTiming,
  sampleReported,
} from './measure.js';
import {
  atLeast,
  atMost,
  type BenchSize,
  Report,
  type RunnableWorkload,
  runnable,
  type Target,
  type Workload,
  type WorkloadContext,
} from './report.js';
import { CRC32C_IMPLEMENTATION, HASH_IMPLEMENTATION } from '../src/journal/hashing.js';
import { LZ4_DECODER_IMPLEMENTATION } from '../src/journal/native-lz4.js';
import { MIB, type PreparedPair } from './support.js';
import { Cartridge } from '../src/index.js';
import * as accessAudit from './workloads/access-audit.js';
import * as appendBatchedVsSqlite from './workloads/append-batched-vs-sqlite.js';
import * as auditLog from './workloads/audit-log.js';
import * as changeStream from './workloads/change-stream.js';
import * as checkoutFlatness from './workloads/checkout-flatness.js';
import * as compaction from './workloads/compaction.js';
import * as diff1m from './workloads/diff-1m.js';
import * as databaseVsSqlite from './workloads/database-vs-sqlite.js';
import * as durableCommit4k from './workloads/durable-commit-4k.js';
import * as engramFreeze from './workloads/engram-freeze.js';
import * as encrypted64k from './workloads/encrypted-64k.js';
import * as logDiskBytes from './workloads/log-disk-bytes.js';
import * as logReadCold from './workloads/log-read-cold.js';
import { removeManyFilesFixtures } from './workloads/many-files.js';
import * as open100k from './workloads/open-100k.js';
import * as open1mFlatness from './workloads/open-1m-flatness.js';
import * as open1mRssGrowth from './workloads/open-1m-rss-growth.js';
import * as open1mVsSqlite from './workloads/open-1m-vs-sqlite.js';
import * as catalogRss from './workloads/catalog-rss.js';
import * as machineLimits from './workloads/machine-limits.js';
import * as peersBatchPut from './workloads/peers-batch-put.js';
import * as peersDurablePut from './workloads/peers-durable-put.js';
import * as peersGroupCommit from './workloads/peers-group-commit.js';
import * as peersGet from './workloads/peers-get.js';
import * as peersLargeFiles from './workloads/peers-large-files.js';
import * as peersMemory from './workloads/peers-memory.js';
import * as peersMix from './workloads/peers-mix.js';
import * as peersPut from './workloads/peers-put.js';
import * as read64kWarm from './workloads/read-64k-warm.js';
import * as fsFacade from './workloads/fs-facade.js';
import * as renameSubtree from './workloads/rename-subtree.js';
import * as snapshotCreate from './workloads/snapshot-create.js';
import * as tamperEvidence from './workloads/tamper-evidence.js';
import * as write64k from './workloads/write-64k.js';
import * as writeLatency1m from './workloads/write-latency-1m.js';
import { hashersReady } from '../src/journal/hashing.js';

interface OpenSettings {
  readonly fileCount: number;
  readonly warmupRounds: number;
  readonly rounds: number;
}

/**
 * The write workload runs first in the process and needs a long warm-up: with 80 warm-up
 * operations its first figure came out 40-50 % slower than the same workload run again later
 * in the process (JIT tiers, heap and malloc arenas growing into fresh memory).
 */
const WRITE_SIZES: Record<'small' | 'large', MeasureOptions> = {
  small: { warmupRounds: 30, rounds: 15, opsPerRound: 16, latencySamples: 64 },
  large: { warmupRounds: 100, rounds: 61, opsPerRound: 16, latencySamples: 400 },
};

const READ_SIZES: Record<'small' | 'large', MeasureOptions> = {
  small: { warmupRounds: 2, rounds: 9, opsPerRound: 500, latencySamples: 500 },
  large: { warmupRounds: 5, rounds: 31, opsPerRound: 2000, latencySamples: 5000 },
};

const DURABLE_SIZES: Record<'small' | 'large', MeasureOptions> = {
  small: { warmupRounds: 10, rounds: 61, opsPerRound: 1, latencySamples: 0 },
  large: { warmupRounds: 20, rounds: 301, opsPerRound: 1, latencySamples: 0 },
};

const OPEN_100K_SIZES: Record<'small' | 'large', OpenSettings> = {
  small: { fileCount: 20_000, warmupRounds: 0, rounds: 1 },
  large: { fileCount: 100_000, warmupRounds: 1, rounds: 5 },
};

/** The workloads that have no medium setting run their large one at medium. */
const withMedium = <T>(sizes: { small: T; large: T }): Record<BenchSize, T> => ({
  ...sizes,
  medium: sizes.large,
});

const FAST_BUDGET_MS = { small: 60_000, medium: 300_000, large: 300_000 };

const us = (ns: number): number => ns / 1000;

/** Prints a pair's raw figures: median per-op time of rounds, p50 of single ops, CPU time. */
function printPair(report: Report, prefix: string, timing: PairTiming, withCpu: boolean): void {
  const print = report.line.bind(report);
  print(`${prefix}_cartridge_us`, us(timing.subject.medianNs), 2);
  print(`${prefix}_baseline_us`, us(timing.baseline.medianNs), 2);
  print(`${prefix}_cartridge_p50_us`, us(timing.subject.p50Ns), 2);
  print(`${prefix}_baseline_p50_us`, us(timing.baseline.p50Ns), 2);
  if (!withCpu) return;
  print(`${prefix}_cpu_ratio`, timing.baseline.medianCpuNs / timing.subject.medianCpuNs);
  print(`${prefix}_cartridge_cpu_us`, us(timing.subject.medianCpuNs), 2);
  print(`${prefix}_baseline_cpu_us`, us(timing.baseline.medianCpuNs), 2);
}

function withTeardown<T extends { teardown: () => void }, R>(
  prepared: T,
  body: (prepared: T) => R,
): R {
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

interface PairWorkloadSpec {
  readonly name: string;
  readonly description: string;
  readonly sizes: Record<'small' | 'large', MeasureOptions>;
  readonly figure: string;
  readonly target: Target;
  /** The figure is `cartridge_time / baseline_time` (lower is better) instead of the inverse. */
  readonly lowerIsBetter: boolean;
  readonly withCpu: boolean;
  readonly setup: () => PreparedPair;
}

/** A workload that measures one Cartridge operation against its plain-Node baseline. */
function pairWorkload(spec: PairWorkloadSpec): Workload<MeasureOptions> {
  const prefix = spec.figure.replace(/_ratio$/, '');
  return {
    name: spec.name,
    description: spec.description,
    sizes: withMedium(spec.sizes),
    budgetMs: FAST_BUDGET_MS,
    figures: [{ name: spec.figure, target: spec.target }],
    run: (settings, { report, checksum }) => {
      const timing = withTeardown(spec.setup(), (pair) =>
        measurePair(pair.subject, pair.baseline, settings, checksum),
      );
      const { subject, baseline } = timing;
      report.figure(
        spec.figure,
        spec.lowerIsBetter
          ? subject.medianNs / baseline.medianNs
          : baseline.medianNs / subject.medianNs,
      );
      printPair(report, prefix, timing, spec.withCpu);
    },
  };
}

/** 64 KiB writes, durability 'off': higher is better (baseline time / cartridge time). */
const write64kWorkloads = (['zstd', 'none'] as const).map((compression) =>
  pairWorkload({
    name: compression === 'zstd' ? 'write-64k' : 'write-64k-none',
    description: `64 KiB writeFile, durability off, ${compression}, vs fs.writeSync appends`,
    sizes: WRITE_SIZES,
    figure: compression === 'zstd' ? 'write_64k_ratio' : 'write_64k_none_ratio',
    target: atLeast(0.5),
    lowerIsBetter: false,
    withCpu: true,
    setup: () => write64k.setup(compression),
  }),
);

/** Warm 64 KiB reads from the buffer pool: higher is better. */
const read64kWarmWorkload = pairWorkload({
  name: 'read-64k-warm',
  description: '64 KiB readFile served by the buffer pool vs Buffer.from',
  sizes: READ_SIZES,
  figure: 'read_64k_warm_ratio',
  // Issue 15 raised this target from 0.5 to the 0.9 its table asks for.
  target: atLeast(0.9),
  lowerIsBetter: false,
  withCpu: true,
  setup: read64kWarm.setup,
});

/**
 * The fs facade against the core API it wraps, 4 KiB reads and writes: higher is better
 * (core time / facade time). The issue asks for the figure without a target; 0.8 is ours (the
 * facade may cost a fifth on top of the engine's work, no more).
 */
const fsFacadeWorkloads = (['read', 'write'] as const).map((kind) =>
  pairWorkload({
    name: `fs-facade-${kind}`,
    description: `4 KiB ${kind}s through cart.fs vs the core API`,
    sizes: kind === 'read' ? READ_SIZES : WRITE_SIZES,
    figure: `fs_facade_${kind}_ratio`,
    target: atLeast(0.8),
    lowerIsBetter: false,
    withCpu: true,
    setup: () => fsFacade.setup(kind),
  }),
);

/**
 * Encryption at rest, 64 KiB writes and journal reads, an encrypted cartridge against a plain
 * one (both Cartridge): higher is better (plain time / encrypted time), target 0.8.
 */
const encrypted64kWorkloads = (['aes-256-gcm', 'chacha20-poly1305'] as const).flatMap((cipher) => {
  const short = cipher === 'aes-256-gcm' ? 'aes' : 'chacha';
  return [
    pairWorkload({
      name: `encrypted-write-64k-${short}`,
      description: `64 KiB writeFile, durability off, encrypted with ${cipher} vs plain`,
      sizes: WRITE_SIZES,
      figure: `encrypted_write_64k_${short}_ratio`,
      target: atLeast(0.8),
      lowerIsBetter: false,
      withCpu: true,
      setup: () => encrypted64k.setupWrite(cipher),
    }),
    pairWorkload({
      name: `encrypted-read-64k-${short}`,
      description: `64 KiB readFile from the journal (no pool), encrypted with ${cipher} vs plain`,
      sizes: READ_SIZES,
      figure: `encrypted_read_64k_${short}_ratio`,
      target: atLeast(0.8),
      lowerIsBetter: false,
      withCpu: true,
      setup: () => encrypted64k.setupRead(cipher),
    }),
  ];
});

/** One durable 4 KiB commit: LOWER is better (cartridge time / baseline time). */
const durableCommit4kWorkload = pairWorkload({
  name: 'durable-commit-4k',
  description: 'one 4 KiB writeFile with durability full vs writeSync + fdatasyncSync',
  sizes: DURABLE_SIZES,
  figure: 'durable_commit_4k_ratio',
  target: atMost(1.3),
  lowerIsBetter: true,
  withCpu: false,
  setup: durableCommit4k.setup,
});

/** Open of a cartridge with many small files, in fresh child processes. */
const open100kWorkload: Workload<OpenSettings> = {
  name: 'open-100k',
  description:
    'open + stats() of a 100 000-file cartridge in a fresh child, vs readFileSync of the file',
  sizes: withMedium(OPEN_100K_SIZES),
  budgetMs: FAST_BUDGET_MS,
  figures: [],
  run: (settings, { report, checksum }) => {
    const print = report.line.bind(report);
    const name = `open_${settings.fileCount / 1000}k`;
    const reports = withTeardown(open100k.setup(settings.fileCount), (prepared) => {
      print(`${name}_setup_ms`, prepared.setupMs, 0);
      print(`${name}_file_mib`, prepared.cartridgeBytes / MIB, 1);
      // Alternate open and readFile children so that both see the same machine conditions.
      const runPair = () => ({
        open: prepared.open(),
        plain: prepared.openPlainNode(),
        read: prepared.readFile(),
      });
      return sampleReported(runPair, settings.warmupRounds, settings.rounds);
    });
    for (const { open, plain, read } of reports) {
      for (const child of [open, plain]) {
        checksum.add(child.fileCount);
        checksum.add(child.recordCount);
        checksum.add(child.bytes);
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
    print(
      `${name}_plain_node_rss_before_open_mib`,
      median(reports.map((pair) => pair.plain.rssBeforeMiB)),
      1,
    );
    print(`${name}_runs`, reports.length, 0);
  },
};

/**
 * Every workload, in run order. The 64 KiB writes come first (see WRITE_SIZES); the large
 * catalog figures share one fixture and the log figures share their logs, so each group runs
 * together; the write-latency figure works on a copy of the fixture after the opens.
 */
const WORKLOADS: readonly RunnableWorkload[] = [
  ...write64kWorkloads.map(runnable),
  runnable(read64kWarmWorkload),
  ...encrypted64kWorkloads.map(runnable),
  runnable(durableCommit4kWorkload),
  runnable(open100kWorkload),
  runnable(open1mVsSqlite.workload),
  runnable(open1mFlatness.workload),
  runnable(open1mRssGrowth.workload),
  runnable(writeLatency1m.workload),
  runnable(snapshotCreate.workload),
  runnable(checkoutFlatness.workload),
  runnable(diff1m.workload),
  runnable(changeStream.workload),
  runnable(accessAudit.workload),
  runnable(auditLog.workload),
  runnable(logDiskBytes.workload),
  runnable(logReadCold.workload),
  runnable(appendBatchedVsSqlite.workload),
  runnable(engramFreeze.workload),
  runnable(compaction.workload),
  runnable(tamperEvidence.workload),
  runnable(machineLimits.workload),
  runnable(peersPut.workload),
  runnable(peersBatchPut.workload),
  runnable(peersDurablePut.workload),
  runnable(peersGroupCommit.workload),
  runnable(peersGet.workload),
  runnable(peersMix.workload),
  runnable(peersMemory.workload),
  runnable(peersLargeFiles.workload),
  runnable(catalogRss.workload),
  runnable(databaseVsSqlite.workload),
  runnable(renameSubtree.workload),
  ...fsFacadeWorkloads.map(runnable),
];

function sizeFromEnvironment(): BenchSize {
  const value = process.env.BENCH_SIZE ?? 'large';
  if (value !== 'small' && value !== 'medium' && value !== 'large') {
    throw new Error(`BENCH_SIZE must be small, medium or large, not ${value}`);
  }
  return value;
}

function selectedWorkloads(): readonly RunnableWorkload[] {
  const only = process.env.BENCH_ONLY;
  if (only === undefined || only.trim() === '') return WORKLOADS;
  const names = only
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !WORKLOADS.some((workload) => selects(name, workload)));
  if (unknown.length > 0) {
    const known = WORKLOADS.map((workload) => workload.name).join(', ');
    throw new Error(`BENCH_ONLY names no workload: ${unknown.join(', ')} (known: ${known})`);
  }
  return WORKLOADS.filter((workload) => names.some((name) => selects(name, workload)));
}

function selects(name: string, workload: RunnableWorkload): boolean {
  return workload.name === name || workload.name.startsWith(`${name}-`);
}

/** The file system that holds the scratch directories (`os.tmpdir()`), as `df` names it. */
function fileSystemOf(path: string): string {
  try {
    return (
      execFileSync('df', ['--output=fstype', path], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .pop() ?? 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

function printEnvironment(
  report: Report,
  size: BenchSize,
  workloads: readonly RunnableWorkload[],
): void {
  const processors = cpus();
  report.line('date', new Date().toISOString());
  report.line('cpu', processors[0]?.model ?? 'unknown');
  report.line('cores', processors.length, 0);
  report.line('memory_gib', totalmem() / 1024 ** 3, 1);
  report.line('node', process.version);
  report.line('file_system', `${fileSystemOf(tmpdir())} (os.tmpdir())`);
  report.line(
    'durability',
    'writes off; durable-commit-4k full; opens and logs normal (the default); peers matched ' +
      '(sqlite WAL NORMAL vs cartridge normal, lmdb noSync, level and fs no sync vs off, ' +
      'fsync/FULL/lmdb sync/level sync vs full)',
  );
  // The portable BLAKE3 is about ten times slower than the native one: say which one ran.
  report.line('hash', HASH_IMPLEMENTATION);
  // The CRC32C addon checksums a 64 KiB record about three times faster than the library.
  report.line('crc32c', CRC32C_IMPLEMENTATION);
  report.line('lz4_decoder', LZ4_DECODER_IMPLEMENTATION);
  report.line('bench_size', size);
  report.line('workloads', workloads.map((workload) => workload.name).join(','));
}

/** `npm run bench -- --list`: what each workload measures and its budget at this size. */
function printList(size: BenchSize, workloads: readonly RunnableWorkload[]): void {
  for (const workload of workloads) {
    const budgetS = workload.budgetMs[size] / 1000;
    console.log(`${workload.name}: ${workload.description} (budget ${budgetS} s at ${size})`);
  }
}

async function main(): Promise<number> {
  const size = sizeFromEnvironment();
  const workloads = selectedWorkloads();
  if (process.argv.includes('--list')) {
    printList(size, workloads);
    return 0;
  }
  const checksum = new Checksum();
  const json = process.argv.includes('--json');
  const report = new Report(json);
  const started = performance.now();
  printEnvironment(report, size, workloads);
  try {
    for (const workload of workloads) {
      report.expect(workload.figures);
      const deadline = new Deadline(workload.name, workload.budgetMs[size]);
      const context: WorkloadContext = { report, checksum, deadline };
      collectGarbage();
      const workloadStart = performance.now();
      try {
        await workload.runAt(size, context);
      } catch (error) {
        report.failRemaining(workload.figures, error);
        console.error(`${workload.name} failed:`, error);
      }
      report.line(`${workload.name}_elapsed_s`, (performance.now() - workloadStart) / 1000, 1);
    }
  } finally {
    removeManyFilesFixtures();
  }
  report.line('elapsed_s', (performance.now() - started) / 1000, 1);
  report.line('checksum', `${checksum.hex} (${checksum.ops} ops)`);
  report.printSummary();
  if (json) report.printJson();
  return report.benchFaults === 0 ? 0 : 1;
}

// Fixtures live in scratch directories; remove them even when the run dies of an exception.
process.on('exit', removeManyFilesFixtures);
// SQLite's WebAssembly module loads asynchronously, once, before any workload runs.
await Cartridge.loadSqlite();
await hashersReady;
process.exitCode = await main();
