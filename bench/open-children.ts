import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import {
  bundleEngine,
  linkPackages,
  unlinkPackages,
  writeCodeCache,
} from '../tools/bundle-engine.mjs';
import type { ChildMode, ChildReport } from './open-child.js';

/**
 * Spawning the open child (`open-child.ts`): under `node --import tsx`, or under plain `node`
 * from an esbuild bundle of the child script that imports Cartridge through the package entry,
 * built from the sources into the scratch directory as `npm run build` builds `dist/engine`
 * (the engine bundle and its V8 code cache, ARCHITECTURE 77): what an application that
 * installed the package runs.
 */

const benchDirectory = dirname(fileURLToPath(import.meta.url));
const projectRoot = dirname(benchDirectory);
const childScript = join(benchDirectory, 'open-child.ts');

/** Bundles the child script (Cartridge through its package entry) for plain node. */
export function bundleChild(directory: string): string {
  const engineDirectory = join(directory, 'engine');
  bundleEngine(engineDirectory);
  // The child keeps its import of the public entry (`../src/index.js`), which resolves, from
  // the child's folder, to a module that re-exports the package entry.
  mkdirSync(join(directory, 'src'));
  writeFileSync(join(directory, 'src', 'index.js'), "export * from '../engine/index.js';\n");
  const outfile = join(directory, 'child', 'open-child.mjs');
  buildSync({
    entryPoints: [childScript],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    target: 'node20',
    logLevel: 'error',
    external: ['../src/index.js'],
  });
  // The bundle's bare imports (and createRequire calls) resolve through links to the
  // project's packages, and `cartridge-vfs` to the project itself, as in an application that
  // installed it: that is where the native addons (`native/build`) are found.
  linkPackages(directory);
  // The cache is written once the links exist: the engine finds its packages through them.
  writeCodeCache(engineDirectory);
  return outfile;
}

/** Removes the links (never what they point to) before the scratch directory is deleted. */
export { unlinkPackages as unlinkModules };

export interface ChildOptions {
  /** Run this bundle under plain node instead of the script under tsx. */
  readonly bundle?: string;
  /** Kill the child after this long and throw `TIME_BUDGET` (the caller's remaining budget). */
  readonly timeoutMs?: number;
}

export function runChild(
  mode: ChildMode,
  args: readonly string[],
  options: ChildOptions = {},
): ChildReport {
  const script = options.bundle === undefined ? ['--import', 'tsx', childScript] : [options.bundle];
  const result = spawnSync(process.execPath, [...script, mode, ...args], {
    cwd: projectRoot,
    encoding: 'utf8',
    maxBuffer: 1024 * 1024,
    ...(options.timeoutMs === undefined
      ? {}
      : { timeout: Math.max(1, Math.round(options.timeoutMs)) }),
  });
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    throw Object.assign(new Error(`open child (${mode}) ran past the time budget`), {
      code: 'TIME_BUDGET',
    });
  }
  if (result.status !== 0) {
    // The child prints an engine error's code first on its stderr; keep it for the report.
    // A child killed by the kernel (out of memory) has no code but its signal.
    const code =
      /\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/.exec(result.stderr)?.[1] ??
      result.signal ??
      'CHILD_FAILED';
    throw Object.assign(
      new Error(
        `open child (${mode}) failed (${String(result.status ?? result.signal)}): ${result.stderr}`,
      ),
      { code },
    );
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as ChildReport;
}
