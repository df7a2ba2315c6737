import { beforeAll, describe, expect, it } from 'vitest';
import { Cartridge, type Database } from '../../src/index.js';
import { type CrashMode, createFaultStorage, type FaultStorage } from '../support/fault-storage.js';

/**
 * A SQLite commit is one journal commit: crash at every I/O operation of one (a transaction
 * that changes many pages, with a blob spanning pages, an index and a page freed), under
 * several crash modes, reopen, and the database must pass `integrity_check` and equal the
 * state before the commit or the state after it; after an acknowledged commit (durability
 * 'full'), the state after it.
 */

const PATH = '/crash/db.cart';
const DATABASE = '/app.db';

beforeAll(async () => {
  await Cartridge.loadSqlite();
});

function prepare(storage: FaultStorage): { cart: Cartridge; db: Database } {
  const cart = Cartridge.create(PATH, { storage, durability: 'full' });
  const db = cart.openDatabase(DATABASE);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB); CREATE INDEX tv ON t (v)');
  db.transaction(() => {
    const insert = db.prepare('INSERT INTO t (v, b) VALUES (?, ?)');
    for (let index = 0; index < 400; index++)
      insert.run(`row ${index}`, Buffer.alloc(index % 7 === 0 ? 5000 : 20, index));
  })();
  return { cart, db };
}

/** The commit crashed into: many pages changed, some freed, a blob over several pages. */
function commit(db: Database): void {
  db.transaction(() => {
    db.prepare("UPDATE t SET v = v || ' changed' WHERE id % 3 = 0").run();
    db.prepare('DELETE FROM t WHERE id > 300').run();
    db.prepare('INSERT INTO t (v, b) VALUES (?, ?)').run('large', Buffer.alloc(20_000, 42));
  })();
}

function stateOf(db: Database): string {
  const rows = db.prepare('SELECT id, v, hex(b) AS b FROM t ORDER BY id').all();
  return JSON.stringify(rows);
}

function quietly(body: () => void): void {
  try {
    body();
  } catch {
    // The simulated machine crashed: the handles from before it are dead.
  }
}

const MODES: readonly ((budget: number) => CrashMode)[] = [
  () => ({ kind: 'drop-unsynced' }),
  (budget) => ({ kind: 'keep-prefix', count: budget }),
  (budget) => ({ kind: 'keep-subset', seed: budget }),
  (budget) => ({ kind: 'tear-last', sectorBytes: 512, seed: budget }),
];

describe('database crash safety', () => {
  it('keeps a database before or after a commit, whole, when the machine crashes at any I/O of it', () => {
    // A dry run measures the commit's I/O operations and the two states.
    const dry = createFaultStorage(1);
    const { cart, db } = prepare(dry);
    const before = stateOf(db);
    const operationsBefore = dry.operationCount();
    commit(db);
    const operationCount = dry.operationCount() - operationsBefore;
    const after = stateOf(db);
    db.close();
    cart.close();
    expect(operationCount).toBeGreaterThan(0);
    let sawBefore = 0;
    let sawAfter = 0;
    for (let budget = 0; budget <= operationCount; budget++) {
      for (const mode of MODES) {
        const storage = createFaultStorage(budget + 1);
        const prepared = prepare(storage);
        storage.crashAfter(budget);
        let acknowledged = false;
        quietly(() => {
          commit(prepared.db);
          acknowledged = true;
        });
        quietly(() => prepared.db.close());
        quietly(() => prepared.cart.close());
        storage.crash(mode(budget));
        const reopened = Cartridge.open(PATH, { storage });
        const database = reopened.openDatabase(DATABASE);
        expect(database.pragma('integrity_check', { simple: true })).toBe('ok');
        const state = stateOf(database);
        if (acknowledged) expect(state).toBe(after);
        else expect([before, after]).toContain(state);
        if (state === before) sawBefore++;
        else sawAfter++;
        database.close();
        reopened.close();
      }
    }
    // Both outcomes happen: the crash points cover the commit from start to end.
    expect(sawBefore).toBeGreaterThan(0);
    expect(sawAfter).toBeGreaterThan(0);
  });
});
