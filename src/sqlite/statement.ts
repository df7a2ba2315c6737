import type { PreparedStatement } from '@sqlite.org/sqlite-wasm';
import { CartridgeError } from '../errors.js';
import type { LeanBinding } from './lean-binding.js';

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
  readonly binding: LeanBinding;
  /** SQLite's message for the connection's last error. */
  errorMessage(): string;
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
  private readonly pointer: number;
  /** Column names by position, read once per shape of the result (a schema change re-prepares). */
  private columnNames: string[] = [];

  /** @internal Made by `Database.prepare`. */
  constructor(
    private readonly statement: PreparedStatement,
    private readonly host: StatementHost,
    readonly source: string,
  ) {
    this.pointer = statement.pointer as number;
  }

  /** Whether the statement returns rows. */
  get reader(): boolean {
    return this.host.binding.columnCount(this.pointer) > 0;
  }

  run(...parameters: BindParameters): RunResult {
    return this.execute(parameters, () => {
      while (this.step()) {
        // Rows of a statement run for its effect are skipped, as better-sqlite3 does.
      }
      return this.host.runResult();
    });
  }

  get(...parameters: BindParameters): Record<string, SqliteValue> | undefined {
    return this.execute(parameters, () => (this.step() ? this.row() : undefined));
  }

  all(...parameters: BindParameters): Record<string, SqliteValue>[] {
    return this.execute(parameters, () => {
      const rows: Record<string, SqliteValue>[] = [];
      while (this.step()) rows.push(this.row());
      return rows;
    });
  }

  *iterate(...parameters: BindParameters): IterableIterator<Record<string, SqliteValue>> {
    this.start(parameters);
    try {
      while (this.host.guard(() => this.step())) yield this.row();
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
      this.host.binding.reset(this.pointer, true);
      this.bind(parameters);
    });
    this.running = true;
  }

  private finish(): void {
    this.running = false;
    // The result of reset repeats the error of a failed step, which the step reported.
    this.host.binding.reset(this.pointer, true);
  }

  private bind(parameters: BindParameters): void {
    const expected = this.host.binding.parameterCount(this.pointer);
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
        this.host.binding.bind(this.pointer, index, toBindable(named[key]));
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
      this.host.binding.bind(this.pointer, index + 1, toBindable(parameters[index]));
    }
  }

  private step(): boolean {
    return this.host.binding.step(this.pointer, () => this.host.errorMessage());
  }

  private row(): Record<string, SqliteValue> {
    const binding = this.host.binding;
    const count = binding.columnCount(this.pointer);
    if (this.columnNames.length !== count) {
      this.columnNames = [];
      for (let index = 0; index < count; index++) {
        this.columnNames.push(this.statement.getColumnName(index));
      }
    }
    const row: Record<string, SqliteValue> = {};
    for (let index = 0; index < count; index++) {
      row[this.columnNames[index] as string] = binding.column(this.pointer, index);
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
