import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { collectGarbage, median } from '../measure.js';
import { atLeast, type Workload } from '../report.js';
import { scratchDirectory } from '../support.js';
import { appendLines, createLog, LOG_PATH, logText } from './append-log.js';

/**
 * Reading a log built by appends, with a cold buffer pool: a log of 100 000 audit lines, each
 * appended as its own commit (the most records per byte), is read whole with `readFile` right
 * after a reopen (not timed), against `fs.readFileSync` of a plain file holding the same
 * bytes. Both files were just written, so both are read from the page cache. Rounds of the two
 * sides alternate in order. The figure is `baseline_time / cartridge_time`.
 *
 * Both sides allocate a 12 MB result, and what that costs depends on whether the C heap has
 * freed memory to hand out or must take fresh pages from the kernel (about 3 000 page faults:
 * 8-17 ms here, more than either side's own work). Which side got which used to follow the
 * garbage collector: the untimed reopen before the cartridge's read set off collections whose
 * frees V8's background sweeper finished while the timed read ran, so the two sides were
 * measured in different states from round to round. Each timed side now starts after a full
 * collection and a pause for the sweeper (`settleMemory`), so both read into memory in the same
 * state and the figure compares the reads.
 */

/**
 * How long the sweeper is given to free what a full collection found dead. 10 ms was enough
 * in a process that had done nothing else, but not after the workloads that leave a heap of
 * hundreds of MiB behind (checkout-flatness before it in a full run): the sweeper then still
 * ran into the timed read, on the second core the cartridge's LZ4 decoding uses and on the main
 * thread when the read allocated, and the read took 6.1-6.7 ms instead of 2.2-2.4 (the
 * baseline's moved from 0.7 to 0.9). With 100 ms both sides read in a settled process again.
 */
const SWEEP_PAUSE_MS = 100;

function settleMemory(): void {
  collectGarbage();
  // A synchronous sleep: the sweeper runs on a background thread.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SWEEP_PAUSE_MS);
}

interface ReadSettings {
  readonly appendCount: number;
  readonly warmupRounds: number;
  readonly rounds: number;
}

export const workload: Workload<ReadSettings> = {
  name: 'log-read-cold',
  description: 'readFile of a 100 000-append log after reopen vs fs.readFileSync of the same bytes',
  sizes: {
    small: { appendCount: 10_000, warmupRounds: 1, rounds: 5 },
    // The baseline (an 11 MiB readFileSync) moved between 4.6 and 9.3 ms from run to run with 5
    // rounds; each round costs ~40 ms, so 15 rounds make the medians steadier for under a second.
    medium: { appendCount: 100_000, warmupRounds: 1, rounds: 9 },
    large: { appendCount: 100_000, warmupRounds: 2, rounds: 15 },
  },
  budgetMs: { small: 30_000, medium: 600_000, large: 900_000 },
  figures: [{ name: 'log_read_cold_ratio', target: atLeast(0.25) }],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('log-read');
    let cartridge: Cartridge | undefined;
    try {
      const path = join(scratch.path, 'log.cart');
      const plainPath = join(scratch.path, 'plain.log');
      // Setup speed only: the records on disk are the same in every durability mode.
      const writer = createLog(path, { durability: 'off' });
      try {
        for (let first = 0; first < settings.appendCount; first += 1000) {
          deadline.check();
          appendLines(writer, first, Math.min(settings.appendCount, first + 1000), 1);
        }
      } finally {
        writer.close();
      }
      const expected = logText(settings.appendCount);
      writeFileSync(plainPath, expected);
      const cartridgeMs: number[] = [];
      const baselineMs: number[] = [];
      const sides = [
        () => {
          cartridge?.close();
          cartridge = Cartridge.open(path);
          settleMemory();
          const start = performance.now();
          const bytes = cartridge.readFile(LOG_PATH);
          const ms = performance.now() - start;
          if (!bytes.equals(expected))
            throw new Error('log-read-cold: the log read back differs from its text');
          checksum.add(bytes.length);
          return ms;
        },
        () => {
          settleMemory();
          const start = performance.now();
          const bytes = readFileSync(plainPath);
          const ms = performance.now() - start;
          checksum.add(bytes.length);
          return ms;
        },
      ] as const;
      for (let round = 0; round < settings.warmupRounds + settings.rounds; round++) {
        for (let turn = 0; turn < 2; turn++) {
          deadline.check();
          const side = (round + turn) % 2;
          const ms = side === 0 ? sides[0]() : sides[1]();
          if (round >= settings.warmupRounds) (side === 0 ? cartridgeMs : baselineMs).push(ms);
        }
      }
      const cartridgeMedianMs = median(cartridgeMs);
      const baselineMedianMs = median(baselineMs);
      report.figure('log_read_cold_ratio', baselineMedianMs / cartridgeMedianMs);
      report.line('log_read_cold_cartridge_ms', cartridgeMedianMs, 1);
      report.line('log_read_cold_baseline_ms', baselineMedianMs, 2);
      report.line('log_read_cold_appends', settings.appendCount, 0);
      report.line('log_read_cold_text_mib', expected.length / (1024 * 1024), 2);
    } finally {
      cartridge?.close();
      scratch.remove();
    }
  },
};
