import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { assert } from '../assert.js';
import { currentTarget, decodeCodeCache, sameTarget } from './code-cache-file.js';
import type { CodeCacheStatus, EngineLoad } from '../engine-load.js';

/**
 * Loads the engine from its single-file bundle with V8's code cache (ARCHITECTURE 77).
 *
 * Node 20 has no code cache for ES modules: every process compiles each engine function the
 * first time it runs, a few hundred of them between an open and its first reads. The package
 * entry therefore runs the engine as one CommonJS bundle through `vm.Script`, handing V8 the
 * bytecode that an earlier run (the build, or `npm install` on this machine) produced, the way
 * Node's own `v8-compile-cache` habit and Node 22's `module.enableCompileCache()` do.
 *
 * The cache is only ever read here, never written at run time: it lives in the package's own
 * directory, written by the same install that wrote the code, so it is trusted as the code is.
 */

/** The engine, behind the package entry. */
export const ENGINE_BUNDLE_NAME = 'cartridge-engine.cjs';
/** The `cartridge` command with its own copy of the engine, behind the package's `bin`. */
export const CLI_BUNDLE_NAME = 'cartridge-cli.cjs';

/** Where a bundle's code cache lives: beside it, `.code-cache` for `.cjs`. */
export function codeCachePathOf(bundlePath: string): string {
  return bundlePath.replace(/\.cjs$/, '.code-cache');
}
/** A bundle's first line: `// cartridge-engine sha256:<64 hex digits>`. */
const DIGEST_LINE = /^\/\/ cartridge-engine sha256:([0-9a-f]{64})\n/;

/**
 * The names the bundle's code is run with: CommonJS's five, the module's URL (what
 * `import.meta.url` is in the sources), how the engine was loaded (`src/engine-load.ts`) and the
 * `import()` its modules loaded on first use go through (`src/dynamic-import.ts`).
 */
const WRAPPER_PARAMETERS = [
  'exports',
  'require',
  'module',
  '__filename',
  '__dirname',
  '__cartridgeModuleUrl',
  '__cartridgeEngineLoad',
  '__cartridgeImport',
].join(', ');

export type EngineExports = Record<string, unknown>;

export interface CompiledEngine {
  readonly exports: EngineExports;
  /** The compiled script, whose `createCachedData()` the cache writer saves. */
  readonly script: vm.Script;
  readonly load: EngineLoad;
  readonly bundlePath: string;
  readonly bundleDigest: string;
}

export interface CompileOptions {
  /** Offer the cache to V8 (the default), or compile lazily (the cache writer). */
  readonly useCache?: boolean;
  /**
   * An `import()` made by an ES module beside the bundle (the package entry's), for the
   * modules the engine loads on first use; without it, those loads fail with the reason.
   */
  readonly importModule?: (specifier: string) => Promise<unknown>;
}

/** Compiles and runs the bundle at this path; the exports are the engine's public API. */
export function compileEngine(bundlePath: string, options: CompileOptions = {}): CompiledEngine {
  const bundle = readFileSync(bundlePath, 'utf8');
  const digest = DIGEST_LINE.exec(bundle)?.[1];
  // The build writes this line; without it the package itself is broken.
  assert(digest !== undefined, `${bundlePath} is not a Cartridge engine bundle`);
  const wanted = options.useCache ?? process.env.CARTRIDGE_CODE_CACHE !== '0';
  const cache = wanted ? readCache(codeCachePathOf(bundlePath), digest) : 'disabled';
  const cachedData = typeof cache === 'string' ? undefined : cache;
  const script = new vm.Script(`(function (${WRAPPER_PARAMETERS}) {${bundle}\n})`, {
    filename: bundlePath,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  const codeCache: CodeCacheStatus =
    typeof cache === 'string' ? cache : script.cachedDataRejected ? 'rejected' : 'accepted';
  const load: EngineLoad = Object.freeze({ form: 'bundle', codeCache });
  const module = { exports: {} as EngineExports };
  const run = script.runInThisContext() as (...parameters: unknown[]) => void;
  run(
    module.exports,
    createRequire(bundlePath),
    module,
    bundlePath,
    dirname(bundlePath),
    pathToFileURL(bundlePath).href,
    load,
    options.importModule ?? importUnavailable,
  );
  return { exports: module.exports, script, load, bundlePath, bundleDigest: digest };
}

/** The cache's bytes for V8, or why there are none to offer. */
function readCache(cachePath: string, bundleDigest: string): Buffer | CodeCacheStatus {
  let bytes: Buffer;
  try {
    bytes = readFileSync(cachePath);
  } catch {
    return 'absent';
  }
  const contents = decodeCodeCache(bytes);
  if (contents === 'damaged') return 'damaged';
  if (contents === null || !sameTarget(contents.target, currentTarget(bundleDigest))) {
    return 'stale';
  }
  return contents.data;
}

function importUnavailable(specifier: string): Promise<unknown> {
  return Promise.reject(new Error(`the engine bundle was loaded without import() (${specifier})`));
}
