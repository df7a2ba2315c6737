import type { Deadline } from '../measure.js';
import type { ChildReport } from '../open-child.js';
import { runChild } from '../open-children.js';
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

type Sampled = { readonly samples: OpenSamples } | { readonly error: unknown };

const sampledBySettings = new Map<string, Sampled>();

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
  const cartridge: ChildReport[] = [];
  const sqlite: ChildReport[] = [];
  const cartridgeReference: ChildReport[] = [];
  const total = settings.warmupRounds + settings.rounds;
  for (let round = 0; round < total; round++) {
    const seed = round + 1;
    const readArgs = (fixture: ManyFilesFixture, path: string) => [
      path,
      String(fixture.fileCount),
      String(settings.timedReads),
      String(settings.totalReads),
      String(seed),
    ];
    const children: [() => ChildReport, ChildReport[]][] = [
      [
        () =>
          runChild('open-read', readArgs(large, large.cartridgePath), {
            timeoutMs: deadline.remainingMs,
          }),
        cartridge,
      ],
      [
        () =>
          runChild('sqlite-read', readArgs(large, large.sqlitePath), {
            timeoutMs: deadline.remainingMs,
          }),
        sqlite,
      ],
      [
        () =>
          runChild('open-read', readArgs(reference, reference.cartridgePath), {
            timeoutMs: deadline.remainingMs,
          }),
        cartridgeReference,
      ],
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

/** The samples for these settings, taken on first use; a failure is remembered like a fixture's. */
export function openSamples(settings: OpenSettings, deadline: Deadline): OpenSamples {
  const key = JSON.stringify(settings);
  let sampled = sampledBySettings.get(key);
  if (sampled === undefined) {
    try {
      sampled = { samples: sample(settings, deadline) };
    } catch (error) {
      sampled = { error };
    }
    sampledBySettings.set(key, sampled);
  }
  if ('error' in sampled) throw sampled.error;
  return sampled.samples;
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
