import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { MAPPED_WRITES_AVAILABLE, mappedWritesMade } from '../../src/journal/io/mapped-tail.js';
import { type CrashMode, FaultStorage } from '../support/fault-storage.js';

/**
 * In the 'full' durability mode the writer keeps zeros written ahead of the journal's end, so
 * that each durable commit overwrites the file instead of growing it (src/journal/
 * journal-reservation.ts). These tests hold it to what it promises: a closed cartridge ends at
 * its journal's end; a crash with zeros past the end loses no acknowledged commit and the next
 * writer cuts them; readers of a live file see every commit and nothing else; a disk that
 * fills up while reserving fails no commit.
 */

const PATH = '/reserved.cart';

function fullCartridge(storage: FaultStorage): Cartridge {
  return Cartridge.create(PATH, { storage, durability: 'full' });
}

function contentOf(index: number): string {
  return `commit ${index} `.repeat(40);
}

describe("the reservation of the 'full' durability mode", () => {
  it('keeps zeros past the journal end while open, and gives them back at close', () => {
    const storage = new FaultStorage(11);
    const cartridge = fullCartridge(storage);
    for (let index = 0; index < 20; index++) cartridge.createFile(`/f${index}`, contentOf(index));
    const head = cartridge.head;
    const bytes = storage.snapshot(PATH);
    expect(bytes.length).toBeGreaterThan(head);
    expect(bytes.subarray(head).every((byte) => byte === 0)).toBe(true);
    cartridge.close();
    expect(storage.snapshot(PATH).length).toBe(head);
    expect(storage.durableSnapshot(PATH).length).toBe(head);
    const reopened = Cartridge.open(PATH, { storage });
    expect(reopened.readFile('/f19').toString()).toBe(contentOf(19));
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });

  it('reserves nothing in the other durability modes', () => {
    for (const durability of ['normal', 'off'] as const) {
      const storage = new FaultStorage(12);
      const cartridge = Cartridge.create(PATH, { storage, durability });
      for (let index = 0; index < 20; index++) cartridge.createFile(`/f${index}`, contentOf(index));
      expect(storage.snapshot(PATH).length).toBe(cartridge.head);
      cartridge.close();
    }
  });

  const crashModes: readonly CrashMode[] = [
    { kind: 'drop-unsynced' },
    { kind: 'tear-last', sectorBytes: 512, seed: 3 },
    { kind: 'keep-subset', seed: 5 },
    { kind: 'size-before-content', seed: 7 },
  ];
  for (const mode of crashModes) {
    it(`loses no acknowledged commit to a crash (${mode.kind}) and cuts the zeros`, () => {
      const storage = new FaultStorage(13);
      const cartridge = fullCartridge(storage);
      const count = 30;
      for (let index = 0; index < count; index++) {
        cartridge.createFile(`/f${index}`, contentOf(index));
      }
      const head = cartridge.head;
      expect(storage.snapshot(PATH).length).toBeGreaterThan(head);
      storage.crash(mode);
      const reopened = Cartridge.open(PATH, { storage });
      // Every commit returned after its sync: all of them survive, and the zeros are gone.
      expect(reopened.head).toBe(head);
      for (let index = 0; index < count; index++) {
        expect(reopened.readFile(`/f${index}`).toString()).toBe(contentOf(index));
      }
      expect(storage.snapshot(PATH).length).toBe(head);
      expect(reopened.verify().ok).toBe(true);
      reopened.createFile('/after', 'written after the crash');
      reopened.close();
      const again = Cartridge.open(PATH, { storage });
      expect(again.readFile('/after').toString()).toBe('written after the crash');
      again.close();
    });
  }

  it('keeps every acknowledged commit when the process dies at any I/O step', () => {
    // Crash after each possible count of I/O operations of a run of commits that crosses a
    // reservation step (1 MiB), then reopen: the state is a prefix of the commits that
    // includes every one that returned.
    const payload = randomBytes(48 * 1024);
    const commits = 56;
    const probe = new FaultStorage(14);
    const probeCartridge = fullCartridge(probe);
    const before = probe.operationCount();
    for (let index = 0; index < commits; index++) probeCartridge.createFile(`/f${index}`, payload);
    const operations = probe.operationCount() - before;
    // The run crosses the first reservation (which ends at 2 MiB) into a second one.
    expect(probeCartridge.head).toBeGreaterThan(2 * 1024 * 1024);
    probeCartridge.close();
    for (let budget = 0; budget <= operations; budget += 3) {
      const storage = new FaultStorage(15 + budget);
      const cartridge = fullCartridge(storage);
      storage.crashAfter(budget);
      let acknowledged = 0;
      try {
        for (let index = 0; index < commits; index++) {
          cartridge.createFile(`/f${index}`, payload);
          acknowledged++;
        }
      } catch {
        // The simulated machine died here.
      }
      storage.crash({ kind: 'drop-unsynced' });
      const reopened = Cartridge.open(PATH, { storage });
      const survived = reopened.exists('/f0')
        ? reopened.listDir('/').filter((name) => name.startsWith('f')).length
        : 0;
      expect(survived, `budget ${budget}`).toBeGreaterThanOrEqual(acknowledged);
      for (let index = 0; index < survived; index++) {
        expect(reopened.readFile(`/f${index}`).equals(payload)).toBe(true);
      }
      expect(reopened.verify().ok).toBe(true);
      reopened.close();
    }
  });

  it('lets a read-only handle read a live file and follow its commits past the zeros', () => {
    const storage = new FaultStorage(16);
    const cartridge = fullCartridge(storage);
    cartridge.createFile('/first', 'one');
    const reader = Cartridge.open(PATH, { storage, readOnly: true });
    expect(reader.head).toBe(cartridge.head);
    expect(reader.readFile('/first').toString()).toBe('one');
    cartridge.createFile('/second', 'two');
    reader.refresh();
    expect(reader.head).toBe(cartridge.head);
    expect(reader.readFile('/second').toString()).toBe('two');
    expect(reader.verify().ok).toBe(true);
    reader.close();
    cartridge.close();
  });

  it('fails no commit when the disk fills up while reserving, and stops reserving', () => {
    const storage = new FaultStorage(17);
    const cartridge = fullCartridge(storage);
    cartridge.createFile('/before', 'ok');
    // The next reservation is the next write: 2 MiB of noise pass the zeros reserved.
    storage.failOn({ operation: 'write', nth: 1, errorCode: 'ENOSPC', partial: true });
    const big = randomBytes(2 * 1024 * 1024);
    cartridge.createFile('/big', big);
    storage.clearFailures();
    // Nothing is reserved any more: the file ends at the journal's end.
    expect(storage.snapshot(PATH).length).toBe(cartridge.head);
    cartridge.createFile('/after', 'still writing');
    expect(storage.snapshot(PATH).length).toBe(cartridge.head);
    cartridge.close();
    const reopened = Cartridge.open(PATH, { storage });
    expect(reopened.readFile('/big').equals(big)).toBe(true);
    expect(reopened.readFile('/after').toString()).toBe('still writing');
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });
});

