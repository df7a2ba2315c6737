/**
 * Runs in a fresh child process (spawned by the open workloads) so that open time and memory
 * are those of a process that has done nothing else. Modules are imported before the clock
 * starts. Prints one JSON line. The modes:
 *
 * - `open <path>`: `Cartridge.open` + `stats()` is timed.
 * - `readfile <path>`: one `fs.readFileSync` of the same file is timed (the baseline).
 * - `open-read <path> <fileCount> <timedReads> <totalReads> <seed>`: `Cartridge.open` and then
 *   `timedReads` `readFile`s of random small files are timed; the remaining reads up to
 *   `totalReads` follow, and the RSS is taken after all of them.
 * - `open-read-settled <path> ...`: the same as `open-read`, with a full garbage collection
 *   before the RSS is taken, so that it counts what the open cartridge holds and not the
 *   garbage its reads left (the catalog RSS figure).
 * - `sqlite-read <path> ...`: the same with better-sqlite3 opening a database of the same rows
 *   and looking them up by path.
 *
 *   node --import tsx bench/open-child.ts <mode> <path> [...]
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Cartridge, engineLoad } from '../src/index.js';
import { collectGarbage } from './measure.js';
import { seededIndexes, smallFilePath } from './support.js';

export type ChildMode = 'open' | 'readfile' | 'open-read' | 'open-read-settled' | 'sqlite-read';

export interface ChildReport {
  readonly mode: ChildMode;
  /** What the mode times: the open, the file read, or the open plus the timed reads. */
  readonly ms: number;
  /** In the read modes, the open alone (before the first read). */
  readonly openMs: number;
  readonly rssBeforeMiB: number;
  /** After the timed work (in the read modes, after all the reads). */
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** Files in the cartridge (`open`), or files found by the reads (read modes). */
  readonly fileCount: number;
  readonly recordCount: number;
  readonly bytes: number;
  /** How the engine was loaded (`engineLoad()`): from the package's bundle, with its cache? */
  readonly engine: string;
}

const MIB = 1024 * 1024;
const SETTLE_MS = 100;
const { form, codeCache } = engineLoad();
const engineDescription = `${form}, code cache ${codeCache}`;
const [mode, path, ...rest] = process.argv.slice(2);
const modes: readonly string[] = [
  'open',
  'readfile',
  'open-read',
  'open-read-settled',
  'sqlite-read',
];
if (mode === undefined || !modes.includes(mode) || path === undefined) {
  console.error(
    `usage: open-child.ts ${modes.join('|')} <path> [fileCount timedReads totalReads seed]`,
  );
  process.exit(2);
}

/** One lookup of a small file by path: returns its content. */
type Lookup = (path: string) => Uint8Array;

interface Opened {
  readonly lookup: Lookup;
  readonly close: () => void;
}

// Module initialisation that completes asynchronously (the WebAssembly hasher compiles in a
// few milliseconds) is part of loading the modules, which happens before the clock starts; an
// application would open its cartridge some time after its imports too.
await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** Imports better-sqlite3 before any clock starts, and only in the mode that uses it. */
const openSqlite =
  mode === 'sqlite-read'
    ? await (async () => {
        const { default: Database } = await import('better-sqlite3');
        return (databasePath: string): Opened => {
          const database = new Database(databasePath);
          const select = database.prepare('SELECT content FROM files WHERE path = ?').pluck();
          return {
            lookup: (filePath) => select.get(filePath) as Buffer,
            close: () => database.close(),
          };
        };
      })()
    : undefined;

function openCartridge(cartridgePath: string): Opened {
  const cartridge = Cartridge.open(cartridgePath);
  return { lookup: (filePath) => cartridge.readFile(filePath), close: () => cartridge.close() };
}

function report(
  fields: Omit<ChildReport, 'mode' | 'rssBeforeMiB' | 'rssMiB' | 'heapUsedMiB' | 'engine'>,
  rssBeforeBytes = rssBefore,
): ChildReport {
  const memory = process.memoryUsage();
  return {
    mode: mode as ChildMode,
    rssBeforeMiB: rssBeforeBytes / MIB,
    rssMiB: memory.rss / MIB,
    heapUsedMiB: memory.heapUsed / MIB,
    engine: engineDescription,
    ...fields,
  };
}

function openAndRead(): ChildReport {
  const [fileCount, timedReads, totalReads, seed] = rest.map(Number);
  if (
    fileCount === undefined ||
    timedReads === undefined ||
    totalReads === undefined ||
    seed === undefined
  ) {
    throw new Error(`${mode} needs fileCount timedReads totalReads seed`);
  }
  const paths = seededIndexes(totalReads, fileCount, seed).map(smallFilePath);
  // The growth counts what the store holds, not this child's own list of paths to read (a
  // million strings, about a hundred MiB of heap at the large size): the RSS before is taken
  // once the list exists (after a collection, in the settled mode).
  if (mode === 'open-read-settled') collectGarbage();
  const rssBeforeOpen = process.memoryUsage().rss;
  const start = performance.now();
  const opened =
    mode === 'sqlite-read'
      ? (openSqlite as (at: string) => Opened)(path as string)
      : openCartridge(path as string);
  const openMs = performance.now() - start;
  let found = 0;
  let bytes = 0;
  for (let index = 0; index < timedReads; index++) {
    const content = opened.lookup(paths[index] as string);
    found++;
    bytes += content.length;
  }
  const ms = performance.now() - start;
  for (let index = timedReads; index < totalReads; index++) {
    const content = opened.lookup(paths[index] as string);
    found++;
    bytes += content.length;
  }
  if (mode === 'open-read-settled') collectGarbage();
  const result = report({ ms, openMs, fileCount: found, recordCount: 0, bytes }, rssBeforeOpen);
  opened.close();
  return result;
}

const rssBefore = process.memoryUsage().rss;
let result: ChildReport;
if (mode === 'open') {
  const start = performance.now();
  const cartridge = Cartridge.open(path);
  const stats = cartridge.stats();
  const ms = performance.now() - start;
  result = report({
    ms,
    openMs: ms,
    fileCount: stats.fileCount,
    recordCount: stats.recordCount,
    bytes: stats.journalBytes,
  });
  cartridge.close();
} else if (mode === 'readfile') {
  const start = performance.now();
  const bytes = readFileSync(path);
  const ms = performance.now() - start;
  result = report({ ms, openMs: 0, fileCount: 0, recordCount: 0, bytes: bytes.length });
} else {
  result = openAndRead();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
