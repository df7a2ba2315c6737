import type { Cartridge } from '../../src/index.js';
import { median } from '../measure.js';
import { atMost, type Workload } from '../report.js';
import { scratchDirectory, seededIndexes, smallFileContent, smallFilePath } from '../support.js';
import { OPEN_SIZES } from './open-samples.js';
import {
  closeAll,
  openFixtureCopy,
  rangeText,
  REFERENCE_FILE_COUNT,
} from './time-travel-support.js';

/**
 * The diff of one change in a large cartridge: in a copy of the many-files fixture (1 000 000
 * files at large), take a snapshot, rewrite one random existing file, and time
 * `diff(snapshot)` (to the head); the same in a copy of the 1 000-file fixture. Diff walks the
 * two index roots and skips the pages they share, so one change should cost about the same in
 * both. The snapshot and the write are not timed; each diff is timed on its own, the two sides
 * alternating (which goes first changes every round), and every diff must find exactly the one
 * file written. Figure: median diff time in the large cartridge / in the small one.
 */

interface DiffSettings {
  readonly fileCount: number;
  readonly referenceFileCount: number;
  readonly warmupRounds: number;
  readonly rounds: number;
}

export const workload: Workload<DiffSettings> = {
  name: 'diff-1m',
  description: 'diff(snapshot) after one writeFile, 1 000 000 files vs 1 000 files',
  sizes: {
    small: {
      fileCount: OPEN_SIZES.small.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      warmupRounds: 3,
      rounds: 21,
    },
    medium: {
      fileCount: OPEN_SIZES.medium.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      warmupRounds: 5,
      rounds: 61,
    },
    large: {
      fileCount: OPEN_SIZES.large.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      warmupRounds: 5,
      rounds: 61,
    },
  },
  budgetMs: { small: 60_000, medium: 600_000, large: 1_200_000 },
  figures: [{ name: 'diff_1m_ratio', target: atMost(2) }],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('diff');
    let large: Cartridge | undefined;
    let reference: Cartridge | undefined;
    try {
      large = openFixtureCopy(settings.fileCount, scratch.path, deadline);
      reference = openFixtureCopy(settings.referenceFileCount, scratch.path, deadline);
      const total = settings.warmupRounds + settings.rounds;
      const sides = [
        { cartridge: large, fileCount: settings.fileCount, samplesNs: [] as number[] },
        {
          cartridge: reference,
          fileCount: settings.referenceFileCount,
          samplesNs: [] as number[],
        },
      ];
      const files = sides.map((side, index) => seededIndexes(total, side.fileCount, 31 + index));
      for (let round = 0; round < total; round++) {
        for (let turn = 0; turn < sides.length; turn++) {
          deadline.check();
          const sideIndex = (round + turn) % sides.length;
          const side = sides[sideIndex] as (typeof sides)[number];
          const file = (files[sideIndex] as number[])[round] as number;
          const path = smallFilePath(file);
          const snapshot = `before-${round}`;
          side.cartridge.createSnapshot(snapshot);
          // Different content of the same size: a 'modified' entry, not a metadata-only one.
          side.cartridge.writeFile(path, smallFileContent(file + side.fileCount));
          const start = process.hrtime.bigint();
          const entries = side.cartridge.diff(snapshot);
          const elapsedNs = Number(process.hrtime.bigint() - start);
          const only = entries[0];
          if (entries.length !== 1 || only?.path !== path || only.change !== 'modified') {
            throw new Error(
              `diff of one write to ${path} gave ${JSON.stringify(entries.slice(0, 3))}` +
                ` (${entries.length} entries)`,
            );
          }
          checksum.add(entries.length + side.cartridge.head);
          if (round >= settings.warmupRounds) side.samplesNs.push(elapsedNs);
        }
      }
      const [largeSide, referenceSide] = sides as [(typeof sides)[0], (typeof sides)[0]];
      const largeMs = median(largeSide.samplesNs) / 1e6;
      const referenceMs = median(referenceSide.samplesNs) / 1e6;
      report.figure('diff_1m_ratio', largeMs / referenceMs);
      report.line('diff_1m_ms', largeMs, 3);
      report.line('diff_1m_reference_ms', referenceMs, 3);
      report.line(
        'diff_1m_range_ms',
        `${rangeText(largeSide.samplesNs.map((ns) => ns / 1000))} vs ` +
          rangeText(referenceSide.samplesNs.map((ns) => ns / 1000)),
      );
      report.line('diff_1m_files', settings.fileCount, 0);
      report.line('diff_1m_reference_files', settings.referenceFileCount, 0);
    } finally {
      try {
        closeAll([large, reference]);
      } finally {
        scratch.remove();
      }
    }
  },
};
