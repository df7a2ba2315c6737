import { join } from 'node:path';
import Database from 'better-sqlite3';
import { missingKey, type PeerDurability, type PeerStore } from './peer-store.js';

/**
 * better-sqlite3 with a blob table (`key TEXT PRIMARY KEY, value BLOB`), as most Node users
 * set it up: WAL, prepared statements, `INSERT OR REPLACE` for a put, a `transaction()` for a
 * batch. Durability `normal` (and `off`, which SQLite users rarely choose) is
 * `synchronous=NORMAL`: each commit is written to the WAL, the WAL is synced at checkpoints;
 * durability `full` is `synchronous=FULL`: each commit syncs the WAL.
 */
export function openSqlitePeer(directory: string, durability: PeerDurability): PeerStore {
  const database = new Database(join(directory, 'peer.sqlite'));
  const synchronous = durability === 'full' ? 'FULL' : 'NORMAL';
  database.pragma('journal_mode = WAL');
  database.pragma(`synchronous = ${synchronous}`);
  database.exec('CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB)');
  const insert = database.prepare('INSERT OR REPLACE INTO entries (key, value) VALUES (?, ?)');
  const select = database.prepare('SELECT value FROM entries WHERE key = ?').pluck();
  const put = (key: string, bytes: Buffer): number => insert.run(key, bytes).changes;
  const putBatch = database.transaction((keys: readonly string[], values: readonly Buffer[]) => {
    let changes = 0;
    keys.forEach((key, index) => {
      changes += put(key, values[index] as Buffer);
    });
    return changes;
  });
  return {
    name: 'sqlite',
    configuration: `better-sqlite3 blob table, WAL, synchronous=${synchronous}`,
    put,
    get: (key) => {
      const value = select.get(key) as Buffer | undefined;
      if (value === undefined) throw missingKey('sqlite', key);
      return value;
    },
    putBatch: (keys, values) => putBatch(keys, values),
    close: () => {
      database.close();
    },
  };
}
