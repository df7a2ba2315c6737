import type { PreparedStatement } from '@sqlite.org/sqlite-wasm';
import { CartridgeError } from '../errors.js';

/** A value SQLite stores: a blob comes back as a Buffer, as better-sqlite3 returns it. */
export type SqliteValue = number | bigint | string | Buffer | Uint8Array | null;

/** Named parameters (`:name`, `@name`, `$name`) by name, or positional ones. */
export type BindParameters = readonly unknown[];

/** What `run` reports, as better-sqlite3 does. */
export interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/** What a statement needs of its database handle. */
export interface StatementHost {
  /** Runs `body`, turning a SQLite failure into a `CartridgeError`. */
  guard<T>(body: () => T): T;
  runResult(): RunResult;
  /** The name of a parameter of a statement (with its prefix), or null for `?`. */
  parameterName(statement: PreparedStatement, index: number): string | null;
  ensureOpen(): void;
}

/**
 * A prepared statement, shaped like better-sqlite3's: `run`, `get`, `all`, `iterate`, with
 * parameters positional (`?`) or named (one object whose keys are the names without prefix).
 */
export class DatabaseStatement {
  private running = false;

  /** @internal Made by `Database.prepare`. */
  constructor(
    private readonly statement: PreparedStatement,
    private readonly host: StatementHost,
    readonly source: string,
  ) {}

  /** Whether the statement returns rows. */
  get reader(): boolean {
    return this.statement.columnCount > 0;
  }

  run(...parameters: BindParameters): RunResult {
    return this.execute(parameters, () => {
      while (this.statement.step()) {
        // Rows of a statement run for its effect are skipped, as better-sqlite3 does.
      }
      return this.host.runResult();
    });
  }

  get(...parameters: BindParameters): Record<string, SqliteValue> | undefined {
    return this.execute(parameters, () => (this.statement.step() ? this.row() : undefined));
  }

  all(...parameters: BindParameters): Record<string, SqliteValue>[] {
    return this.execute(parameters, () => {
      const rows: Record<string, SqliteValue>[] = [];
      while (this.statement.step()) rows.push(this.row());
      return rows;
    });
  }

  *iterate(...parameters: BindParameters): IterableIterator<Record<string, SqliteValue>> {
    this.start(parameters);
    try {
      while (this.host.guard(() => this.statement.step())) yield this.row();
    } finally {
      this.finish();
    }
  }

  /** @internal Frees the statement (its database closes). */
  finalize(): void {
    this.statement.finalize();
  }

  private execute<T>(parameters: BindParameters, body: () => T): T {
    this.start(parameters);
    try {
      return this.host.guard(body);
    } finally {
      this.finish();
    }
  }

  private start(parameters: BindParameters): void {
    this.host.ensureOpen();
    if (this.running) {
      throw new CartridgeError('INVALID_ARGUMENT', 'this statement is busy: an iterator is open');
    }
    this.host.guard(() => {
      this.statement.reset(true);
      this.bind(parameters);
    });
    this.running = true;
  }

  private finish(): void {
    this.running = false;
    try {
      this.statement.reset(true);
    } catch {
      // The error of a failed step was reported by the step; reset repeats it.
    }
  }

  private bind(parameters: BindParameters): void {
    const expected = this.statement.parameterCount;
    if (parameters.length === 1 && isNamedParameters(parameters[0])) {
      const named = parameters[0] as Record<string, unknown>;
      for (let index = 1; index <= expected; index++) {
        const name = this.host.parameterName(this.statement, index);
        if (name === null) {
          throw new CartridgeError('INVALID_ARGUMENT', `parameter ${index} has no name`);
        }
        const key = name.slice(1);
        if (!(key in named)) {
          throw new CartridgeError('INVALID_ARGUMENT', `missing named parameter "${key}"`);
        }
        this.statement.bind(index, toBindable(named[key]));
      }
      return;
    }
    if (parameters.length !== expected) {
      throw new CartridgeError(
        'INVALID_ARGUMENT',
        `the statement takes ${expected} parameters, ${parameters.length} were given`,
      );
    }
    for (let index = 0; index < parameters.length; index++) {
      this.statement.bind(index + 1, toBindable(parameters[index]));
    }
  }

  private row(): Record<string, SqliteValue> {
    const row: Record<string, SqliteValue> = {};
    const count = this.statement.columnCount;
    for (let index = 0; index < count; index++) {
      const value = this.statement.get(index) as SqliteValue;
      row[this.statement.getColumnName(index)] =
        value instanceof Uint8Array
          ? Buffer.from(value.buffer, value.byteOffset, value.length)
          : value;
    }
    return row;
  }
}

function isNamedParameters(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Uint8Array) &&
    !Array.isArray(value)
  );
}

function toBindable(value: unknown): number | bigint | string | Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string')
    return value;
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  throw new CartridgeError('INVALID_ARGUMENT', `SQLite cannot store a ${typeof value}`);
}
