import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as publicApi from '../../../src/index.js';
import {
  bundleEngine,
  linkPackages,
  unlinkPackages,
  writeCodeCache,
} from '../../../tools/bundle-engine.mjs';

/**
 * The package entry as `npm run build` makes it (ARCHITECTURE 77), built from the sources into
 * a scratch directory whose packages resolve as an installed application's do: it exports what
 * `src/index.ts` exports, its engine runs (a cartridge, its errors, SQLite loaded on first use),
 * and a fresh process takes the code cache written for it.
 */

const CHILD = join('test', 'support', 'package-entry-child.mjs');

interface ChildReport {
  readonly load: { readonly form: string; readonly codeCache: string };
  readonly exportNames: readonly string[];
  readonly content: string;
  readonly missingCode: string;
  readonly agent: string;
}

let directory: string;
let entryPath: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-package-entry-'));
  linkPackages(directory);
  entryPath = bundleEngine(join(directory, 'engine')).entryPath;
  writeCodeCache(join(directory, 'engine'));
}, 60_000);

afterAll(() => {
  unlinkPackages(directory);
  rmSync(directory, { recursive: true, force: true });
});

function runChild(environment: NodeJS.ProcessEnv = {}): ChildReport {
  const output = execFileSync(process.execPath, [CHILD, entryPath, directory], {
    encoding: 'utf8',
    env: { ...process.env, ...environment },
  });
  rmSync(join(directory, 'entry.cart'), { force: true });
  return JSON.parse(output.trim().split('\n').pop() as string) as ChildReport;
}

describe('package entry', () => {
  it('exports what the public entry point exports, from a cached bundle', () => {
    const report = runChild();
    expect(report.load).toEqual({ form: 'bundle', codeCache: 'accepted' });
    expect(report.exportNames).toEqual(Object.keys(publicApi).sort());
    expect(report.content).toBe('123');
    expect(report.missingCode).toBe('ENOENT');
    expect(report.agent).toBe('ada');
  }, 60_000);

  it('runs the same without the cache', () => {
    const report = runChild({ CARTRIDGE_CODE_CACHE: '0' });
    expect(report.load).toEqual({ form: 'bundle', codeCache: 'disabled' });
    expect(report.content).toBe('123');
    expect(report.agent).toBe('ada');
  }, 60_000);

  it('reports the module form when the engine runs from its sources', () => {
    expect(publicApi.engineLoad()).toEqual({ form: 'modules', codeCache: 'unused' });
  });
});
