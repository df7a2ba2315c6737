import { type Deadline, median } from '../measure.js';
import type { ChildReport } from '../open-child.js';
import { bundleChild, runChild, unlinkModules } from '../open-children.js';
import type { FigureSpec, Workload, WorkloadContext } from '../report.js';
import { OnceCache, scratchDirectory } from '../support.js';
import { manyFilesFixture, type ManyFilesFixture } from './many-files.js';

/**
 * The measurements behind the three large-open figures (`open-1m-vs-sqlite`,
 * `open-1m-flatness`, `open-1m-rss-growth`). Each round runs three fresh child processes, in
 * an order that rotates from round to round so that a noisy neighbour slows all three alike:
 * Cartridge opening the large fixture then reading random files, better-sqlite3 doing the same
 * on a database of the same rows, and Cartridge on the small reference fixture. Every child
 * reads the same random paths (the round's seed). The samples are taken once per process and
 * shared by the three figures.
 */

export interface OpenSettings {
  /** Files in the large fixture (1 000 000 in the figure). */
  readonly fileCount: number;
  /** Files in the reference fixture of the flatness figure. */
  readonly referenceFileCount: number;
  readonly warmupRounds: number;
  readonly rounds: number;
  /** `readFile`s timed together with the open. */
  readonly timedReads: number;
  /** All reads done before the RSS is taken (the timed ones included). */
  readonly totalReads: number;
}

export interface OpenSamples {
  readonly large: ManyFilesFixture;
  readonly reference: ManyFilesFixture;
  readonly cartridge: readonly ChildReport[];
  readonly sqlite: readonly ChildReport[];
  readonly cartridgeReference: readonly ChildReport[];
}

const samplesBySettings = new OnceCache<OpenSamples>();

function checked(report: ChildReport, settings: OpenSettings): ChildReport {
  if (report.fileCount !== settings.totalReads) {
    throw new Error(
      `open child (${report.mode}) found ${report.fileCount} of ${settings.totalReads} files`,
    );
  }
  return report;
}

function sample(settings: OpenSettings, deadline: Deadline): OpenSamples {
  const large = manyFilesFixture(settings.fileCount, deadline);
  const reference = manyFilesFixture(settings.referenceFileCount, deadline);
  // Plain node on a bundle: a child starts in a fraction of the time tsx takes to load and
  // compile the sources, which keeps the small run short; module loading is not timed either way.
  const bundleScratch = scratchDirectory('open-bundle');
  try {
    return sampleWith(bundleChild(bundleScratch.path), large, reference, settings, deadline);
  } finally {
    unlinkModules(bundleScratch.path);
    bundleScratch.remove();
  }
}

function sampleWith(
  bundle: string,
  large: ManyFilesFixture,
  reference: ManyFilesFixture,
  settings: OpenSettings,
  deadline: Deadline,
): OpenSamples {
  const cartridge: ChildReport[] = [];
  const sqlite: ChildReport[] = [];
  const cartridgeReference: ChildReport[] = [];
  const total = settings.warmupRounds + settings.rounds;
  for (let round = 0; round < total; round++) {
    const seed = round + 1;
    const run = (mode: ChildReport['mode'], fixture: ManyFilesFixture, path: string) => () =>
      runChild(
        mode,
        [path, fixture.fileCount, settings.timedReads, settings.totalReads, seed].map(String),
        { bundle, timeoutMs: deadline.remainingMs },
      );
    const children: [() => ChildReport, ChildReport[]][] = [
      [run('open-read', large, large.cartridgePath), cartridge],
      [run('sqlite-read', large, large.sqlitePath), sqlite],
      [run('open-read', reference, reference.cartridgePath), cartridgeReference],
    ];
    for (let turn = 0; turn < children.length; turn++) {
      deadline.check();
      const [run, sink] = children[(round + turn) % children.length] as [
        () => ChildReport,
        ChildReport[],
      ];
      const report = checked(run(), settings);
      if (round >= settings.warmupRounds) sink.push(report);
    }
  }
  return { large, reference, cartridge, sqlite, cartridgeReference };
}

/** The samples for these settings, taken on first use; a failure is remembered (`OnceCache`). */
export function openSamples(settings: OpenSettings, deadline: Deadline): OpenSamples {
  return samplesBySettings.get(JSON.stringify(settings), () => sample(settings, deadline));
}

/** The median of one field of the children's reports. */
export function medianOf(
  children: readonly ChildReport[],
  field: (child: ChildReport) => number,
): number {
  return median(children.map(field));
}

/**
 * The open settings of each size, shared by the three figures so that they share samples.
 * Large is the 1 000 000 files against 10 000; medium is a tenth of it, for engines on
 * which a million files do not fit in the time (today's: see bench/README.md).
 */
export const OPEN_SIZES = {
  small: {
    fileCount: 20_000,
    referenceFileCount: 2_000,
    warmupRounds: 0,
    rounds: 3,
    timedReads: 100,
    totalReads: 1000,
  },
  medium: {
    fileCount: 100_000,
    referenceFileCount: 10_000,
    warmupRounds: 1,
    rounds: 5,
    timedReads: 100,
    totalReads: 1000,
  },
  large: {
    fileCount: 1_000_000,
    referenceFileCount: 10_000,
    warmupRounds: 1,
    rounds: 5,
    timedReads: 100,
    totalReads: 1000,
  },
} as const satisfies Record<string, OpenSettings>;

/** Build the million-file fixture and open it 18 times: generous, so that only a hang stops it. */
export const OPEN_BUDGET_MS = { small: 120_000, medium: 900_000, large: 2_400_000 } as const;

interface OpenFigureSpec {
  readonly name: string;
  readonly description: string;
  readonly figure: FigureSpec;
  /** Reports the figure (and its raw lines) from the shared samples. */
  readonly report: (samples: OpenSamples, settings: OpenSettings, context: WorkloadContext) => void;
}

/** A workload whose figure comes from the shared open samples. */
export function openWorkload(spec: OpenFigureSpec): Workload<OpenSettings> {
  return {
    name: spec.name,
    description: spec.description,
    sizes: OPEN_SIZES,
    budgetMs: OPEN_BUDGET_MS,
    figures: [spec.figure],
    run: (settings, context) =>
      spec.report(openSamples(settings, context.deadline), settings, context),
  };
}
