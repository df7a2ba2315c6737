import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { mean, median } from '../measure.js';
import { atMost, type Workload } from '../report.js';
import {
  incompressibleBuffers,
  KIB,
  scratchDirectory,
  seededIndexes,
  smallFilePath,
} from '../support.js';
import { manyFilesFixture } from './many-files.js';
import { OPEN_SIZES } from './open-samples.js';

/**
 * Write latency in a large cartridge: `writeFile` of incompressible 64 KiB buffers, then of
 * 4 KiB buffers, over random existing paths of a copy of the million-file fixture, durability
 * 'off', default compression. Each write is timed on its own. A catalog-wide pause (such as a
 * checkpoint that re-encodes every entry inside the write that crosses its interval) shows as
 * the slowest write and as a mean far above the p50. The sizes run one after the other, each
 * with enough writes to cross today's automatic checkpoint interval (8 MiB of journal, or
 * twice the last checkpoint, which is tens of MiB at 1 000 000 files) at least twice, so that
 * each size meets its own pauses. The first `warmupWrites` of each size are not counted (cold
 * JIT).
 */

interface WriteSettings {
  readonly fileCount: number;
  /** Counted writes of each size, in the order of `SIZES`. */
  readonly writeCounts: readonly [number, number];
  readonly warmupWrites: number;
}

const SIZES = [
  { label: '64k', bytes: 64 * KIB },
  { label: '4k', bytes: 4 * KIB },
] as const;

const BUFFERS_PER_SIZE = 32;

export const workload: Workload<WriteSettings> = {
  name: 'write-latency-1m',
  description: '64 KiB and 4 KiB writeFile to random existing paths of a 1 000 000-file cartridge',
  sizes: {
    small: { fileCount: OPEN_SIZES.small.fileCount, writeCounts: [400, 3000], warmupWrites: 20 },
    medium: { fileCount: OPEN_SIZES.medium.fileCount, writeCounts: [1000, 6000], warmupWrites: 50 },
    large: { fileCount: OPEN_SIZES.large.fileCount, writeCounts: [4000, 32000], warmupWrites: 50 },
  },
  budgetMs: { small: 60_000, medium: 900_000, large: 1_800_000 },
  figures: SIZES.flatMap(({ label }) => [
    { name: `write_latency_1m_${label}_max_ms`, target: atMost(100), digits: 1 },
    { name: `write_latency_1m_${label}_mean_p50_ratio`, target: atMost(1.5) },
  ]),
  run: (settings, { report, checksum, deadline }) => {
    const fixture = manyFilesFixture(settings.fileCount, deadline);
    const scratch = scratchDirectory('write-latency');
    try {
      // A copy, so that the shared fixture stays as built for the other figures.
      const path = join(scratch.path, 'bench.cart');
      copyFileSync(fixture.cartridgePath, path);
      const buffers = SIZES.map(({ bytes, label }) =>
        incompressibleBuffers(BUFFERS_PER_SIZE, bytes, `write-latency-${label}`),
      );
      const samplesNs: number[][] = SIZES.map(() => []);
      const cartridge = Cartridge.open(path, { durability: 'off' });
      try {
        SIZES.forEach((_, kind) => {
          const writes = settings.warmupWrites + (settings.writeCounts[kind] as number);
          const targets = seededIndexes(writes, settings.fileCount, 7 + kind);
          const sizeBuffers = buffers[kind] as Buffer[];
          const samples = samplesNs[kind] as number[];
          for (let write = 0; write < writes; write++) {
            deadline.check();
            const buffer = sizeBuffers[write % BUFFERS_PER_SIZE] as Buffer;
            const start = process.hrtime.bigint();
            cartridge.writeFile(smallFilePath(targets[write] as number), buffer);
            const elapsedNs = Number(process.hrtime.bigint() - start);
            checksum.add(cartridge.head);
            if (write >= settings.warmupWrites) samples.push(elapsedNs);
          }
        });
        // An automatic checkpoint that failed does not fail the write that triggered it.
        const background = cartridge.lastBackgroundError;
        if (background !== undefined) throw background;
      } finally {
        cartridge.close();
      }
      SIZES.forEach(({ label }, kind) => {
        const samples = samplesNs[kind] as number[];
        const meanNs = mean(samples);
        const p50Ns = median(samples);
        report.figure(`write_latency_1m_${label}_max_ms`, Math.max(...samples) / 1e6);
        report.figure(`write_latency_1m_${label}_mean_p50_ratio`, meanNs / p50Ns);
        report.line(`write_latency_1m_${label}_mean_us`, meanNs / 1000, 1);
        report.line(`write_latency_1m_${label}_p50_us`, p50Ns / 1000, 1);
        report.line(
          `write_latency_1m_${label}_over_10ms`,
          samples.filter((ns) => ns > 1e7).length,
          0,
        );
      });
      report.line('write_latency_1m_files', settings.fileCount, 0);
      report.line('write_latency_1m_durability', 'off');
    } finally {
      scratch.remove();
    }
  },
};
