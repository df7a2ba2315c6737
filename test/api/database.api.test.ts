import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, isCartridgeError } from '../../src/index.js';

/**
 * SQLite databases inside a cartridge, through `src/index.js`: the better-sqlite3-shaped
 * handle, one journal commit per SQLite commit, views at past offsets, restore, import and
 * export checked by native SQLite, several handles, and the errors.
 */

let directory: string;

beforeAll(async () => {
  await Cartridge.loadSqlite();
});

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-db-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

function codeOf(body: () => unknown): string | undefined {
  try {
    body();
  } catch (error) {
    return isCartridgeError(error) ? error.code : `not a CartridgeError: ${String(error)}`;
  }
  return undefined;
}

describe('openDatabase', () => {
  it('runs statements, keeps the rows across reopen and passes integrity_check', () => {
    const path = join(directory, 'a.cart');
    let cart = Cartridge.create(path);
    let db = cart.openDatabase('/data/app.db');
    db.exec('CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, photo BLOB)');
    const insert = db.prepare('INSERT INTO people (name, photo) VALUES (?, ?)');
    expect(insert.run('ada', Buffer.alloc(10_000, 1))).toEqual({ changes: 1, lastInsertRowid: 1 });
    insert.run('grace', null);
    expect(db.prepare('SELECT name FROM people WHERE id = :id').get({ id: 2 })).toEqual({
      name: 'grace',
    });
    expect(db.prepare('SELECT count(*) AS n FROM people').get()).toEqual({ n: 2 });
    const photo = db.prepare('SELECT photo FROM people WHERE id = 1').get()?.photo;
    expect(Buffer.isBuffer(photo) && photo.equals(Buffer.alloc(10_000, 1))).toBe(true);
    expect([...db.prepare('SELECT id FROM people ORDER BY id').iterate()]).toEqual([
      { id: 1 },
      { id: 2 },
    ]);
    db.close();
    cart.close();
    cart = Cartridge.open(path);
    db = cart.openDatabase('/data/app.db');
    expect(db.prepare('SELECT name FROM people ORDER BY id').all()).toEqual([
      { name: 'ada' },
      { name: 'grace' },
    ]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('page_size', { simple: true })).toBe(4096);
    db.close();
    cart.close();
  });

  it('makes each SQLite commit one journal commit of only the changed pages', () => {
    const cart = Cartridge.create(join(directory, 'b.cart'));
    const db = cart.openDatabase('/app.db');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    db.transaction(() => {
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      for (let index = 0; index < 5000; index++) insert.run(`value ${index}`);
    })();
    const sizeBytes = cart.metadata('/app.db').sizeBytes;
    expect(sizeBytes).toBeGreaterThan(20 * 4096);
    const headBefore = cart.head;
    const journalBefore = cart.stats().journalBytes;
    db.prepare('UPDATE t SET v = ? WHERE id = 2500').run('changed');
    const history = cart.history('/app.db');
    expect(history[0]?.offset).toBeGreaterThanOrEqual(headBefore);
    expect(history[1]?.offset).toBeLessThan(headBefore);
    // One leaf page and page 1 (the change counter): far less than the file.
    expect(cart.stats().journalBytes - journalBefore).toBeLessThan(4 * 4096);
    db.close();
    cart.close();
  });

  it('rolls a transaction back without writing anything', () => {
    const cart = Cartridge.create(join(directory, 'c.cart'));
    const db = cart.openDatabase('/app.db');
    db.exec('CREATE TABLE t (v INTEGER)');
    const head = cart.head;
    const failing = db.transaction(() => {
      db.prepare('INSERT INTO t VALUES (1)').run();
      throw new Error('no');
    });
    expect(() => failing()).toThrow('no');
    expect(cart.head).toBe(head);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
    // A nested transaction is a savepoint.
    db.transaction(() => {
      db.prepare('INSERT INTO t VALUES (1)').run();
      try {
        db.transaction(() => {
          db.prepare('INSERT INTO t VALUES (2)').run();
          throw new Error('inner');
        })();
      } catch {
        // The inner savepoint rolled back; the outer transaction goes on.
      }
    })();
    expect(db.prepare('SELECT v FROM t').all()).toEqual([{ v: 1 }]);
    db.close();
    cart.close();
  });

  it('opens a view of a past offset read-only, and restore brings the database back', () => {
    const cart = Cartridge.create(join(directory, 'd.cart'));
    const db = cart.openDatabase('/app.db');
    db.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('old')");
    cart.createSnapshot('before');
    db.exec("UPDATE t SET v = 'new'; INSERT INTO t VALUES ('more')");
    const view = cart.checkout('before');
    const old = view.openDatabase('/app.db');
    expect(old.prepare('SELECT v FROM t').all()).toEqual([{ v: 'old' }]);
    expect(old.readOnly).toBe(true);
    expect(codeOf(() => old.exec("INSERT INTO t VALUES ('x')"))).toBe('SQLITE_ERROR');
    old.close();
    db.close();
    cart.restoreSnapshot('before');
    const restored = cart.openDatabase('/app.db');
    expect(restored.prepare('SELECT v FROM t').all()).toEqual([{ v: 'old' }]);
    restored.exec("INSERT INTO t VALUES ('after restore')");
    expect(restored.pragma('integrity_check', { simple: true })).toBe('ok');
    restored.close();
    cart.close();
  });

  it('imports and exports native files that pass integrity_check', () => {
    const nativePath = join(directory, 'native.db');
    const native = new BetterSqlite3(nativePath);
    native.pragma('journal_mode=WAL');
    native.pragma('page_size=8192');
    native.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t (v)');
    const insert = native.prepare('INSERT INTO t (v) VALUES (?)');
    for (let index = 0; index < 2000; index++) insert.run(`row ${index}`);
    native.close();
    const cart = Cartridge.create(join(directory, 'e.cart'));
    cart.importDatabase(nativePath, '/imported.db');
    const db = cart.openDatabase('/imported.db');
    expect(db.pragma('page_size', { simple: true })).toBe(4096);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2000 });
    const before = cart.head;
    db.exec("DELETE FROM t WHERE id > 1000; INSERT INTO t (v) VALUES ('new')");
    db.close();
    const nowPath = join(directory, 'now.db');
    const thenPath = join(directory, 'then.db');
    cart.exportDatabase('/imported.db', nowPath);
    cart.exportDatabase('/imported.db', thenPath, { at: before });
    for (const [file, count] of [
      [nowPath, 1001],
      [thenPath, 2000],
    ] as const) {
      const check = new BetterSqlite3(file, { readonly: true });
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(check.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: count });
      check.close();
    }
    expect(codeOf(() => cart.exportDatabase('/imported.db', nowPath))).toBe('EEXIST');
    expect(codeOf(() => cart.importDatabase(nativePath, '/imported.db'))).toBe('EEXIST');
    // A native file that is not a database, and a cartridge file that holds none.
    const textPath = join(directory, 'text.txt');
    writeFileSync(textPath, 'plain text, not a database '.repeat(100));
    expect(codeOf(() => cart.importDatabase(textPath, '/text.db'))).toBe('SQLITE_ERROR');
    expect(cart.exists('/text.db')).toBe(false);
    cart.createFile('/notes.txt', 'not a database');
    expect(codeOf(() => cart.exportDatabase('/notes.txt', join(directory, 'notes.db')))).toBe(
      'EINVAL',
    );
    cart.close();
  });

  it('serialises two handles on one database: the second gets SQLITE_BUSY, never stale pages', () => {
    const cart = Cartridge.create(join(directory, 'f.cart'));
    const first = cart.openDatabase('/app.db');
    first.exec('CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)');
    expect(codeOf(() => cart.openDatabase('/app.db'))).toBe('SQLITE_BUSY');
    first.close();
    const third = cart.openDatabase('/app.db');
    expect(third.prepare('SELECT v FROM t').all()).toEqual([{ v: 1 }]);
    third.close();
    cart.close();
  });

  it('reports errors as CartridgeError codes', async () => {
    const cart = Cartridge.create(join(directory, 'g.cart'));
    const db = cart.openDatabase('/app.db');
    const error = (() => {
      try {
        db.exec('SELEKT 1');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(isCartridgeError(error) && error.code).toBe('SQLITE_ERROR');
    expect(isCartridgeError(error) && error.sqliteCodeName).toBe('SQLITE_ERROR');
    db.exec('CREATE TABLE t (v INTEGER UNIQUE)');
    db.exec('INSERT INTO t VALUES (1)');
    expect(codeOf(() => db.exec('INSERT INTO t VALUES (1)'))).toBe('SQLITE_ERROR');
    // A commit inside a cartridge transaction is refused: the cartridge could roll it back.
    expect(codeOf(() => cart.transaction(() => db.exec('INSERT INTO t VALUES (2)')))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(db.prepare('SELECT v FROM t').all()).toEqual([{ v: 1 }]);
    db.close();
    expect(codeOf(() => db.exec('SELECT 1'))).toBe('CARTRIDGE_CLOSED');
    cart.createFile('/not-a-db', 'hello, this is text and not a database at all '.repeat(200));
    expect(codeOf(() => cart.openDatabase('/not-a-db'))).toBe('SQLITE_ERROR');
    cart.createDir('/dir');
    expect(codeOf(() => cart.openDatabase('/dir'))).toBe('EISDIR');
    expect(codeOf(() => cart.checkout(cart.head).openDatabase('/missing.db'))).toBe('ENOENT');
    cart.close();
  });

  it('goes through the policy and shows each commit in the change stream as file.patched', async () => {
    const cart = Cartridge.create(join(directory, 'i.cart'), { actor: 'admin' });
    const db = cart.openDatabase('/app.db');
    db.exec('CREATE TABLE t (v INTEGER)');
    const types: string[] = [];
    const subscription = cart.changes({ from: cart.head }).subscribe((event) => {
      if (event.path === '/app.db') types.push(event.type);
    });
    db.exec('INSERT INTO t VALUES (1)');
    // Live events are delivered after the commit, not inside it.
    for (let wait = 0; wait < 50 && types.length === 0; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    subscription.unsubscribe();
    expect(types).toEqual(['file.patched']);
    db.close();
    cart.setPolicy({
      Statement: [
        {
          Effect: 'Allow',
          Action: '*',
          Resource: '/**',
          Condition: { StringEquals: { 'cartridge:actor': 'admin' } },
        },
        { Effect: 'Allow', Action: ['Read', 'List'], Resource: '/**' },
      ],
    });
    const reader = cart.as('reader').openDatabase('/app.db');
    expect(reader.prepare('SELECT v FROM t').all()).toEqual([{ v: 1 }]);
    // The commit is refused by the policy: the statement fails with EACCES and nothing changes.
    expect(codeOf(() => reader.exec('INSERT INTO t VALUES (2)'))).toBe('EACCES');
    expect(reader.prepare('SELECT v FROM t').all()).toEqual([{ v: 1 }]);
    expect(reader.pragma('integrity_check', { simple: true })).toBe('ok');
    reader.close();
    cart.close();
  });

  it('reports a full cartridge as ENOSPC and keeps the database whole', () => {
    const cart = Cartridge.create(join(directory, 'h.cart'), { capacityBlocks: 40 });
    const db = cart.openDatabase('/app.db');
    db.exec('CREATE TABLE t (v BLOB)');
    let code: string | undefined;
    for (let index = 0; index < 100 && code === undefined; index++) {
      code = codeOf(() => db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(8000, index)));
    }
    expect(code).toBe('ENOSPC');
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const count = (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    db.close();
    const again = cart.openDatabase('/app.db');
    expect(again.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: count });
    again.close();
    cart.close();
  });
});
