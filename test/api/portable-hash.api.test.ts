import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';

/**
 * The portable BLAKE3 (for platforms without the native binding, such as 32-bit ARM) gives the
 * same chain: a cartridge written with one implementation verifies with the other, both ways.
 * The fallback is forced in a child process with `CARTRIDGE_PORTABLE_HASH=1`.
 */

const CHILD = join('test', 'support', 'portable-hash-child.ts');
let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-portable-hash-'));
});

afterEach(() => rmSync(directory, { recursive: true, force: true }));

function child(path: string, mode: 'create' | 'verify', portable: boolean) {
  const output = execFileSync(process.execPath, ['--import', 'tsx', CHILD, path, mode], {
    env: { ...process.env, CARTRIDGE_PORTABLE_HASH: portable ? '1' : '0' },
    encoding: 'utf8',
  });
  return JSON.parse(output) as {
    implementation: string;
    ok: boolean;
    headHash: string;
    content: string;
  };
}

describe('the portable BLAKE3', () => {
  it('writes cartridges the native build verifies, and reads what it wrote', () => {
    const path = join(directory, 'portable.cart');
    const written = child(path, 'create', true);
    expect(written).toMatchObject({
      implementation: 'portable',
      ok: true,
      content: 'one and more',
    });
    const native = Cartridge.open(path);
    const report = native.verify();
    native.close();
    expect(report.ok).toBe(true);
    expect(report.headHash).toBe(written.headHash);
    const reread = child(path, 'verify', true);
    expect(reread).toMatchObject({
      implementation: 'portable',
      ok: true,
      headHash: written.headHash,
    });
  });

  it('verifies what the native build wrote', () => {
    const path = join(directory, 'native.cart');
    const written = child(path, 'create', false);
    expect(written.implementation).toBe('native');
    expect(child(path, 'verify', true)).toMatchObject({
      implementation: 'portable',
      ok: true,
      headHash: written.headHash,
    });
  });
});
