import type { CrashMode } from '../../support/fault-storage.js';
import { countOperations, runCrashPoint } from '../crash-run.js';
import { bySize, type Campaign, type Figures, type TortureSize } from '../figures.js';
import { WORKLOADS } from '../workloads.js';

/**
 * Crash-point enumeration (SQLite's crash loop, CrashMonkey's idea): for every workload and
 * every I/O operation k in it, crash after k under each crash mode with several damage seeds,
 * reopen, and check the oracle, the write ordering and `verify()`.
 */

function modesFor(seed: number): CrashMode[] {
  return [
    { kind: 'drop-unsynced' },
    { kind: 'keep-prefix', count: seed % 5 },
    { kind: 'keep-subset', seed },
    { kind: 'tear-last', sectorBytes: 512, seed },
    { kind: 'tear-last', sectorBytes: 4096, seed },
    { kind: 'size-before-content', seed, sectorBytes: 512 },
    { kind: 'keep-subset', seed: seed + 1000, keepUnsyncedEntries: true },
  ];
}

export const crashPointsCampaign: Campaign = {
  name: 'crash-points',
  run(figures: Figures, size: TortureSize): void {
    const seedCount = bySize(size, { small: 1, medium: 3, large: 6 });
    for (const workload of WORKLOADS) {
      const operationCount = countOperations(workload);
      figures.add('crash_points', operationCount + 1);
      for (let crashAfter = 0; crashAfter <= operationCount; crashAfter++) {
        for (let seed = 1; seed <= seedCount; seed++) {
          for (const mode of modesFor(seed * 7919 + crashAfter)) {
            runCrashPoint({ workload, crashAfter, mode, seed }, figures);
          }
        }
      }
      // The whole workload without a crash, then a crash: unsynced writes of 'normal' and 'off'.
      for (const mode of modesFor(1)) runCrashPoint({ workload, crashAfter: undefined, mode, seed: 1 }, figures);
    }
    figures.set('crash_workloads', WORKLOADS.length);
  },
};
