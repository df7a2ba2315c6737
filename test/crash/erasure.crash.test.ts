import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Cartridge, type CartridgeOptions, type PathVersion } from '../../src/index.js';
import { type CrashMode, createFaultStorage, type FaultStorage } from '../support/fault-storage.js';

/**
 * Redaction and shredding overwrite committed bytes in place, so they must be crash safe: a
 * crash at any I/O operation of one (the `content.erased` commit and its sync, the header, the
 * marker writes, their sync, the `erasure.settled` commit), under every crash model, leaves the
 * content either whole (no erasure recorded: the old version reads as it was) or erased (the
 * record is there: the old version is `REDACTED` or `SHREDDED`, and once reopened for writing
 * its bytes are gone from the disk). A call that returned is erased. The journal verifies
 * either way, and a second reopen finds nothing left to do.
 */

const PATH = '/crash/erasure.cart';
const SECRET = 'SECRET-CONTENT-OF-THE-OLD-VERSION';

const MODES: readonly ((budget: number) => CrashMode)[] = [
  () => ({ kind: 'drop-unsynced' }),
  (budget) => ({ kind: 'keep-prefix', count: budget }),
  (budget) => ({ kind: 'keep-subset', seed: budget }),
  (budget) => ({ kind: 'tear-last', sectorBytes: 512, seed: budget }),
];

function quietly(body: () => void): void {
  try {
    body();
  } catch {
    // The simulated machine crashed: the handles from before it are dead.
  }
}

interface Scenario {
  readonly name: string;
  readonly options: CartridgeOptions;
  /** Writes the history and returns the version whose content the operation removes. */
  prepare(cart: Cartridge): PathVersion;
  /** The operation crashed into. */
  erase(cart: Cartridge): void;
  readonly code: 'REDACTED' | 'SHREDDED';
  /** A file the operation must leave readable, and its content. */
  readonly kept: readonly [string, string];
}

const encryptionKey = randomBytes(32);

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'redact',
    options: { durability: 'full', compression: 'none' },
    prepare(cart) {
      // Two records of content (a data record and the record's own chunk) and a small one.
      cart.createFile('/a.txt', `${SECRET} ${'s'.repeat(1_200_000)}`);
      cart.writeFile('/a.txt', 'current');
      cart.createFile('/b.txt', 'kept');
      return cart.history('/a.txt')[1] as PathVersion;
    },
    erase: (cart) => cart.redact('/a.txt', { versions: 'past' }),
    code: 'REDACTED',
    kept: ['/b.txt', 'kept'],
  },
  {
    name: 'shred',
    options: {
      durability: 'full',
      compression: 'none',
      encryptionKey,
      encryption: { perSubjectKeys: true, subjectRoot: '/calls' },
    },
    prepare(cart) {
      cart.createFile('/calls/jane/a.txt', SECRET);
      cart.writeFile('/calls/jane/a.txt', 'current');
      cart.createFile('/calls/bob/b.txt', 'kept');
      return cart.history('/calls/jane/a.txt')[1] as PathVersion;
    },
    erase: (cart) => cart.shred('/calls/jane'),
    code: 'SHREDDED',
    kept: ['/calls/bob/b.txt', 'kept'],
  },
];

/** What reading the old version gives: its content, or the code of the erasure. */
function readOld(cart: Cartridge, scenario: Scenario, version: PathVersion): string {
  try {
    return cart.checkout(version.position).readFile(version.path).toString();
  } catch (error) {
    return (error as { code?: string }).code ?? 'unknown';
  }
}

describe.each(SCENARIOS)('$name crash safety', (scenario) => {
  function prepare(storage: FaultStorage): { cart: Cartridge; version: PathVersion } {
    const cart = Cartridge.create(PATH, { storage, ...scenario.options });
    return { cart, version: scenario.prepare(cart) };
  }

  it('leaves the content whole or erased, the record telling which, at any crash', () => {
    // A dry run counts the operation's I/O and gives the old content.
    const dry = createFaultStorage(1);
    const prepared = prepare(dry);
    const whole = readOld(prepared.cart, scenario, prepared.version);
    expect(whole.startsWith(SECRET)).toBe(true);
    const operationsBefore = dry.operationCount();
    scenario.erase(prepared.cart);
    const operationCount = dry.operationCount() - operationsBefore;
    expect(readOld(prepared.cart, scenario, prepared.version)).toBe(scenario.code);
    prepared.cart.close();
    expect(operationCount).toBeGreaterThan(4);

    let sawWhole = 0;
    let sawErased = 0;
    for (let budget = 0; budget <= operationCount; budget++) {
      for (const mode of MODES) {
        const storage = createFaultStorage(budget + 7);
        const { cart, version } = prepare(storage);
        storage.crashAfter(budget);
        let acknowledged = false;
        quietly(() => {
          scenario.erase(cart);
          acknowledged = true;
        });
        quietly(() => cart.close());
        storage.crash(mode(budget));

        const reopened = Cartridge.open(PATH, { storage, ...scenario.options });
        const old = readOld(reopened, scenario, version);
        if (acknowledged) expect(old).toBe(scenario.code);
        else expect([whole, scenario.code]).toContain(old);
        expect(reopened.readFile(scenario.kept[0]).toString()).toBe(scenario.kept[1]);
        const report = reopened.verify();
        expect(report.ok).toBe(true);
        // The record tells which: erased records are counted exactly when the content is gone.
        if (old === whole) {
          sawWhole++;
          expect(report.erasedRecords).toBe(0);
        } else {
          sawErased++;
          expect(report.erasedRecords).toBeGreaterThan(0);
        }
        reopened.close();
        if (old === scenario.code && scenario.code === 'REDACTED') {
          // The writable open finished the overwrite: nothing of the content is on disk.
          expect(storage.durableSnapshot(PATH).includes(SECRET)).toBe(false);
        }
        const again = Cartridge.open(PATH, { storage, ...scenario.options });
        expect(readOld(again, scenario, version)).toBe(old);
        expect(again.verify().ok).toBe(true);
        again.close();
      }
    }
    // Both outcomes happen: the crash points cover the operation from start to end.
    expect(sawWhole).toBeGreaterThan(0);
    expect(sawErased).toBeGreaterThan(0);
  }, 300_000);
});
