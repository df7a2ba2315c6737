import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { FaultStorage } from '../support/fault-storage.js';
import { codeThrownBy, expectCode } from '../support/expect-code.js';

/**
 * Hostile files and failed creates: open checks the file type before anything can block, the
 * look at a zero tail is bounded, and a create that fails leaves nothing that opens as a
 * cartridge.
 */

const OPEN_CHILD = fileURLToPath(new URL('../support/open-child.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD_TIMEOUT_MS = 30_000;

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-hostile-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** Runs one open in a child process, so that a hang fails this test instead of the run. */
function openInChild(action: string, path: string): string {
  const result = spawnSync(process.execPath, ['--import', 'tsx', OPEN_CHILD, action, path], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    timeout: CHILD_TIMEOUT_MS,
  });
  if (result.error !== undefined) return `child failed: ${String(result.error)}`;
  return result.stdout.trim();
}

describe('opens check the file type first', () => {
  it('refuses a FIFO at once, read-only, writable and create, without blocking', () => {
    const fifo = join(directory, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(openInChild('open-read-only', fifo)).toBe('NOT_A_CARTRIDGE');
    expect(openInChild('open', fifo)).toBe('NOT_A_CARTRIDGE');
    expect(openInChild('create', fifo)).toBe('NOT_A_CARTRIDGE');
  });

  it('refuses a directory with IO_ERROR carrying EISDIR', () => {
    const inner = join(directory, 'inner');
    mkdirSync(inner);
    const readOnly = expectCode(() => Cartridge.open(inner, { readOnly: true }), 'IO_ERROR');
    expect(readOnly.systemCode).toBe('EISDIR');
    expect(codeThrownBy(() => Cartridge.open(inner))).toBe('IO_ERROR');
  });

  it('refuses a character device with NOT_A_CARTRIDGE', () => {
    expectCode(() => Cartridge.open('/dev/zero', { readOnly: true }), 'NOT_A_CARTRIDGE');
  });
});

describe('a zero tail is looked at only so far', () => {
  it('opens a cartridge followed by a 2 GiB sparse zero tail quickly', () => {
    const path = join(directory, 'sparse.cart');
    const cartridge = Cartridge.create(path);
    cartridge.createFile('/kept', 'kept');
    cartridge.close();
    const validBytes = statSync(path).size;
    truncateSync(path, validBytes + 2 * 1024 ** 3);
    for (const readOnly of [true, true, false]) {
      const startedAt = performance.now();
      const reopened = Cartridge.open(path, { readOnly });
      const elapsedMs = performance.now() - startedAt;
      expect(reopened.recovery.label).toBe('@zero-tail');
      expect(reopened.readFile('/kept').toString()).toBe('kept');
      // Reading 2 GiB took 21 s; the bounded look reads 64 MiB (about 0.1 s here).
      expect(elapsedMs).toBeLessThan(5_000);
      reopened.close();
    }
    // The writable open cut the tail away.
    expect(statSync(path).size).toBe(validBytes);
  });

  it('still refuses zeros inside the length the header records as durable', () => {
    const path = join(directory, 'zeroed.cart');
    const cartridge = Cartridge.create(path, { durability: 'full' });
    for (let index = 0; index < 20; index++) cartridge.createFile(`/f${index}`, `content ${index}`);
    cartridge.close();
    const sizeBytes = statSync(path).size;
    // Zero the last 200 bytes of the durable journal, keeping the length.
    truncateSync(path, sizeBytes - 200);
    truncateSync(path, sizeBytes);
    expectCode(() => Cartridge.open(path, { readOnly: true }), 'JOURNAL_CORRUPT');
  });
});

describe('a create that fails leaves nothing that opens as a cartridge', () => {
  const PATH = '/created.cart';

  it('disk full at the first write: the file is removed', () => {
    const storage = new FaultStorage(1);
    storage.failOn({ operation: 'write', nth: 1, errorCode: 'ENOSPC' });
    expectCode(() => Cartridge.create(PATH, { storage }), 'ENOSPC');
    expect(storage.exists(PATH)).toBe(false);
  });

  it('a failed fsync: the file is removed', () => {
    const storage = new FaultStorage(2);
    storage.failOn({ operation: 'sync', nth: 1 });
    expectCode(() => Cartridge.create(PATH, { storage }), 'IO_ERROR');
    expect(storage.exists(PATH)).toBe(false);
  });

  it('disk full at the header write, with a real file: nothing is left', () => {
    // A real file system cannot be filled here, so the check is on a file that the
    // header-last order would leave: genesis written, header zero.
    const path = join(directory, 'headerless.cart');
    const cartridge = Cartridge.create(path);
    cartridge.close();
    const bytes = Buffer.alloc(statSync(path).size);
    writeFileSync(path, bytes.fill(0, 0, 8192));
    expectCode(() => Cartridge.open(path, { readOnly: true }), 'NOT_A_CARTRIDGE');
  });

  it('a crash at every point of create leaves no cartridge, or one with its genesis', () => {
    for (let budget = 0; budget < 12; budget++) {
      for (const keepUnsyncedEntries of [false, true]) {
        const storage = new FaultStorage(budget);
        storage.crashAfter(budget);
        let created: Cartridge | undefined;
        try {
          created = Cartridge.create(PATH, { storage });
        } catch {
          created = undefined;
        }
        storage.crash({ kind: 'keep-subset', seed: budget, keepUnsyncedEntries });
        if (created !== undefined) continue;
        let reopened: Cartridge;
        try {
          reopened = Cartridge.open(PATH, { storage, readOnly: true });
        } catch (error) {
          expect(['ENOENT', 'NOT_A_CARTRIDGE']).toContain((error as { code?: unknown }).code);
          continue;
        }
        const report = reopened.verify();
        expect(report.ok).toBe(true);
        expect(report.recordsChecked).toBeGreaterThanOrEqual(1);
        reopened.close();
      }
    }
  });
});
