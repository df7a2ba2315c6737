import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunCli, warmUpCli } from './cli-warm-up.js';
import { currentTarget, encodeCodeCache } from './code-cache-file.js';
import {
  CLI_BUNDLE_NAME,
  codeCachePathOf,
  type CompiledEngine,
  compileEngine,
  ENGINE_BUNDLE_NAME,
} from './engine-loader.js';
import { type Engine, warmUp } from './warm-up.js';

/**
 * Writes the code caches of the engine bundle and of the `cartridge` command's bundle
 * (ARCHITECTURE 77): each bundle is compiled without a cache, its warm-up runs, and what V8
 * compiled is saved beside it. The build runs it (`tools/bundle-engine.mjs`), and so does
 * `npm install` (`native/build.mjs`), so that the caches match the Node.js that will read them.
 * Bundled by the build into `dist/engine/write-code-cache.mjs`; run as
 * `node write-code-cache.mjs [engine directory]` (by default the directory it is in).
 * Returns the bytes written.
 */
export async function writeCodeCaches(engineDirectory: string): Promise<number> {
  const engine = compileEngine(join(engineDirectory, ENGINE_BUNDLE_NAME), { useCache: false });
  let written = await withScratch(async (scratch) => {
    warmUp(engine.exports as unknown as Engine, join(scratch, 'warm-up.cart'));
    return saveCache(engine);
  });
  const cli = compileEngine(join(engineDirectory, CLI_BUNDLE_NAME), { useCache: false });
  written += await withScratch(async (scratch) => {
    await warmUpCli(cli.exports.runCli as RunCli, join(scratch, 'warm-up.cart'));
    return saveCache(cli);
  });
  return written;
}

async function withScratch(body: (scratch: string) => Promise<number>): Promise<number> {
  const scratch = mkdtempSync(join(tmpdir(), 'cartridge-code-cache-'));
  try {
    return await body(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Saves what V8 compiled of this bundle beside it; returns the bytes written. */
function saveCache(compiled: CompiledEngine): number {
  const bytes = encodeCodeCache(
    currentTarget(compiled.bundleDigest),
    compiled.script.createCachedData(),
  );
  // Written whole under another name, then renamed: a reader never sees half a cache.
  const target = codeCachePathOf(compiled.bundlePath);
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, bytes);
  renameSync(partial, target);
  return bytes.length;
}
