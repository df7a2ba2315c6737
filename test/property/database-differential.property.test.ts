import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cartridge, type Database } from '../../src/index.js';

/**
 * Differential test of databases in a cartridge: fast-check generates a schema and a sequence
 * of statements (inserts, updates, deletes, transactions that commit or roll back, indexes,
 * blobs and text spanning several pages, VACUUM) and runs them on a cartridge database and
 * on better-sqlite3 `:memory:`; every query result and every error must be the same, through
 * reopens of the cartridge in between, and both must pass `integrity_check` at the end.
 *
 * `PROPERTY_RUNS` sets the number of runs, `PROPERTY_SEED` (and `PROPERTY_PATH`) replay one;
 * fast-check prints the seed and path of a failing run.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '25', 10) || 25;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);
const REPLAY_PATH = process.env['PROPERTY_PATH'];

type ColumnType = 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL';
type Value = number | string | Buffer | null;

interface Table {
  readonly name: string;
  readonly columns: readonly ColumnType[];
}

type Statement =
  | { readonly kind: 'insert'; readonly table: number; readonly values: readonly Value[] }
  | {
      readonly kind: 'update';
      readonly table: number;
      readonly column: number;
      readonly value: Value;
      readonly modulus: number;
      readonly remainder: number;
    }
  | {
      readonly kind: 'delete';
      readonly table: number;
      readonly modulus: number;
      readonly remainder: number;
    }
  | {
      readonly kind: 'index';
      readonly table: number;
      readonly column: number;
      readonly unique: boolean;
    }
  | { readonly kind: 'select'; readonly table: number }
  | { readonly kind: 'aggregate'; readonly table: number; readonly column: number }
  | {
      readonly kind: 'lookup';
      readonly table: number;
      readonly column: number;
      readonly value: Value;
    }
  | { readonly kind: 'vacuum' };

type Step =
  | Statement
  | {
      readonly kind: 'transaction';
      readonly statements: readonly Statement[];
      readonly rollback: boolean;
    }
  | { readonly kind: 'reopen' };

/** A connection either engine offers: the shared shape of better-sqlite3 and ours. */
interface Connection {
  exec(sql: string): unknown;
  prepare(sql: string): {
    run(...values: unknown[]): unknown;
    all(...values: unknown[]): unknown[];
  };
  transaction(body: () => void): () => void;
}

const valueArbitrary = (type: ColumnType): fc.Arbitrary<Value> => {
  const typed: fc.Arbitrary<Value> =
    type === 'INTEGER'
      ? fc.integer({ min: -1000, max: 1000 })
      : type === 'REAL'
        ? fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })
        : type === 'TEXT'
          ? fc.oneof(
              fc.string({ maxLength: 20 }),
              fc
                .tuple(
                  fc.string({ minLength: 1, maxLength: 4 }),
                  fc.integer({ min: 1000, max: 3000 }),
                )
                .map(([piece, times]) => piece.repeat(times)),
            )
          : fc.oneof(
              fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
              fc
                .tuple(fc.integer({ min: 4000, max: 14_000 }), fc.nat(255))
                .map(([length, fill]) => Buffer.alloc(length, fill)),
            );
  return fc.oneof({ weight: 6, arbitrary: typed }, { weight: 1, arbitrary: fc.constant(null) });
};

const tablesArbitrary: fc.Arbitrary<Table[]> = fc
  .array(
    fc.array(fc.constantFrom<ColumnType>('INTEGER', 'TEXT', 'BLOB', 'REAL'), {
      minLength: 1,
      maxLength: 4,
    }),
    {
      minLength: 1,
      maxLength: 3,
    },
  )
  .map((tableColumns) => tableColumns.map((columns, index) => ({ name: `t${index}`, columns })));