describe('the reservation of a file that writes in place, in the other modes', () => {
  // A file mapped for writing (src/journal/io/mapped-tail.ts) takes commits as copies only
  // inside itself, so every mode keeps zeros ahead of the journal, in steps of at most 1 MiB.
  for (const durability of ['normal', 'off'] as const) {
    it(`keeps at most a step of zeros ahead in '${durability}', and gives them back`, () => {
      const storage = new FaultStorage(21, true);
      const cartridge = Cartridge.create(PATH, { storage, durability });
      const payload = randomBytes(20 * 1024);
      for (let index = 0; index < 120; index++) {
        cartridge.createFile(`/f${index}`, payload);
        const bytes = storage.snapshot(PATH);
        expect(bytes.length).toBeGreaterThan(cartridge.head);
        expect(bytes.length - cartridge.head).toBeLessThanOrEqual(2 * 1024 * 1024);
      }
      const head = cartridge.head;
      expect(head).toBeGreaterThan(2 * 1024 * 1024);
      expect(storage.snapshot(PATH).subarray(head).every((byte) => byte === 0)).toBe(true);
      cartridge.close();
      // The close's checkpoint may add records; the file ends exactly where they end.
      const reopened = Cartridge.open(PATH, { storage });
      expect(storage.snapshot(PATH).length).toBe(reopened.head);
      expect(reopened.readFile('/f119').equals(payload)).toBe(true);
      reopened.close();
    });

    it(`writes no zeros for large commits in '${durability}': they grow the file`, () => {
      const storage = new FaultStorage(24, true);
      const cartridge = Cartridge.create(PATH, { storage, durability });
      const large = randomBytes(64 * 1024);
      for (let index = 0; index < 50; index++) {
        cartridge.createFile(`/large${index}`, large);
        // Whatever zeros the create's small commits left (at most 2 MiB) are used up by now,
        // and none are added for these.
        if (index >= 34) expect(storage.snapshot(PATH).length).toBe(cartridge.head);
      }
      // A small commit past the end keeps zeros ahead again.
      cartridge.createFile('/small', 'a line');
      expect(storage.snapshot(PATH).length).toBeGreaterThan(cartridge.head);
      cartridge.close();
      const reopened = Cartridge.open(PATH, { storage });
      expect(reopened.readFile('/large49').equals(large)).toBe(true);
      expect(reopened.readFile('/small').toString()).toBe('a line');
      reopened.close();
    });

    it(`keeps a prefix of the commits in '${durability}' when the machine dies at any step`, () => {
      const payload = randomBytes(48 * 1024);
      const commits = 50;
      const probe = new FaultStorage(22, true);
      const probeCartridge = Cartridge.create(PATH, { storage: probe, durability });
      const before = probe.operationCount();
      for (let index = 0; index < commits; index++)
        probeCartridge.createFile(`/f${index}`, payload);
      const operations = probe.operationCount() - before;
      probeCartridge.close();
      for (let budget = 0; budget <= operations; budget += 2) {
        const storage = new FaultStorage(23 + budget, true);
        const cartridge = Cartridge.create(PATH, { storage, durability });
        cartridge.flush();
        storage.crashAfter(budget);
        try {
          for (let index = 0; index < commits; index++) cartridge.createFile(`/f${index}`, payload);
        } catch {
          // The simulated machine died here.
        }
        storage.crash({ kind: 'keep-subset', seed: budget });
        const reopened = Cartridge.open(PATH, { storage });
        const names = reopened.listDir('/');
        // What survives is a prefix of the commits, each whole, and nothing else.
        expect(names.sort()).toEqual(
          Array.from({ length: names.length }, (_, index) => `f${index}`).sort(),
        );
        for (const name of names) expect(reopened.readFile(`/${name}`).equals(payload)).toBe(true);
        expect(storage.snapshot(PATH).length).toBe(reopened.head);
        expect(reopened.verify().ok).toBe(true);
        reopened.close();
      }
    });
  }
});

