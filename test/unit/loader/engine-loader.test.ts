import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CodeCacheTarget,
  currentTarget,
  encodeCodeCache,
} from '../../../src/loader/code-cache-file.js';
import {
  codeCachePathOf,
  compileEngine,
  ENGINE_BUNDLE_NAME,
} from '../../../src/loader/engine-loader.js';
import { codeThrownBy } from '../../support/expect-code.js';

/**
 * The loader of the engine bundle, on a small bundle written here: what it hands the bundle's
 * code, and what it says and does with each state of the code cache. The real engine is loaded
 * through the built package entry in `package-entry.test.ts`.
 */

const CODE = [
  'exports.moduleUrl = __cartridgeModuleUrl;',
  'exports.load = __cartridgeEngineLoad;',
  'exports.filename = __filename;',
  'exports.add = function add(left, right) { return left + right; };',
  "exports.importPath = () => __cartridgeImport('node:path').then((module) => typeof module.join);",
].join('\n');
const DIGEST = createHash('sha256').update(CODE).digest('hex');

let directory: string;
let bundlePath: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-loader-'));
  bundlePath = join(directory, ENGINE_BUNDLE_NAME);
  writeFileSync(bundlePath, `// cartridge-engine sha256:${DIGEST}\n${CODE}`);
});

afterEach(() => {
  delete process.env.CARTRIDGE_CODE_CACHE;
  rmSync(directory, { recursive: true, force: true });
});

/** Writes a cache made by compiling the bundle and running one of its functions. */
function writeCache(target: CodeCacheTarget = currentTarget(DIGEST)): void {
  const compiled = compileEngine(bundlePath, { useCache: false });
  expect((compiled.exports.add as (left: number, right: number) => number)(2, 3)).toBe(5);
  const data = compiled.script.createCachedData();
  writeFileSync(codeCachePathOf(bundlePath), encodeCodeCache(target, data));
}

describe('engine loader', () => {
  it('runs the bundle with its URL, its file name and how it was loaded', async () => {
    const importModule = (specifier: string) => import(specifier);
    const { exports, load, bundleDigest } = compileEngine(bundlePath, { importModule });
    expect(bundleDigest).toBe(DIGEST);
    expect(exports.moduleUrl).toBe(pathToFileURL(bundlePath).href);
    expect(exports.filename).toBe(bundlePath);
    expect(exports.load).toEqual({ form: 'bundle', codeCache: 'absent' });
    expect(load).toBe(exports.load);
    expect(Object.isFrozen(load)).toBe(true);
    // The modules the engine loads on first use come through the import() it was given.
    await expect((exports.importPath as () => Promise<string>)()).resolves.toBe('function');
    const without = compileEngine(bundlePath).exports.importPath as () => Promise<string>;
    await expect(without()).rejects.toBeInstanceOf(Error);
  });

  it('hands V8 a cache made for this bundle, and V8 takes it', () => {
    writeCache();
    const { exports, load } = compileEngine(bundlePath);
    expect(load.codeCache).toBe('accepted');
    expect((exports.add as (left: number, right: number) => number)(20, 22)).toBe(42);
  });

  it('does not offer a cache made for another bundle or another Node.js', () => {
    for (const target of [
      currentTarget('0'.repeat(64)),
      { ...currentTarget(DIGEST), node: 'v0.0.1' },
      { ...currentTarget(DIGEST), arch: 'other' },
    ]) {
      writeCache(target);
      expect(compileEngine(bundlePath).load.codeCache).toBe('stale');
    }
  });

  it('says so when V8 refuses the bytes, and runs the bundle all the same', () => {
    const garbage = Buffer.alloc(4096, 0x5a);
    writeFileSync(codeCachePathOf(bundlePath), encodeCodeCache(currentTarget(DIGEST), garbage));
    const { exports, load } = compileEngine(bundlePath);
    expect(load.codeCache).toBe('rejected');
    expect((exports.add as (left: number, right: number) => number)(1, 1)).toBe(2);
  });

  it('does not offer V8 a cache whose bytes were damaged', () => {
    writeCache();
    const path = codeCachePathOf(bundlePath);
    const bytes = readFileSync(path);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0x40;
    writeFileSync(path, bytes);
    const { exports, load } = compileEngine(bundlePath);
    expect(load.codeCache).toBe('damaged');
    expect((exports.add as (left: number, right: number) => number)(1, 2)).toBe(3);
  });

  it('treats a file that is not a cache as stale', () => {
    writeFileSync(codeCachePathOf(bundlePath), 'not a cache');
    expect(compileEngine(bundlePath).load.codeCache).toBe('stale');
  });

  it('leaves the cache alone when CARTRIDGE_CODE_CACHE=0', () => {
    writeCache();
    process.env.CARTRIDGE_CODE_CACHE = '0';
    const { exports, load } = compileEngine(bundlePath);
    expect(load).toEqual({ form: 'bundle', codeCache: 'disabled' });
    expect(exports.load).toEqual(load);
  });

  it('refuses a file that is not an engine bundle', () => {
    writeFileSync(bundlePath, CODE);
    expect(codeThrownBy(() => compileEngine(bundlePath))).toBe('ERR_ASSERTION');
  });
});
