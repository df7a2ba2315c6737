import { describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { FaultStorage } from '../support/fault-storage.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Durability as documented, measured with the fault storage's sync counter and its simulated
 * power loss: 'normal' syncs inside a synchronous loop that never lets the event loop turn, and
 * `close()` syncs what was committed even when its checkpoint fails on a full disk.
 */

const PATH = '/durability.cart';

/** Commits in a loop that never yields, for `durationMs`; returns the commits made. */
function commitWithoutYielding(cartridge: Cartridge, durationMs: number): number {
  const startedAt = performance.now();
  let count = 0;
  while (performance.now() - startedAt < durationMs) {
    cartridge.createFile(`/loop/${count}`, `commit ${count}`);
    count++;
  }
  return count;
}

describe("durability 'normal' without an event loop turn", () => {
  it('syncs inside a synchronous loop longer than syncIntervalMs', () => {
    const storage = new FaultStorage(1);
    const syncIntervalMs = 40;
    const cartridge = Cartridge.create(PATH, { storage, durability: 'normal', syncIntervalMs });
    const before = storage.syncCount;
    const durationMs = 400;
    const commits = commitWithoutYielding(cartridge, durationMs);
    const syncs = storage.syncCount - before;
    expect(commits).toBeGreaterThan(10);
    // One journal sync plus one header sync per passed deadline: at least a few deadlines.
    expect(syncs).toBeGreaterThanOrEqual(4);
    // Far fewer than one per commit: the deadline batches commits, as 'normal' promises.
    expect(syncs).toBeLessThan(commits);
    cartridge.close();
  });

  it('loses at most the last interval of commits to a power cut during the loop', () => {
    const storage = new FaultStorage(2);
    const syncIntervalMs = 30;
    const cartridge = Cartridge.create(PATH, { storage, durability: 'normal', syncIntervalMs });
    const returnedAtMs: number[] = [];
    const startedAt = performance.now();
    for (let index = 0; performance.now() - startedAt < 300; index++) {
      cartridge.createFile(`/loop/${index}`, `commit ${index}`);
      returnedAtMs.push(performance.now());
    }
    const cutAtMs = performance.now();
    storage.crash({ kind: 'drop-unsynced' });
    const reopened = Cartridge.open(PATH, { storage });
    const survived = reopened.exists('/loop') ? reopened.listDir('/loop').length : 0;
    // Every commit that returned more than an interval (plus slack for one commit) before the
    // cut must have been synced by a later commit's deadline check.
    const mustSurvive = returnedAtMs.filter((atMs) => cutAtMs - atMs > 2 * syncIntervalMs).length;
    expect(survived).toBeGreaterThanOrEqual(mustSurvive);
    expect(mustSurvive).toBeGreaterThan(0);
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });

  it('does not sync per commit while the deadline has not passed', () => {
    const storage = new FaultStorage(3);
    const cartridge = Cartridge.create(PATH, {
      storage,
      durability: 'normal',
      syncIntervalMs: 3_600_000,
    });
    const before = storage.syncCount;
    for (let index = 0; index < 200; index++) cartridge.createFile(`/f${index}`, 'x');
    expect(storage.syncCount).toBe(before);
    cartridge.close();
    expect(storage.syncCount).toBeGreaterThan(before);
  });
});

describe('close() when its checkpoint fails', () => {
  function filledCartridge(storage: FaultStorage): Cartridge {
    // 'off' never syncs on its own, and enough journal for close to write a checkpoint.
    const cartridge = Cartridge.create(PATH, {
      storage,
      durability: 'off',
      compression: 'none',
      checkpointIntervalBytes: 1024 * 1024 * 1024,
    });
    for (let index = 0; index < 40; index++) {
      cartridge.createFile(`/f${index}`, Buffer.alloc(40 * 1024, index));
    }
    return cartridge;
  }

  it('syncs every commit, then reports the checkpoint failure', () => {
    const storage = new FaultStorage(4);
    const cartridge = filledCartridge(storage);
    const syncsBefore = storage.syncCount;
    // The first write close makes is its checkpoint's: the disk is full for it.
    storage.failOn({ operation: 'write', nth: 1, errorCode: 'ENOSPC' });
    expectCode(() => cartridge.close(), 'ENOSPC');
    expect(storage.syncCount).toBeGreaterThan(syncsBefore);
    // Closed and released: a later close does not fail again.
    cartridge.close();
    expectCode(() => cartridge.readFile('/f0'), 'CARTRIDGE_CLOSED');
    // A power cut now keeps every commit: close made them durable.
    storage.crash({ kind: 'drop-unsynced' });
    const reopened = Cartridge.open(PATH, { storage });
    expect(reopened.listDir('/')).toHaveLength(40);
    expect(reopened.readFile('/f39')).toEqual(Buffer.alloc(40 * 1024, 39));
    expect(reopened.stats().syncedLength).toBe(reopened.head);
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });

  it('releases the writer lock even when the checkpoint fails', () => {
    const storage = new FaultStorage(5);
    const cartridge = filledCartridge(storage);
    storage.failOn({ operation: 'write', nth: 1, errorCode: 'ENOSPC' });
    expectCode(() => cartridge.close(), 'ENOSPC');
    const next = Cartridge.open(PATH, { storage });
    expect(next.listDir('/')).toHaveLength(40);
    next.close();
  });
});

describe('close() when rewriting the trailing run of small appends fails', () => {
  it('syncs every commit, then reports the failure; the log reads whole after a power cut', () => {
    const storage = new FaultStorage(6);
    const cartridge = Cartridge.create(PATH, {
      storage,
      durability: 'off',
      checkpointIntervalBytes: 1024 * 1024 * 1024,
    });
    cartridge.createFile('/log', '');
    const lines = Array.from({ length: 200 }, (_, index) => `line ${index}\n`);
    for (const line of lines) cartridge.appendFile('/log', line);
    const syncsBefore = storage.syncCount;
    // The first write close makes is the rewrite's: the disk is full for it.
    storage.failOn({ operation: 'write', nth: 1, errorCode: 'ENOSPC' });
    expectCode(() => cartridge.close(), 'ENOSPC');
    expect(storage.syncCount).toBeGreaterThan(syncsBefore);
    storage.crash({ kind: 'drop-unsynced' });
    const reopened = Cartridge.open(PATH, { storage });
    expect(reopened.readFile('/log').toString()).toBe(lines.join(''));
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });
});