describe('the reservation on a real file', () => {
  let directory: string | undefined;
  afterEach(() => {
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    directory = undefined;
  });

  it('grows the file ahead of the journal and cuts it at close', () => {
    directory = mkdtempSync(join(tmpdir(), 'reservation-'));
    const path = join(directory, 'real.cart');
    const cartridge = Cartridge.create(path, { durability: 'full' });
    for (let index = 0; index < 50; index++) cartridge.createFile(`/f${index}`, contentOf(index));
    expect(statSync(path).size).toBeGreaterThanOrEqual(1024 * 1024);
    const head = cartridge.head;
    cartridge.close();
    expect(statSync(path).size).toBe(head);
    const reopened = Cartridge.open(path, { durability: 'full' });
    expect(reopened.readFile('/f49').toString()).toBe(contentOf(49));
    reopened.close();
  });

  it.skipIf(!MAPPED_WRITES_AVAILABLE)(
    "keeps zeros ahead in 'normal' too, and writes commits through the mapping",
    () => {
      directory = mkdtempSync(join(tmpdir(), 'reservation-'));
      const path = join(directory, 'mapped.cart');
      const cartridge = Cartridge.create(path);
      const before = mappedWritesMade();
      for (let index = 0; index < 50; index++) cartridge.createFile(`/f${index}`, contentOf(index));
      expect(mappedWritesMade() - before).toBeGreaterThanOrEqual(49);
      expect(statSync(path).size).toBeGreaterThan(cartridge.head);
      cartridge.close();
      const reopened = Cartridge.open(path);
      expect(statSync(path).size).toBe(reopened.head);
      expect(reopened.readFile('/f49').toString()).toBe(contentOf(49));
      expect(reopened.verify().ok).toBe(true);
      reopened.close();
    },
  );
});
