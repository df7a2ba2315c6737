import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { ChildMode, ChildReport } from './open-child.js';

/**
 * Spawning the open child (`open-child.ts`): under `node --import tsx`, or under plain `node`
 * from an esbuild bundle of the child script (what a deployed, compiled Cartridge would see).
 */

const benchDirectory = dirname(fileURLToPath(import.meta.url));
const projectRoot = dirname(benchDirectory);
const childScript = join(benchDirectory, 'open-child.ts');

/** Bundles the child script (Cartridge's sources inlined, packages external) for plain node. */
export function bundleChild(directory: string): string {
  const outfile = join(directory, 'open-child.mjs');
  buildSync({
    entryPoints: [childScript],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    target: 'node20',
    logLevel: 'error',
  });
  // The bundle's bare imports (and createRequire calls) resolve through links to the
  // project's packages, and `cartridge-vfs` to the project itself, as in an application that
  // installed it: that is where the native addons (`native/build`) are found.
  const modules = join(directory, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(join(projectRoot, 'node_modules'))) {
    symlinkSync(join(projectRoot, 'node_modules', name), join(modules, name));
  }
  symlinkSync(projectRoot, join(modules, 'cartridge-vfs'), 'dir');
  return outfile;
}

/** Removes the links (never what they point to) before the scratch directory is deleted. */
export function unlinkModules(directory: string): void {
  rmSync(join(directory, 'node_modules'), { recursive: true, force: true });
}

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
