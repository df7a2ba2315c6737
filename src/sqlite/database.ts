import type { Database as WasmDatabase, Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { CartridgeError } from '../errors.js';
import {
  type FailureSink,
  registerDatabase,
  unregisterDatabase,
  VFS_NAME,
} from './cartridge-vfs.js';
import type { PageStore } from './page-store.js';
import { LeanBinding } from './lean-binding.js';
import { sqliteErrorOf } from './sqlite-error.js';
import { type RunResult, DatabaseStatement } from './statement.js';

/** Options of `openDatabase`. */
export interface DatabaseOptions {
  /** Open without writing; always so for a database of a view. */
  readonly readOnly?: boolean;
  /** SQLite's page cache in KiB (`PRAGMA cache_size=-N`); default 16 MiB. */
  readonly cacheSizeKibibytes?: number;
}

/**
 * The settings under which one SQLite sync is one SQLite commit and nothing else: the
 * rollback journal lives in memory (a crash loses at most the transaction in flight, whose
 * pages never reached the cartridge), the connection keeps its lock (no re-reading of page 1
 * per statement), every commit syncs, and no page is written before the commit.
 */
const SETTINGS = [
  'PRAGMA locking_mode=EXCLUSIVE',
  'PRAGMA journal_mode=MEMORY',
  'PRAGMA synchronous=NORMAL',
  'PRAGMA cache_spill=OFF',
  'PRAGMA temp_store=MEMORY',
];

/**
 * A SQLite database inside a cartridge, shaped like better-sqlite3's `Database`: `exec`,
 * `prepare` (→ `run` / `get` / `all` / `iterate`), `transaction(fn)`, `pragma`, `close`. Every
 * call is synchronous. Its pages live in the cartridge file at `path`; see `page-store.ts`
 * for how a commit becomes one journal transaction.
 */
export class Database {
  private database: WasmDatabase | undefined;
  private readonly statements = new Set<DatabaseStatement>();
  private readonly failures: FailureSink = { lastFailure: undefined };
  private readonly name: string;
  private transactionDepth = 0;
  private readonly binding: LeanBinding;
  private savepointCounter = 0;

  /** @internal Made by `openDatabase`. */
  constructor(
    private readonly sqlite3: Sqlite3Static,
    store: PageStore,
    /** The path of the database file in the cartridge. */
    readonly path: string,
    readonly readOnly: boolean,
    options: DatabaseOptions,
  ) {
    this.binding = new LeanBinding(sqlite3);
    this.name = registerDatabase(store, this.failures);
    try {
      this.database = this.guard(
        () =>
          new sqlite3.oo1.DB({
            filename: this.name,
            flags: readOnly ? 'r' : 'c',
            vfs: VFS_NAME,
          }),
      );
      const cacheSize = options.cacheSizeKibibytes ?? 16 * 1024;
      if (!Number.isSafeInteger(cacheSize) || cacheSize <= 0) {
        throw new CartridgeError('EINVAL', 'cacheSizeKibibytes must be a positive integer');
      }
      // A new database gets 4 KiB pages (one SQLite page = one cartridge page); the setting
      // does nothing to an existing one.
      if (!readOnly) this.exec('PRAGMA page_size=4096');
      this.exec(`PRAGMA cache_size=-${cacheSize}`);
      for (const setting of SETTINGS) this.exec(setting);
      // Reading the schema now takes the lock and reports a file that is not a database here,
      // at open, rather than at the first statement.
      this.exec('SELECT count(*) FROM sqlite_schema');
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Whether the handle is open. */
  get open(): boolean {
    return this.database !== undefined;
  }

  /** Whether a transaction is open on the connection. */
  get inTransaction(): boolean {
    const database = this.requireOpen();
    return this.sqlite3.capi.sqlite3_get_autocommit(database.pointer as number) === 0;
  }

  /** Runs one or more statements without parameters. */
  exec(sql: string): this {
    const database = this.requireOpen();
    requireText(sql);
    this.guard(() => database.exec(sql));
    return this;
  }

  prepare(sql: string): DatabaseStatement {
    const database = this.requireOpen();
    requireText(sql);
    const prepared = this.guard(() => database.prepare(sql));
    const statement = new DatabaseStatement(
      prepared,
      {
        guard: (body) => this.guard(body),
        binding: this.binding,
        errorMessage: () =>
          this.sqlite3.capi.sqlite3_errmsg(this.requireOpen().pointer as number) ?? 'SQLite error',
        runResult: () => this.runResult(),
        ensureOpen: () => void this.requireOpen(),
        parameterName: (target, index) =>
          this.sqlite3.capi.sqlite3_bind_parameter_name(target.pointer as number, index) ?? null,
      },
      sql,
    );
    this.statements.add(statement);
    return statement;
  }

  /**
   * Runs a pragma and returns its rows, or with `{ simple: true }` the first column of the
   * first row, as better-sqlite3 does.
   */
  pragma(source: string, options: { simple?: boolean } = {}): unknown {
    const statement = this.prepare(`PRAGMA ${source}`);
    try {
      if (options.simple === true) {
        const row = statement.get();
        return row === undefined ? undefined : Object.values(row)[0];
      }
      return statement.all();
    } finally {
      this.statements.delete(statement);
      statement.finalize();
    }
  }

  /**
   * Wraps `body` in a transaction, as better-sqlite3's `transaction` does: the returned
   * function begins, runs `body`, and commits, or rolls back if `body` throws; called inside
   * another transaction it uses a savepoint.
   */
  transaction<Arguments extends unknown[], Result>(
    body: (...values: Arguments) => Result,
  ): (...values: Arguments) => Result {
    if (typeof body !== 'function') {
      throw new CartridgeError('INVALID_ARGUMENT', 'transaction takes a function');
    }
    return (...values: Arguments): Result => {
      const nested = this.transactionDepth > 0;
      const savepoint = `cartridge_${++this.savepointCounter}`;
      this.exec(nested ? `SAVEPOINT ${savepoint}` : 'BEGIN');
      this.transactionDepth++;
      let result: Result;
      try {
        result = body(...values);
        if (result instanceof Promise) {
          throw new CartridgeError('INVALID_ARGUMENT', 'a transaction body must be synchronous');
        }
      } catch (error) {
        this.transactionDepth--;
        if (this.inTransaction) {
          if (nested) this.exec(`ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
          else this.exec('ROLLBACK');
        }
        throw error;
      }
      this.transactionDepth--;
      try {
        this.exec(nested ? `RELEASE ${savepoint}` : 'COMMIT');
      } catch (error) {
        // A commit the cartridge refused (ENOSPC, a policy) leaves nothing behind.
        if (!nested && this.inTransaction) this.exec('ROLLBACK');
        throw error;
      }
      return result;
    };
  }

  /** Closes the connection; its statements become unusable. Closing twice does nothing. */
  close(): void {
    const database = this.database;
    this.database = undefined;
    for (const statement of this.statements) {
      try {
        statement.finalize();
      } catch {
        // Finalising reports the statement's last error again: it was reported when it ran.
      }
    }
    this.statements.clear();
    try {
      database?.close();
    } finally {
      this.binding.dispose();
      unregisterDatabase(this.name);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private runResult(): RunResult {
    const database = this.requireOpen();
    const pointer = database.pointer as number;
    const rowid = this.binding.lastInsertRowid(pointer);
    const asNumber = Number(rowid);
    return {
      changes: this.binding.changes(pointer),
      lastInsertRowid: Number.isSafeInteger(asNumber) ? asNumber : rowid,
    };
  }

  private guard<T>(body: () => T): T {
    this.failures.lastFailure = undefined;
    try {
      return body();
    } catch (error) {
      throw sqliteErrorOf(
        this.sqlite3,
        this.database?.pointer as number | undefined,
        error,
        this.failures,
        this.path,
      );
    }
  }

  private requireOpen(): WasmDatabase {
    if (this.database === undefined) {
      throw new CartridgeError('CARTRIDGE_CLOSED', `the database ${this.path} is closed`, {
        path: this.path,
      });
    }
    return this.database;
  }
}

function requireText(sql: unknown): void {
  if (typeof sql !== 'string') throw new CartridgeError('INVALID_ARGUMENT', 'SQL must be text');
}
