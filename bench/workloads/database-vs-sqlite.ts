import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Cartridge } from '../../src/index.js';
import { type MeasureOptions, measurePair } from '../measure.js';
import { atMost, type Workload } from '../report.js';
import { scratchDirectory } from '../support.js';

/**
 * SQLite inside a cartridge against better-sqlite3 on a real file, in the same run, with
 * comparable durability: the cartridge with durability 'normal' (each SQLite commit written
 * to the OS as one journal commit, fsynced on a timer), better-sqlite3 with WAL and
 * `synchronous=NORMAL` (written to the OS at each commit, fsynced at checkpoints). Three
 * figures, each `cartridge_time / sqlite_time` (lower is better): a transaction of many
 * inserts, a single-row autocommit insert, a point lookup by primary key. The handle's hot path
 * calls sqlite-wasm's exported C functions (see docs/ARCHITECTURE.md, decision 38).
 */

interface SharedShape {
  prepare(sql: string): {
    run(...values: unknown[]): { lastInsertRowid: number | bigint };
    get(...values: unknown[]): unknown;
  };
  transaction<Result>(body: () => Result): () => Result;
}

interface DatabaseSettings extends MeasureOptions {
  readonly rowsPerTransaction: number;
  readonly lookupRows: number;
}

const ROW_TEXT = 'a row of text of moderate length, as an application stores it';

export const workload: Workload<DatabaseSettings> = {
  name: 'database-vs-sqlite',
  description:
    'SQLite in a cartridge vs better-sqlite3 (WAL, NORMAL): bulk insert, autocommit insert, point lookup',
  sizes: {
    small: {
      warmupRounds: 1,
      rounds: 5,
      opsPerRound: 20,
      latencySamples: 0,
      rowsPerTransaction: 2_000,
      lookupRows: 5_000,
    },
    medium: {
      warmupRounds: 2,
      rounds: 11,
      opsPerRound: 100,
      latencySamples: 0,
      rowsPerTransaction: 20_000,
      lookupRows: 20_000,
    },
    large: {
      warmupRounds: 2,
      rounds: 11,
      opsPerRound: 1_000,
      latencySamples: 0,
      rowsPerTransaction: 100_000,
      lookupRows: 100_000,
    },
  },
  budgetMs: { small: 60_000, medium: 300_000, large: 600_000 },
  figures: [
    { name: 'database_bulk_insert_ratio', target: atMost(2) },
    { name: 'database_autocommit_insert_ratio', target: atMost(1.3) },
    { name: 'database_point_lookup_ratio', target: atMost(2) },
  ],
  run: (settings, { report, checksum }) => {
    const scratch = scratchDirectory('database-vs-sqlite');
    const cart = Cartridge.create(join(scratch.path, 'db.cart'), { durability: 'normal' });
    const db = cart.openDatabase('/bench.db');
    const native = new BetterSqlite3(join(scratch.path, 'bench.sqlite'));
    try {
      native.pragma('journal_mode = WAL');
      native.pragma('synchronous = NORMAL');
      const schema =
        'CREATE TABLE bulk (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE single (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE lookup (id INTEGER PRIMARY KEY, v TEXT)';
      db.exec(schema);
      native.exec(schema);
      // The two handles share better-sqlite3's shape; one type lets one loop drive both.
      const engines = [db, native] as unknown as readonly SharedShape[];
      for (const engine of engines) {
        const insert = engine.prepare('INSERT INTO lookup (v) VALUES (?)');
        engine.transaction(() => {
          for (let index = 0; index < settings.lookupRows; index++)
            insert.run(`${ROW_TEXT} ${index}`);
        })();
      }
      // Bulk: one operation is one transaction of rowsPerTransaction inserts; fewer rounds.
      const bulkOptions = { ...settings, opsPerRound: 1 };
      const bulk = engines.map((engine) => {
        const insert = engine.prepare('INSERT INTO bulk (v) VALUES (?)');
        return engine.transaction(() => {
          let rowId = 0;
          for (let index = 0; index < settings.rowsPerTransaction; index++) {
            rowId = Number(insert.run(ROW_TEXT).lastInsertRowid);
          }
          return rowId;
        });
      });
      const bulkTiming = measurePair(
        () => bulk[0]!(),
        () => bulk[1]!(),
        bulkOptions,
        checksum,
      );
      const singles = engines.map((engine) => engine.prepare('INSERT INTO single (v) VALUES (?)'));
      const singleTiming = measurePair(
        () => Number(singles[0]!.run(ROW_TEXT).lastInsertRowid),
        () => Number(singles[1]!.run(ROW_TEXT).lastInsertRowid),
        settings,
        checksum,
      );
      const lookups = engines.map((engine) => engine.prepare('SELECT v FROM lookup WHERE id = ?'));
      let cartridgeKey = 0;
      let sqliteKey = 0;
      const lookupTiming = measurePair(
        () => {
          cartridgeKey = (cartridgeKey * 7919 + 13) % settings.lookupRows;
          return String((lookups[0]!.get(cartridgeKey + 1) as { v: string }).v).length;
        },
        () => {
          sqliteKey = (sqliteKey * 7919 + 13) % settings.lookupRows;
          return String((lookups[1]!.get(sqliteKey + 1) as { v: string }).v).length;
        },
        { ...settings, opsPerRound: settings.opsPerRound * 10 },
        checksum,
      );
      const ratio = (timing: typeof bulkTiming) =>
        timing.subject.medianNs / timing.baseline.medianNs;
      report.figure('database_bulk_insert_ratio', ratio(bulkTiming));
      report.figure('database_autocommit_insert_ratio', ratio(singleTiming));
      report.figure('database_point_lookup_ratio', ratio(lookupTiming));
      report.line('database_bulk_insert_rows', settings.rowsPerTransaction);
      report.line('database_bulk_insert_cartridge_ms', bulkTiming.subject.medianNs / 1e6, 2);
      report.line('database_bulk_insert_sqlite_ms', bulkTiming.baseline.medianNs / 1e6, 2);
      report.line(
        'database_autocommit_insert_cartridge_us',
        singleTiming.subject.medianNs / 1000,
        2,
      );
      report.line('database_autocommit_insert_sqlite_us', singleTiming.baseline.medianNs / 1000, 2);
      report.line('database_point_lookup_cartridge_us', lookupTiming.subject.medianNs / 1000, 2);
      report.line('database_point_lookup_sqlite_us', lookupTiming.baseline.medianNs / 1000, 2);
      report.line('database_durability', "cartridge 'normal', sqlite WAL synchronous=NORMAL");
      const background = cart.lastBackgroundError;
      if (background !== undefined) throw background;
    } finally {
      db.close();
      native.close();
      cart.close();
      scratch.remove();
    }
  },
};
