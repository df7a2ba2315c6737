import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentTarget, encodeCodeCache } from './code-cache-file.js';
import { CODE_CACHE_NAME, compileEngine, ENGINE_BUNDLE_NAME } from './engine-loader.js';
import { type Engine, warmUp } from './warm-up.js';

/**
 * Writes the engine bundle's code cache (ARCHITECTURE 77): compiles the bundle without a
 * cache, runs the warm-up, and saves what V8 compiled, next to the bundle. The build runs it
 * (`tools/bundle-engine.mjs`), and so does `npm install` (`native/build.mjs`), so that the
 * cache matches the Node.js that will run it. Bundled by the build into
 * `dist/engine/write-code-cache.mjs`; run as `node write-code-cache.mjs [engine directory]`
 * (by default the directory it is in). Exits 0 with the cache written, 1 with a reason.
 */
export function writeCodeCache(engineDirectory: string): number {
  const compiled = compileEngine(join(engineDirectory, ENGINE_BUNDLE_NAME), { useCache: false });
  const scratch = mkdtempSync(join(tmpdir(), 'cartridge-code-cache-'));
  try {
    warmUp(compiled.exports as unknown as Engine, join(scratch, 'warm-up.cart'));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const bytes = encodeCodeCache(
    currentTarget(compiled.bundleDigest),
    compiled.script.createCachedData(),
  );
  // Written whole under another name, then renamed: a reader never sees half a cache.
  const target = join(engineDirectory, CODE_CACHE_NAME);
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, bytes);
  renameSync(partial, target);
  return bytes.length;
}
