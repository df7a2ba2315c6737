import type { Cartridge } from '../../src/index.js';
import { type MeasureOptions, measurePair } from '../measure.js';
import { atMost, type Workload } from '../report.js';
import { scratchDirectory } from '../support.js';
import { OPEN_SIZES } from './open-samples.js';
import {
  closeAll,
  openFixtureCopy,
  rangeText,
  REFERENCE_FILE_COUNT,
} from './time-travel-support.js';

/**
 * Whether a snapshot costs the same whatever the size of the data: `createSnapshot` in a copy
 * of the many-files fixture (1 000 000 files at large) against the same in a copy of the
 * 1 000-file fixture, rounds of the two interleaved. A snapshot is one small record, so the
 * issue asks for a flat cost; the figure is the median time per snapshot at the big size over
 * that at the small size. Durability `'off'` on both sides (see `openFixtureCopy`).
 */

interface SnapshotSettings {
  readonly fileCount: number;
  readonly referenceFileCount: number;
  readonly measure: MeasureOptions;
}

export const workload: Workload<SnapshotSettings> = {
  name: 'snapshot-create',
  description: 'createSnapshot in a 1 000 000-file cartridge vs in a 1 000-file one',
  sizes: {
    small: {
      fileCount: OPEN_SIZES.small.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      measure: { warmupRounds: 2, rounds: 9, opsPerRound: 20, latencySamples: 100 },
    },
    medium: {
      fileCount: OPEN_SIZES.medium.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      measure: { warmupRounds: 3, rounds: 21, opsPerRound: 50, latencySamples: 500 },
    },
    large: {
      fileCount: OPEN_SIZES.large.fileCount,
      referenceFileCount: REFERENCE_FILE_COUNT,
      measure: { warmupRounds: 3, rounds: 21, opsPerRound: 50, latencySamples: 500 },
    },
  },
  budgetMs: { small: 60_000, medium: 600_000, large: 1_200_000 },
  figures: [{ name: 'snapshot_create_flatness_ratio', target: atMost(2) }],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('snapshot-create');
    let large: Cartridge | undefined;
    let reference: Cartridge | undefined;
    try {
      large = openFixtureCopy(settings.fileCount, scratch.path, deadline);
      reference = openFixtureCopy(settings.referenceFileCount, scratch.path, deadline);
      let snapshotNumber = 0;
      const snapshotIn = (cartridge: Cartridge) => () => {
        deadline.check();
        snapshotNumber++;
        return cartridge.createSnapshot(`bench-${snapshotNumber}`).offset;
      };
      const timing = measurePair(
        snapshotIn(large),
        snapshotIn(reference),
        settings.measure,
        checksum,
      );
      // An automatic checkpoint that failed does not fail the commit that triggered it.
      for (const cartridge of [large, reference]) {
        const background = cartridge.lastBackgroundError;
        if (background !== undefined) throw background;
      }
      const { subject, baseline } = timing;
      report.figure('snapshot_create_flatness_ratio', subject.medianNs / baseline.medianNs);
      report.line('snapshot_create_large_us', subject.medianNs / 1000, 1);
      report.line('snapshot_create_reference_us', baseline.medianNs / 1000, 1);
      report.line('snapshot_create_large_p50_us', subject.p50Ns / 1000, 1);
      report.line('snapshot_create_reference_p50_us', baseline.p50Ns / 1000, 1);
      report.line(
        'snapshot_create_round_range_us',
        `${rangeText(subject.roundNs)} vs ${rangeText(baseline.roundNs)}`,
      );
      report.line('snapshot_create_files', settings.fileCount, 0);
      report.line('snapshot_create_reference_files', settings.referenceFileCount, 0);
    } finally {
      try {
        closeAll([large, reference]);
      } finally {
        scratch.remove();
      }
    }
  },
};