function statementArbitrary(tables: readonly Table[]): fc.Arbitrary<Statement> {
  const tableIndex = fc.nat(tables.length - 1);
  const withTable = <T>(make: (table: number, spec: Table) => fc.Arbitrary<T>): fc.Arbitrary<T> =>
    tableIndex.chain((table) => make(table, tables[table] as Table));
  const column = (spec: Table): fc.Arbitrary<number> => fc.nat(spec.columns.length - 1);
  return fc.oneof(
    {
      weight: 8,
      arbitrary: withTable((table, spec) =>
        fc
          .tuple(...spec.columns.map(valueArbitrary))
          .map((values): Statement => ({ kind: 'insert', table, values })),
      ),
    },
    {
      weight: 3,
      arbitrary: withTable((table, spec) =>
        column(spec).chain((index) =>
          fc.record({
            kind: fc.constant('update' as const),
            table: fc.constant(table),
            column: fc.constant(index),
            value: valueArbitrary(spec.columns[index] as ColumnType),
            modulus: fc.integer({ min: 1, max: 5 }),
            remainder: fc.nat(4),
          }),
        ),
      ),
    },
    {
      weight: 2,
      arbitrary: withTable((table) =>
        fc.record({
          kind: fc.constant('delete' as const),
          table: fc.constant(table),
          modulus: fc.integer({ min: 1, max: 5 }),
          remainder: fc.nat(4),
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: withTable((table, spec) =>
        fc.record({
          kind: fc.constant('index' as const),
          table: fc.constant(table),
          column: column(spec),
          unique: fc.boolean(),
        }),
      ),
    },
    {
      weight: 3,
      arbitrary: withTable((table) => fc.constant<Statement>({ kind: 'select', table })),
    },
    {
      weight: 2,
      arbitrary: withTable((table, spec) =>
        column(spec).map((index): Statement => ({ kind: 'aggregate', table, column: index })),
      ),
    },
    {
      weight: 2,
      arbitrary: withTable((table, spec) =>
        column(spec).chain((index) =>
          valueArbitrary(spec.columns[index] as ColumnType).map((value): Statement => ({
            kind: 'lookup',
            table,
            column: index,
            value,
          })),
        ),
      ),
    },
    { weight: 1, arbitrary: fc.constant<Statement>({ kind: 'vacuum' }) },
  );
}

function stepsArbitrary(tables: readonly Table[]): fc.Arbitrary<Step[]> {
  const statement = statementArbitrary(tables);
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 10, arbitrary: statement },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('transaction' as const),
        statements: fc.array(statement, { minLength: 1, maxLength: 8 }),
        rollback: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.constant<Step>({ kind: 'reopen' }) },
  );
  return fc.array(step, { minLength: 1, maxLength: 30 });
}

/** Rows made comparable: blobs as hex, so both engines' Buffers compare by content. */
function normalise(rows: unknown[]): unknown[] {
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row as Record<string, unknown>).map(([key, value]) => [
        key,
        value instanceof Uint8Array ? `x'${Buffer.from(value).toString('hex')}'` : value,
      ]),
    ),
  );
}

function columnName(index: number): string {
  return `c${index}`;
}

/** Runs one statement; the result (rows, changes, or the fact of an error) is what is compared. */
function run(connection: Connection, tables: readonly Table[], statement: Statement): unknown {
  try {
    switch (statement.kind) {
      case 'insert': {
        const spec = tables[statement.table] as Table;
        const names = spec.columns.map((_type, index) => columnName(index)).join(', ');
        const marks = spec.columns.map(() => '?').join(', ');
        const result = connection
          .prepare(`INSERT INTO ${spec.name} (${names}) VALUES (${marks})`)
          .run(...statement.values) as { changes: number };
        return { changes: result.changes };
      }
      case 'update': {
        const spec = tables[statement.table] as Table;
        const result = connection
          .prepare(`UPDATE ${spec.name} SET ${columnName(statement.column)} = ? WHERE id % ? = ?`)
          .run(statement.value, statement.modulus, statement.remainder % statement.modulus) as {
          changes: number;
        };
        return { changes: result.changes };
      }
      case 'delete': {
        const spec = tables[statement.table] as Table;
        const result = connection
          .prepare(`DELETE FROM ${spec.name} WHERE id % ? = ?`)
          .run(statement.modulus, statement.remainder % statement.modulus) as { changes: number };
        return { changes: result.changes };
      }
      case 'index': {
        const spec = tables[statement.table] as Table;
        connection.exec(
          `CREATE ${statement.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS i_${spec.name}_${statement.column}_${statement.unique ? 'u' : 'n'} ON ${spec.name} (${columnName(statement.column)})`,
        );
        return 'indexed';
      }
      case 'select':
        return normalise(
          connection
            .prepare(`SELECT * FROM ${(tables[statement.table] as Table).name} ORDER BY id`)
            .all(),
        );
      case 'aggregate': {
        const spec = tables[statement.table] as Table;
        const column = columnName(statement.column);
        return normalise(
          connection
            .prepare(
              `SELECT count(*) AS n, count(${column}) AS present, sum(length(${column})) AS total, max(${column}) AS highest FROM ${spec.name}`,
            )
            .all(),
        );
      }
      case 'lookup': {
        const spec = tables[statement.table] as Table;
        return normalise(
          connection
            .prepare(
              `SELECT id FROM ${spec.name} WHERE ${columnName(statement.column)} = ? ORDER BY id`,
            )
            .all(statement.value),
        );
      }
      case 'vacuum':
        connection.exec('VACUUM');
        return 'vacuumed';
    }
  } catch (error) {
    // The two engines word some errors differently; whether a statement failed must agree.
    return { failed: true, constraint: String((error as Error).message).includes('UNIQUE') };
  }
}

