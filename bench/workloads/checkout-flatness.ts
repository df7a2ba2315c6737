import { join } from 'node:path';
import { Cartridge, type CheckoutTarget } from '../../src/index.js';
import { type Deadline, type MeasureOptions, measurePair, type PairTiming } from '../measure.js';
import { atMost, type Workload, type WorkloadContext } from '../report.js';
import {
  incompressibleBuffers,
  KIB,
  MIB,
  scratchDirectory,
  seededIndexes,
  smallFilePath,
} from '../support.js';
import { OPEN_SIZES } from './open-samples.js';
import {
  closeAll,
  openFixtureCopy,
  rangeText,
  REFERENCE_FILE_COUNT,
} from './time-travel-support.js';

/**
 * Whether `checkout` stays flat in the length of history and in the size of the catalog. A
 * checkout starts from the nearest checkpoint root at or before its target and replays at most
 * one checkpoint interval, so neither should change its cost. Each timed operation is one
 * `checkout` and one `readFile` of the file written last before the target, with the default
 * checkpoint interval, and targets that all lie after a root (so that every checkout starts
 * from an index root, as in a cartridge that has lived for a while).
 *
 * - History: two cartridges built alike (1 000 files, then commits that each rewrite one of
 *   them with 1 KiB of incompressible bytes), one with a long history and one with a short
 *   one; targets are snapshot names spread evenly over each history. Figure: median checkout
 *   time in the long history / in the short one.
 * - Catalog: a copy of the many-files fixture (1 000 000 files at large) and of the 1 000-file
 *   one, each given the same commits of 1 KiB rewrites of random existing files after it was
 *   opened; targets are journal offsets (`head` read at moments spread over those commits).
 *   Figure: median checkout time in the large catalog / in the small one.
 *
 * Where a target lies between two roots decides how much is replayed (from nothing up to one
 * interval), so each side cycles through its targets in a seeded order and a round's figure is
 * the mean over several targets; rounds of the two sides alternate.
 */

interface CheckoutSettings {
  readonly longHistoryCommits: number;
  readonly shortHistoryCommits: number;
  readonly fileCount: number;
  readonly referenceFileCount: number;
  /** Commits of rewrites given to each catalog after it is opened. */
  readonly catalogCommits: number;
  /** Targets taken over each history (fewer when some fall before the first root). */
  readonly targetCount: number;
  readonly measure: MeasureOptions;
}

const HISTORY_FILE_COUNT = 1000;
const CONTENT_BYTES = KIB;
const BUFFER_COUNT = 16;

interface Target {
  readonly target: CheckoutTarget;
  /** The file written last before the target: what the timed `readFile` reads. */
  readonly path: string;
}

const historyPath = (index: number): string =>
  `/history/d${String(Math.floor(index / 100)).padStart(2, '0')}/f${index}.bin`;

/**
 * A cartridge of `HISTORY_FILE_COUNT` files and `commits` rewrites of them, each its own
 * commit, with a snapshot every `commits / targetCount` commits once a checkpoint root exists.
 */
function buildHistory(
  path: string,
  commits: number,
  targetCount: number,
  buffers: readonly Buffer[],
  deadline: Deadline,
): { cartridge: Cartridge; targets: Target[] } {
  const cartridge = Cartridge.create(path, { durability: 'off' });
  try {
    cartridge.transaction(() => {
      for (let index = 0; index < HISTORY_FILE_COUNT; index++) {
        cartridge.createFile(historyPath(index), buffers[index % BUFFER_COUNT] as Buffer);
      }
    });
    const every = Math.max(1, Math.floor(commits / targetCount));
    const files = seededIndexes(commits, HISTORY_FILE_COUNT, 91);
    const targets: Target[] = [];
    for (let commit = 0; commit < commits; commit++) {
      if (commit % 1000 === 0) deadline.check();
      const path = historyPath(files[commit] as number);
      cartridge.writeFile(path, buffers[commit % BUFFER_COUNT] as Buffer);
      if ((commit + 1) % every !== 0 || cartridge.stats().checkpointOffset === 0) continue;
      const name = `history-${commit + 1}`;
      cartridge.createSnapshot(name);
      targets.push({ target: name, path });
    }
    return { cartridge, targets };
  } catch (error) {
    cartridge.close();
    throw error;
  }
}

/** The same rewrites of random existing files in a catalog; targets are offsets of the head. */
function writeCatalogHistory(
  cartridge: Cartridge,
  fileCount: number,
  settings: CheckoutSettings,
  buffers: readonly Buffer[],
  deadline: Deadline,
): Target[] {
  const every = Math.max(1, Math.floor(settings.catalogCommits / settings.targetCount));
  const files = seededIndexes(settings.catalogCommits, fileCount, 92);
  const targets: Target[] = [];
  for (let commit = 0; commit < settings.catalogCommits; commit++) {
    if (commit % 1000 === 0) deadline.check();
    const path = smallFilePath(files[commit] as number);
    cartridge.writeFile(path, buffers[commit % BUFFER_COUNT] as Buffer);
    if ((commit + 1) % every === 0) targets.push({ target: cartridge.head, path });
  }
  return targets;
}

/** One checkout and one read per call, cycling through `targets` in a seeded order. */
function checkoutLoop(
  cartridge: Cartridge,
  targets: readonly Target[],
  seed: number,
  deadline: Deadline,
): () => number {
  if (targets.length === 0) throw new Error('no checkout target lies after a checkpoint root');
  const order = seededIndexes(4096, targets.length, seed);
  let turn = 0;
  return () => {
    deadline.check();
    const { target, path } = targets[order[turn++ % order.length] as number] as Target;
    const view = cartridge.checkout(target);
    const content = view.readFile(path);
    if (content.length !== CONTENT_BYTES) {
      throw new Error(`checkout read ${content.length} bytes of ${path}, not ${CONTENT_BYTES}`);
    }
    return view.head + content[0]!;
  };
}

