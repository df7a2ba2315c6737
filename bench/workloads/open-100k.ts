import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import type { ChildReport } from '../open-child.js';
import { bundleChild, runChild, unlinkModules } from '../open-children.js';
import { scratchDirectory, smallFileContent, smallFilePath } from '../support.js';

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

const TRANSACTIONS = 10;

export interface PreparedOpen {
  readonly cartridgeBytes: number;
  readonly setupMs: number;
  readonly open: () => ChildReport;
  readonly openPlainNode: () => ChildReport;
  readonly readFile: () => ChildReport;
  readonly teardown: () => void;
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
        cartridge.createFile(smallFilePath(index), smallFileContent(index));
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
    open: () => checked(runChild('open', [path])),
    openPlainNode: () => checked(runChild('open', [path], { bundle })),
    readFile: () => runChild('readfile', [path]),
    teardown: () => {
      unlinkModules(scratch.path);
      scratch.remove();
    },
  };
}
