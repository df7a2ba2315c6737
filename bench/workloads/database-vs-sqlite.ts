import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Cartridge } from '../../src/index.js';
import { type MeasureOptions, measurePair, type PairTiming, type Timing } from '../measure.js';
import { atMost, type Workload, type WorkloadContext } from '../report.js';
import { scratchDirectory } from '../support.js';

/**
 * SQLite inside a cartridge against better-sqlite3 on a real file, in the same run, with
 * comparable durability, twice (see `PAIRINGS`): 'normal' against WAL `synchronous=NORMAL`,
 * and 'full' against WAL `synchronous=FULL`. Four figures each, each
 * `cartridge_time / sqlite_time` (lower is better): a transaction of many inserts, a
 * single-row autocommit insert, a point lookup by primary key, a full scan of a table. The handle's hot path
 * calls sqlite-wasm's exported C functions (see docs/ARCHITECTURE.md, decision 38).
 */

interface SharedShape {
  prepare(sql: string): {
    run(...values: unknown[]): { lastInsertRowid: number | bigint };
    get(...values: unknown[]): unknown;
    iterate(...values: unknown[]): Iterable<unknown>;
  };
  transaction<Result>(body: () => Result): () => Result;
}

interface DatabaseSettings extends MeasureOptions {
  readonly rowsPerTransaction: number;
  readonly lookupRows: number;
}

const ROW_TEXT = 'a row of text of moderate length, as an application stores it';

/**
 * The two comparable durabilities of issue 13: the cartridge's 'normal' (each commit written
 * to the OS, fsynced on a timer) against WAL with `synchronous=NORMAL` (written to the OS at
 * each commit, fsynced at checkpoints), and the cartridge's 'full' (fdatasync before each
 * commit returns) against WAL with `synchronous=FULL` (the WAL fsynced at each commit). The
 * 'normal' figures keep their first names; the 'full' ones carry `full_sync_`.
 */
interface Pairing {
  readonly prefix: string;
  readonly durability: 'normal' | 'full';
  readonly synchronous: 'NORMAL' | 'FULL';
}

const PAIRINGS: readonly Pairing[] = [
  { prefix: '', durability: 'normal', synchronous: 'NORMAL' },
  { prefix: 'full_sync_', durability: 'full', synchronous: 'FULL' },
];

export const workload: Workload<DatabaseSettings> = {
  name: 'database-vs-sqlite',
  description:
    'SQLite in a cartridge vs better-sqlite3 (WAL; NORMAL and FULL): bulk insert, autocommit insert, point lookup, table scan',
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
  figures: PAIRINGS.flatMap((pairing) => [
    { name: `database_${pairing.prefix}bulk_insert_ratio`, target: atMost(2) },
    { name: `database_${pairing.prefix}autocommit_insert_ratio`, target: atMost(1.3) },
    { name: `database_${pairing.prefix}point_lookup_ratio`, target: atMost(2) },
    { name: `database_${pairing.prefix}table_scan_ratio`, target: atMost(2) },
  ]),
  run: (settings, { report, checksum }) => {
    for (const pairing of PAIRINGS) runPairing(pairing, settings, report, checksum);
  },
};

function runPairing(
  pairing: Pairing,
  settings: DatabaseSettings,
  report: WorkloadContext['report'],
  checksum: WorkloadContext['checksum'],
): void {
  const { prefix } = pairing;
  const scratch = scratchDirectory(`database-vs-sqlite-${pairing.durability}`);
  const cart = Cartridge.create(join(scratch.path, 'db.cart'), {
    durability: pairing.durability,
  });
  const db = cart.openDatabase('/bench.db');
  const native = new BetterSqlite3(join(scratch.path, 'bench.sqlite'));
  try {
    native.pragma('journal_mode = WAL');
    native.pragma(`synchronous = ${pairing.synchronous}`);
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
    // The autocommit inserts run after the bulk ones, into a database of many pages: a commit
    // must cost what its pages cost, not what the database's size does.
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
    // A full scan: every row of the lookup table, each turned into an object as a caller sees it.
    const scans = engines.map((engine) => engine.prepare('SELECT id, v FROM lookup'));
    const scan = (index: number): number => {
      let total = 0;
      for (const row of scans[index]!.iterate() as Iterable<{ id: number; v: string }>) {
        total += row.id + row.v.length;
      }
      return total;
    };
    const scanTiming = measurePair(
      () => scan(0),
      () => scan(1),
      { ...settings, opsPerRound: 1 },
      checksum,
    );
    const ratio = (timing: PairTiming) => timing.subject.medianNs / timing.baseline.medianNs;
    report.figure(`database_${prefix}bulk_insert_ratio`, ratio(bulkTiming));
    report.figure(`database_${prefix}autocommit_insert_ratio`, ratio(singleTiming));
    report.figure(`database_${prefix}point_lookup_ratio`, ratio(lookupTiming));
    report.figure(`database_${prefix}table_scan_ratio`, ratio(scanTiming));
    // CPU time (all threads) is less disturbed by other tenants of a shared machine than wall
    // time, and blind to waiting on the disk: printed beside each figure, without a target.
    const cpuRatio = (timing: PairTiming) =>
      timing.subject.medianCpuNs / Math.max(1, timing.baseline.medianCpuNs);
    report.line(`database_${prefix}bulk_insert_cpu_ratio`, cpuRatio(bulkTiming), 3);
    report.line(`database_${prefix}autocommit_insert_cpu_ratio`, cpuRatio(singleTiming), 3);
    report.line(`database_${prefix}point_lookup_cpu_ratio`, cpuRatio(lookupTiming), 3);
    report.line(`database_${prefix}table_scan_cpu_ratio`, cpuRatio(scanTiming), 3);
    report.line(`database_${prefix}bulk_insert_rows`, settings.rowsPerTransaction);
    report.line(`database_${prefix}bulk_insert_cartridge_ms`, bulkTiming.subject.medianNs / 1e6, 2);
    report.line(`database_${prefix}bulk_insert_sqlite_ms`, bulkTiming.baseline.medianNs / 1e6, 2);
    const microseconds = (timing: Timing) => timing.medianNs / 1000;
    report.line(
      `database_${prefix}autocommit_insert_cartridge_us`,
      microseconds(singleTiming.subject),
      2,
    );
    report.line(
      `database_${prefix}autocommit_insert_sqlite_us`,
      microseconds(singleTiming.baseline),
      2,
    );
    report.line(
      `database_${prefix}point_lookup_cartridge_us`,
      microseconds(lookupTiming.subject),
      2,
    );
    report.line(`database_${prefix}point_lookup_sqlite_us`, microseconds(lookupTiming.baseline), 2);
    report.line(`database_${prefix}table_scan_rows`, settings.lookupRows);
    report.line(`database_${prefix}table_scan_cartridge_ms`, scanTiming.subject.medianNs / 1e6, 2);
    report.line(`database_${prefix}table_scan_sqlite_ms`, scanTiming.baseline.medianNs / 1e6, 2);
    report.line(
      `database_${prefix}durability`,
      `cartridge '${pairing.durability}', sqlite WAL synchronous=${pairing.synchronous}`,
    );
    const background = cart.lastBackgroundError;
    if (background !== undefined) throw background;
  } finally {
    db.close();
    native.close();
    cart.close();
    scratch.remove();
  }
}