function reportPair(
  { report }: WorkloadContext,
  prefix: string,
  timing: PairTiming,
  labels: readonly [string, string],
): void {
  const [subjectLabel, baselineLabel] = labels;
  report.figure(`${prefix}_ratio`, timing.subject.medianNs / timing.baseline.medianNs);
  report.line(`${prefix}_${subjectLabel}_ms`, timing.subject.medianNs / 1e6, 2);
  report.line(`${prefix}_${baselineLabel}_ms`, timing.baseline.medianNs / 1e6, 2);
  report.line(
    `${prefix}_round_range_ms`,
    `${rangeText(timing.subject.roundNs.map((ns) => ns / 1000))} vs ` +
      rangeText(timing.baseline.roundNs.map((ns) => ns / 1000)),
  );
}

function measureHistory(settings: CheckoutSettings, context: WorkloadContext): void {
  const { report, checksum, deadline } = context;
  const scratch = scratchDirectory('checkout-history');
  const buffers = incompressibleBuffers(BUFFER_COUNT, CONTENT_BYTES, 'checkout-history');
  let long: ReturnType<typeof buildHistory> | undefined;
  let short: ReturnType<typeof buildHistory> | undefined;
  try {
    const build = (name: string, commits: number) =>
      buildHistory(join(scratch.path, name), commits, settings.targetCount, buffers, deadline);
    long = build('long.cart', settings.longHistoryCommits);
    short = build('short.cart', settings.shortHistoryCommits);
    const timing = measurePair(
      checkoutLoop(long.cartridge, long.targets, 11, deadline),
      checkoutLoop(short.cartridge, short.targets, 12, deadline),
      settings.measure,
      checksum,
    );
    reportPair(context, 'checkout_history', timing, ['long', 'short']);
    report.line('checkout_history_long_commits', settings.longHistoryCommits, 0);
    report.line('checkout_history_short_commits', settings.shortHistoryCommits, 0);
    report.line('checkout_history_long_journal_mib', long.cartridge.head / MIB, 1);
    report.line('checkout_history_short_journal_mib', short.cartridge.head / MIB, 1);
    report.line(
      'checkout_history_targets',
      `${long.targets.length} long, ${short.targets.length} short`,
    );
  } finally {
    try {
      closeAll([long?.cartridge, short?.cartridge]);
    } finally {
      scratch.remove();
    }
  }
}

function measureCatalog(settings: CheckoutSettings, context: WorkloadContext): void {
  const { report, checksum, deadline } = context;
  const scratch = scratchDirectory('checkout-catalog');
  const buffers = incompressibleBuffers(BUFFER_COUNT, CONTENT_BYTES, 'checkout-catalog');
  let large: Cartridge | undefined;
  let reference: Cartridge | undefined;
  try {
    large = openFixtureCopy(settings.fileCount, scratch.path, deadline);
    reference = openFixtureCopy(settings.referenceFileCount, scratch.path, deadline);
    const largeTargets = writeCatalogHistory(
      large,
      settings.fileCount,
      settings,
      buffers,
      deadline,
    );
    const referenceTargets = writeCatalogHistory(
      reference,
      settings.referenceFileCount,
      settings,
      buffers,
      deadline,
    );
    for (const cartridge of [large, reference]) {
      const background = cartridge.lastBackgroundError;
      if (background !== undefined) throw background;
    }
    const timing = measurePair(
      checkoutLoop(large, largeTargets, 13, deadline),
      checkoutLoop(reference, referenceTargets, 14, deadline),
      settings.measure,
      checksum,
    );
    reportPair(context, 'checkout_catalog', timing, ['large', 'reference']);
    report.line('checkout_catalog_files', settings.fileCount, 0);
    report.line('checkout_catalog_reference_files', settings.referenceFileCount, 0);
    report.line('checkout_catalog_commits_after_open', settings.catalogCommits, 0);
  } finally {
    try {
      closeAll([large, reference]);
    } finally {
      scratch.remove();
    }
  }
}

const measureOf = (rounds: number, opsPerRound: number): MeasureOptions => ({
  warmupRounds: 1,
  rounds,
  opsPerRound,
  latencySamples: 0,
});

export const workload: Workload<CheckoutSettings> = {
  name: 'checkout-flatness',
  description: 'checkout + readFile: long vs short history, 1 000 000 vs 1 000 files',
  sizes: {
    small: {
      longHistoryCommits: 8_000,
      shortHistoryCommits: 2_500,
      fileCount: OPEN_SIZES.small.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      catalogCommits: 3_000,
      targetCount: 40,
      measure: measureOf(5, 3),
    },
    medium: {
      longHistoryCommits: 50_000,
      shortHistoryCommits: 5_000,
      fileCount: OPEN_SIZES.medium.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      catalogCommits: 8_000,
      targetCount: 40,
      measure: measureOf(11, 6),
    },
    large: {
      longHistoryCommits: 200_000,
      shortHistoryCommits: 5_000,
      fileCount: OPEN_SIZES.large.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      catalogCommits: 8_000,
      targetCount: 40,
      measure: measureOf(15, 6),
    },
  },
  budgetMs: { small: 60_000, medium: 600_000, large: 1_200_000 },
  figures: [
    { name: 'checkout_history_ratio', target: atMost(2) },
    { name: 'checkout_catalog_ratio', target: atMost(2) },
  ],
  run: (settings, context) => {
    measureHistory(settings, context);
    measureCatalog(settings, context);
  },
};
