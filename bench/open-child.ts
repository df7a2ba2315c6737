/**
 * Runs in a fresh child process (spawned by workloads/open-100k.ts) so that open time and
 * memory are those of a process that has done nothing else. Modules are imported before the
 * clock starts; what is timed is `Cartridge.open` + `stats()` (mode `open`) or one
 * `fs.readFileSync` of the same file (mode `readfile`, the baseline). Prints one JSON line.
 *
 *   node --import tsx bench/open-child.ts open|readfile <path>
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Cartridge } from '../src/index.js';

export interface ChildReport {
  readonly mode: 'open' | 'readfile';
  readonly ms: number;
  readonly rssBeforeMiB: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly fileCount: number;
  readonly recordCount: number;
  readonly bytes: number;
}

const MIB = 1024 * 1024;
const [mode, path] = process.argv.slice(2);
if ((mode !== 'open' && mode !== 'readfile') || path === undefined) {
  console.error('usage: open-child.ts open|readfile <path>');
  process.exit(2);
}

const rssBefore = process.memoryUsage().rss;
let report: ChildReport;
if (mode === 'open') {
  const start = performance.now();
  const cartridge = Cartridge.open(path);
  const stats = cartridge.stats();
  const ms = performance.now() - start;
  const memory = process.memoryUsage();
  report = {
    mode, ms, rssBeforeMiB: rssBefore / MIB, rssMiB: memory.rss / MIB, heapUsedMiB: memory.heapUsed / MIB,
    fileCount: stats.fileCount, recordCount: stats.recordCount, bytes: stats.journalBytes,
  };
  cartridge.close();
} else {
  const start = performance.now();
  const bytes = readFileSync(path);
  const ms = performance.now() - start;
  const memory = process.memoryUsage();
  report = {
    mode, ms, rssBeforeMiB: rssBefore / MIB, rssMiB: memory.rss / MIB, heapUsedMiB: memory.heapUsed / MIB,
    fileCount: 0, recordCount: 0, bytes: bytes.length,
  };
}
process.stdout.write(`${JSON.stringify(report)}\n`);
