import { linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, MemoryStorage } from '../../src/index.js';
import { FaultStorage } from '../support/fault-storage.js';
import { expectCode } from '../support/expect-code.js';

/**
 * One writer per cartridge file, within one process: a second writable handle is refused with
 * LOCKED before it reads or truncates anything; readers may sit beside the writer; closing
 * (even a poisoned or failed close) releases the lock. Real files in a temp directory, and the
 * memory and fault storages, which must refuse the same way.
 */

let directory: string;
let opened: Cartridge[] = [];

function track(cartridge: Cartridge): Cartridge {
  opened.push(cartridge);
  return cartridge;
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-lock-'));
  opened = [];
});

afterEach(() => {
  for (const cartridge of opened) cartridge.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('one writer per file (real files)', () => {
  it('refuses a second writable open with LOCKED naming this process', () => {
    const path = join(directory, 'a.cart');
    const writer = track(Cartridge.create(path));
    writer.createFile('/x', 'one');
    const error = expectCode(() => Cartridge.open(path), 'LOCKED');
    expect(error.holderPid).toBe(process.pid);
    expect(typeof error.holderHost).toBe('string');
    writer.createFile('/y', 'two');
    expect(writer.readFile('/x').toString()).toBe('one');
  });

  it('refuses a second writer reaching the same file by a symbolic or a hard link', () => {
    const path = join(directory, 'a.cart');
    const writer = track(Cartridge.create(path));
    symlinkSync(path, join(directory, 'symbolic.cart'));
    linkSync(path, join(directory, 'hard.cart'));
    expectCode(() => Cartridge.open(join(directory, 'symbolic.cart')), 'LOCKED');
    expectCode(() => Cartridge.open(join(directory, 'hard.cart')), 'LOCKED');
    writer.createFile('/x', 'still writing');
  });

  it('refuses a create over a live cartridge without truncating it', () => {
    const path = join(directory, 'a.cart');
    const writer = track(Cartridge.create(path, { durability: 'full' }));
    writer.createFile('/x', 'kept');
    const before = readFileSync(path);
    expectCode(() => Cartridge.create(path), 'LOCKED');
    expect(readFileSync(path).equals(before)).toBe(true);
    writer.createFile('/y', 'more');
    writer.close();
    const reopened = track(Cartridge.open(path));
    expect(reopened.readFile('/x').toString()).toBe('kept');
    expect(reopened.readFile('/y').toString()).toBe('more');
    expect(reopened.verify().ok).toBe(true);
  });

  it('lets read-only opens sit beside the writer', () => {
    const path = join(directory, 'a.cart');
    const writer = track(Cartridge.create(path));
    writer.createFile('/x', 'seen');
    writer.flush();
    const reader = track(Cartridge.open(path, { readOnly: true }));
    expect(reader.readFile('/x').toString()).toBe('seen');
    writer.createFile('/y', 'later');
    expect(reader.exists('/y')).toBe(false);
  });

  it('releases the lock at close, so the next writer opens', () => {
    const path = join(directory, 'a.cart');
    const first = Cartridge.create(path);
    first.createFile('/x', '1');
    first.close();
    const second = track(Cartridge.open(path));
    second.createFile('/y', '2');
    expectCode(() => Cartridge.open(path), 'LOCKED');
    second.close();
    const third = track(Cartridge.open(path));
    expect(third.listDir('/')).toEqual(['x', 'y']);
  });

  it('a refused open leaves the writer and the file intact', () => {
    const path = join(directory, 'a.cart');
    const writer = track(Cartridge.create(path));
    for (let index = 0; index < 20; index++) {
      expectCode(() => Cartridge.open(path), 'LOCKED');
      writer.createFile(`/f${index}`, `content ${index}`);
    }
    writer.close();
    const reopened = track(Cartridge.open(path));
    expect(reopened.listDir('/')).toHaveLength(20);
    expect(reopened.readFile('/f19').toString()).toBe('content 19');
    expect(reopened.verify().ok).toBe(true);
  });
});

describe('one writer per file (memory and fault storages)', () => {
  it('refuses a second writable handle on one memory path, and frees it at close', () => {
    const storage = new MemoryStorage();
    const writer = track(Cartridge.create('/m.cart', { storage }));
    writer.createFile('/x', 'x');
    expectCode(() => Cartridge.open('/m.cart', { storage }), 'LOCKED');
    expectCode(() => Cartridge.create('/m.cart', { storage }), 'LOCKED');
    const reader = track(Cartridge.open('/m.cart', { storage, readOnly: true }));
    expect(reader.readFile('/x').toString()).toBe('x');
    writer.close();
    const next = track(Cartridge.open('/m.cart', { storage }));
    expect(next.readFile('/x').toString()).toBe('x');
  });

  it('a simulated crash ends the dead writer lock', () => {
    const storage = new FaultStorage(1);
    const writer = Cartridge.create('/f.cart', { storage, durability: 'full' });
    writer.createFile('/x', 'durable');
    expectCode(() => Cartridge.open('/f.cart', { storage }), 'LOCKED');
    storage.crash({ kind: 'drop-unsynced' });
    const next = track(Cartridge.open('/f.cart', { storage }));
    expect(next.readFile('/x').toString()).toBe('durable');
  });
});