class Rollback extends Error {}

function runStep(
  connection: Connection,
  tables: readonly Table[],
  step: Statement | Extract<Step, { kind: 'transaction' }>,
): unknown {
  if (step.kind !== 'transaction') return run(connection, tables, step);
  const results: unknown[] = [];
  try {
    connection.transaction(() => {
      // VACUUM cannot run inside a transaction, in either engine.
      for (const statement of step.statements)
        if (statement.kind !== 'vacuum') results.push(run(connection, tables, statement));
      if (step.rollback) throw new Rollback();
    })();
  } catch (error) {
    if (!(error instanceof Rollback)) results.push({ failed: true });
  }
  return results;
}

let directory: string;
let runCounter = 0;

beforeAll(async () => {
  await Cartridge.loadSqlite();
  directory = mkdtempSync(join(tmpdir(), 'cartridge-db-differential-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function scenario(tables: readonly Table[], steps: readonly Step[]): void {
  const path = join(directory, `run-${runCounter++}.cart`);
  const native = new BetterSqlite3(':memory:');
  let cart = Cartridge.create(path);
  let db: Database = cart.openDatabase('/db.sqlite');
  try {
    for (const table of tables) {
      const columns = table.columns.map((type, index) => `${columnName(index)} ${type}`).join(', ');
      const sql = `CREATE TABLE ${table.name} (id INTEGER PRIMARY KEY, ${columns})`;
      native.exec(sql);
      db.exec(sql);
    }
    for (const step of steps) {
      if (step.kind === 'reopen') {
        db.close();
        cart.close();
        cart = Cartridge.open(path);
        db = cart.openDatabase('/db.sqlite');
        continue;
      }
      const expected = runStep(native as unknown as Connection, tables, step);
      const actual = runStep(db as unknown as Connection, tables, step);
      expect(actual).toEqual(expected);
    }
    for (const table of tables) {
      const sql = `SELECT * FROM ${table.name} ORDER BY id`;
      expect(normalise(db.prepare(sql).all())).toEqual(normalise(native.prepare(sql).all()));
    }
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(native.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    cart.close();
    // The pages in the cartridge alone hold the database: a fresh open agrees too.
    cart = Cartridge.open(path);
    db = cart.openDatabase('/db.sqlite');
    for (const table of tables) {
      const sql = `SELECT * FROM ${table.name} ORDER BY id`;
      expect(normalise(db.prepare(sql).all())).toEqual(normalise(native.prepare(sql).all()));
    }
  } finally {
    db.close();
    cart.close();
    native.close();
    rmSync(path, { force: true });
  }
}

describe('database differential property', () => {
  it('gives the same results as better-sqlite3 for random schemas and statements', () => {
    fc.assert(
      fc.property(
        tablesArbitrary.chain((tables) => fc.tuple(fc.constant(tables), stepsArbitrary(tables))),
        ([tables, steps]) => scenario(tables, steps),
      ),
      {
        numRuns: NUM_RUNS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(REPLAY_PATH === undefined ? {} : { path: REPLAY_PATH }),
      },
    );
  });
});
