import { spawnSync } from 'node:child_process';
import { statSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { Cartridge } from '../../src/index.js';
import type { ChildReport } from '../open-child.js';
import { scratchDirectory } from '../support.js';

/**
 * Open time and memory of a cartridge holding many small files. Setup creates the cartridge
 * (one file of about 100 bytes per entry, 100 per directory, written in a few big
 * transactions) and closes it. Each measurement is a fresh child process that opens it and
 * calls `stats()` (subject), or reads the whole file with one `fs.readFileSync` (baseline).
 * The file was just written, so both sides read it from the page cache.
 *
 * The subject runs twice per round: under `node --import tsx` (the loader costs the process
 * about 35-50 MiB of RSS before Cartridge allocates anything) and under plain `node`, from a
 * bundle of the child script that esbuild (tsx's own dependency) writes into the scratch
 * directory, which is what a deployed, compiled Cartridge would see.
 */

const FILES_PER_DIRECTORY = 100;
const TRANSACTIONS = 10;

const benchDirectory = dirname(dirname(fileURLToPath(import.meta.url)));
const projectRoot = dirname(benchDirectory);
const childScript = join(benchDirectory, 'open-child.ts');

export interface PreparedOpen {
  readonly cartridgeBytes: number;
  readonly setupMs: number;
  readonly open: () => ChildReport;
  readonly openPlainNode: () => ChildReport;
  readonly readFile: () => ChildReport;
  readonly teardown: () => void;
}

/** About 100 bytes of JSON text per file, different for every file. */
function contentOf(index: number): string {
  const text = JSON.stringify({ call: index, agent: `agent-${index % 97}`, status: 'done', tokens: index * 7 % 4093 });
  return text.padEnd(100, ' ');
}

function pathOf(index: number): string {
  const directory = Math.floor(index / FILES_PER_DIRECTORY);
  return `/calls/d${String(directory).padStart(4, '0')}/call-${String(index).padStart(6, '0')}.json`;
}

/** Bundles the child script (Cartridge's sources inlined, packages left external) for plain node. */
function bundleChild(directory: string): string {
  const outfile = join(directory, 'open-child.mjs');
  buildSync({
    entryPoints: [childScript], outfile, bundle: true, platform: 'node', format: 'esm',
    packages: 'external', target: 'node20', logLevel: 'error',
  });
  // The bundle's bare imports (and createRequire calls) resolve through this link.
  symlinkSync(join(projectRoot, 'node_modules'), join(directory, 'node_modules'), 'dir');
  return outfile;
}

/** Removes the link first, so that deleting the scratch directory never walks into it. */
function unlinkModules(directory: string): void {
  try {
    unlinkSync(join(directory, 'node_modules'));
  } catch {
    // Never made (setup failed before the bundle): nothing to remove.
  }
}

function runChild(mode: ChildReport['mode'], path: string, bundle?: string): ChildReport {
  const args = bundle === undefined ? ['--import', 'tsx', childScript, mode, path] : [bundle, mode, path];
  const result = spawnSync(process.execPath, args, { cwd: projectRoot, encoding: 'utf8', maxBuffer: 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`open child (${mode}) failed with ${String(result.status ?? result.signal)}: ${result.stderr}`);
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as ChildReport;
}

export function setup(fileCount: number): PreparedOpen {
  const scratch = scratchDirectory('open');
  const path = join(scratch.path, 'bench.cart');
  const start = performance.now();
  const cartridge = Cartridge.create(path);
  const perTransaction = Math.ceil(fileCount / TRANSACTIONS);
  for (let first = 0; first < fileCount; first += perTransaction) {
    cartridge.transaction(() => {
      for (let index = first; index < Math.min(fileCount, first + perTransaction); index++) {
        cartridge.createFile(pathOf(index), contentOf(index));
      }
    });
  }
  cartridge.close();
  const setupMs = performance.now() - start;
  const bundle = bundleChild(scratch.path);
  const checked = (report: ChildReport): ChildReport => {
    if (report.fileCount !== fileCount) throw new Error(`open child saw ${report.fileCount} files, not ${fileCount}`);
    return report;
  };
  return {
    cartridgeBytes: statSync(path).size,
    setupMs,
    open: () => checked(runChild('open', path)),
    openPlainNode: () => checked(runChild('open', path, bundle)),
    readFile: () => runChild('readfile', path),
    teardown: () => {
      unlinkModules(scratch.path);
      scratch.remove();
    },
  };
}
