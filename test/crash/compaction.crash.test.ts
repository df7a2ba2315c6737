import { describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/engine/cartridge.js';
import type { CartridgeOptions } from '../../src/engine/options.js';
import type { CartridgeError } from '../../src/errors.js';
import {
  CRASHED_ERROR_CODE,
  type CrashMode,
  FaultStorage,
  type FaultOperation,
} from '../support/fault-storage.js';

/**
 * Compaction against crashes and I/O failures at every step, with the fault-injecting storage:
 * whatever step a crash interrupts (each read, write, sync and truncate of the rewrite, the
 * header, the directory sync), and whatever the disk kept of unsynced writes, the cartridge
 * reopens as the old journal or the new one, whole: it verifies, and reads the same files and
 * snapshot. An I/O error at any step leaves the handle on a whole cartridge too.
 */

const PATH = '/compaction/crash.cart';
const KEY = Buffer.alloc(32, 7);

function optionsOf(storage: FaultStorage, encrypted: boolean): CartridgeOptions {
  return {
    storage,
    durability: 'full',
    checkpointIntervalBytes: 4096,
    ...(encrypted ? { encryptionKey: KEY } : {}),
  };
}

/** A cartridge with dead history, a snapshot before the end, and a view of the head. */
function build(storage: FaultStorage, encrypted: boolean): Cartridge {
  const cart = Cartridge.create(PATH, optionsOf(storage, encrypted));
  cart.createFile('/log.txt', 'start\n');
  for (let round = 0; round < 12; round++) {
    cart.writeFile('/log.txt', `round ${round}\n`.repeat(200));
  }
  cart.createSnapshot('kept');
  cart.createFile('/docs/a.md', 'a'.repeat(5000));
  cart.appendFile('/log.txt', 'tail\n');
  cart.flush();
  return cart;
}

/** What a whole cartridge shows: its files and the snapshot's. */
function contentsOf(cart: Cartridge): string {
  const snapshot = cart.checkout('kept');
  return JSON.stringify([
    cart.readFile('/log.txt').toString('base64'),
    cart.readFile('/docs/a.md').toString('base64'),
    snapshot.readFile('/log.txt').toString('base64'),
    snapshot.exists('/docs/a.md'),
  ]);
}

/** Opens the cartridge after a crash or a failure and checks it is whole: old or new. */
function reopenWhole(storage: FaultStorage, encrypted: boolean, expected: string): 'old' | 'new' {
  const cart = Cartridge.open(PATH, optionsOf(storage, encrypted));
  try {
    const report = cart.verify();
    expect(report).toMatchObject({ ok: true, stateMatches: true });
    expect(contentsOf(cart)).toBe(expected);
    cart.createFile('/after', 'still writable');
    // A temporary file a crash left behind is removed by the next compaction.
    cart.compact();
    expect(storage.exists(`${PATH}.compacting`)).toBe(false);
    return report.compactedFrom === null ? 'old' : 'new';
  } finally {
    cart.close();
  }
}

const CRASH_MODES: readonly ((seed: number) => CrashMode)[] = [
  () => ({ kind: 'drop-unsynced' }),
  (seed) => ({ kind: 'keep-subset', seed }),
  (seed) => ({ kind: 'tear-last', sectorBytes: 512, seed }),
  (seed) => ({ kind: 'size-before-content', seed, keepUnsyncedEntries: true }),
];

/** How many I/O operations a compaction of `build`'s cartridge takes, all told. */
function operationsOfCompaction(encrypted: boolean): number {
  const storage = new FaultStorage(1);
  const cart = build(storage, encrypted);
  const before = storage.operationCount();
  cart.compact();
  const count = storage.operationCount() - before;
  cart.close();
  return count;
}

describe.each([false, true])('compaction crashes (encrypted: %s)', (encrypted) => {
  it('leaves the old cartridge or the new one, whole, whatever step a crash interrupts', () => {
    const total = operationsOfCompaction(encrypted);
    expect(total).toBeGreaterThan(10);
    const outcomes = { old: 0, new: 0 };
    for (let budget = 0; budget <= total; budget++) {
      const mode = CRASH_MODES[budget % CRASH_MODES.length] as (seed: number) => CrashMode;
      const storage = new FaultStorage(budget);
      const cart = build(storage, encrypted);
      const expected = contentsOf(cart);
      storage.crashAfter(budget);
      let finished = false;
      try {
        cart.compact();
        finished = true;
      } catch (error) {
        const code = (error as CartridgeError).systemCode ?? (error as CartridgeError).code;
        expect(code).toBe(CRASHED_ERROR_CODE);
      }
      storage.crash(mode(budget));
      const outcome = reopenWhole(storage, encrypted, expected);
      // A compaction that returned is on disk: its directory entry was synced.
      if (finished) expect(outcome).toBe('new');
      outcomes[outcome]++;
    }
    process.stdout.write(`compaction crash: ${total} operations, outcomes ${JSON.stringify(outcomes)}\n`);
    expect(outcomes.old).toBeGreaterThan(0);
    expect(outcomes.new).toBeGreaterThan(0);
  }, 120_000);

  it('fails cleanly on an I/O error at any step, leaving a whole cartridge', () => {
    const kinds: readonly FaultOperation[] = [
      'write',
      'sync',
      'truncate',
      'read',
      'open',
      'syncDirectory',
    ];
    let failures = 0;
    for (const operation of kinds) {
      for (let nth = 1; nth <= 40; nth++) {
        const storage = new FaultStorage(nth);
        const cart = build(storage, encrypted);
        const expected = contentsOf(cart);
        storage.failOn({ operation, nth });
        let failed = false;
        try {
          cart.compact();
        } catch (error) {
          failed = true;
          expect(['IO_ERROR', 'ENOSPC', 'POISONED']).toContain((error as CartridgeError).code);
        }
        storage.clearFailures();
        try {
          cart.close();
        } catch (error) {
          // A failure after the rename poisons the handle (the path names the new file): its
          // close says so; the cartridge on disk is whole either way.
          expect((error as CartridgeError).code).toBe('POISONED');
        }
        if (failed) failures++;
        reopenWhole(storage, encrypted, expected);
        if (!failed) break;
      }
    }
    expect(failures).toBeGreaterThan(0);
  }, 120_000);
});
