import type { Sqlite3Static } from '@sqlite.org/sqlite-wasm';

/**
 * The hot path of a statement (bind, step, read a column, reset) through the module's exported
 * C functions, without the `oo1` wrapper: measured in limits-node20.md §3.3, `oo1` costs about
 * 5× better-sqlite3 and the exported functions 1.1–1.5×. Preparing, `exec` and finalising stay
 * with `oo1`; they run once per statement.
 */

const SQLITE_ROW = 100;
const SQLITE_DONE = 101;
const SQLITE_INTEGER = 1;
const SQLITE_FLOAT = 2;
const SQLITE_TEXT = 3;
const SQLITE_BLOB = 4;
/** `SQLITE_TRANSIENT`: SQLite copies a bound value at once, so the scratch memory is reusable. */
const SQLITE_TRANSIENT = -1;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const textEncoder = new TextEncoder();

/** The exported C functions used here, typed as the WebAssembly module exports them. */
interface Exports {
  sqlite3_bind_null(statement: number, index: number): number;
  sqlite3_bind_int(statement: number, index: number, value: number): number;
  sqlite3_bind_int64(statement: number, index: number, value: bigint): number;
  sqlite3_bind_double(statement: number, index: number, value: number): number;
  sqlite3_bind_text(
    statement: number,
    index: number,
    text: number,
    lengthBytes: number,
    destructor: number,
  ): number;
  sqlite3_bind_blob(
    statement: number,
    index: number,
    blob: number,
    lengthBytes: number,
    destructor: number,
  ): number;
  sqlite3_bind_parameter_count(statement: number): number;
  sqlite3_step(statement: number): number;
  sqlite3_reset(statement: number): number;
  sqlite3_clear_bindings(statement: number): number;
  sqlite3_column_count(statement: number): number;
  sqlite3_column_type(statement: number, index: number): number;
  sqlite3_column_double(statement: number, index: number): number;
  sqlite3_column_int64(statement: number, index: number): bigint;
  sqlite3_column_text(statement: number, index: number): number;
  sqlite3_column_blob(statement: number, index: number): number;
  sqlite3_column_bytes(statement: number, index: number): number;
  sqlite3_changes(database: number): number;
  sqlite3_last_insert_rowid(database: number): bigint;
}

/** A failed call, shaped like the module's own errors (`resultCode`) for `sqlite-error.ts`. */
export class ResultCodeError extends Error {
  constructor(
    readonly resultCode: number,
    message: string,
  ) {
    super(message);
  }
}

export class LeanBinding {
  private readonly exports: Exports;
  private scratchPointer = 0;
  private scratchBytes = 0;

  constructor(private readonly sqlite3: Sqlite3Static) {
    this.exports = sqlite3.wasm.exports as unknown as Exports;
  }

  parameterCount(statement: number): number {
    return this.exports.sqlite3_bind_parameter_count(statement);
  }

  bind(
    statement: number,
    index: number,
    value: number | bigint | string | Uint8Array | null,
  ): void {
    const exports = this.exports;
    let rc: number;
    if (value === null) rc = exports.sqlite3_bind_null(statement, index);
    else if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) {
        rc = exports.sqlite3_bind_int(statement, index, value);
      } else if (Number.isSafeInteger(value)) {
        rc = exports.sqlite3_bind_int64(statement, index, BigInt(value));
      } else {
        rc = exports.sqlite3_bind_double(statement, index, value);
      }
    } else if (typeof value === 'bigint') rc = exports.sqlite3_bind_int64(statement, index, value);
    else if (typeof value === 'string') {
      // UTF-8 is at most three bytes per UTF-16 unit.
      const pointer = this.scratch(value.length * 3 + 1);
      const heap = this.sqlite3.wasm.heap8u();
      const { written } = textEncoder.encodeInto(
        value,
        heap.subarray(pointer, pointer + value.length * 3),
      );
      rc = exports.sqlite3_bind_text(statement, index, pointer, written, SQLITE_TRANSIENT);
    } else {
      const pointer = this.scratch(Math.max(1, value.length));
      this.sqlite3.wasm.heap8u().set(value, pointer);
      rc = exports.sqlite3_bind_blob(statement, index, pointer, value.length, SQLITE_TRANSIENT);
    }
    if (rc !== 0) throw new ResultCodeError(rc, `binding parameter ${index} failed`);
  }

  /** Steps once: true with a row, false when done; a failure throws with its result code. */
  step(statement: number, errorMessage: () => string): boolean {
    const rc = this.exports.sqlite3_step(statement);
    if (rc === SQLITE_ROW) return true;
    if (rc === SQLITE_DONE) return false;
    throw new ResultCodeError(rc, errorMessage());
  }

  reset(statement: number, clearBindings: boolean): void {
    this.exports.sqlite3_reset(statement);
    if (clearBindings) this.exports.sqlite3_clear_bindings(statement);
  }

  /**
   * What a statement run reports, read through the exported functions: the module's wrapped
   * `capi` versions convert their arguments and push and pop a scratch allocation scope per
   * call, which cost a third of a single-row insert's time in a bulk transaction.
   */
  changes(database: number): number {
    return this.exports.sqlite3_changes(database);
  }

  lastInsertRowid(database: number): bigint {
    return this.exports.sqlite3_last_insert_rowid(database);
  }

  columnCount(statement: number): number {
    return this.exports.sqlite3_column_count(statement);
  }

  /** A column of the current row; integers as numbers when exact, else as bigint. */
  column(statement: number, index: number): number | bigint | string | Buffer | null {
    const exports = this.exports;
    switch (exports.sqlite3_column_type(statement, index)) {
      case SQLITE_INTEGER: {
        const value = exports.sqlite3_column_double(statement, index);
        return Number.isSafeInteger(value) ? value : exports.sqlite3_column_int64(statement, index);
      }
      case SQLITE_FLOAT:
        return exports.sqlite3_column_double(statement, index);
      case SQLITE_TEXT: {
        const pointer = exports.sqlite3_column_text(statement, index);
        const lengthBytes = exports.sqlite3_column_bytes(statement, index);
        return Buffer.from(this.sqlite3.wasm.heap8u().buffer, pointer, lengthBytes).toString(
          'utf8',
        );
      }
      case SQLITE_BLOB: {
        const pointer = exports.sqlite3_column_blob(statement, index);
        const lengthBytes = exports.sqlite3_column_bytes(statement, index);
        return Buffer.from(this.sqlite3.wasm.heap8u().slice(pointer, pointer + lengthBytes));
      }
      default:
        return null;
    }
  }

  /** Frees the scratch memory (the database closes). */
  dispose(): void {
    if (this.scratchPointer !== 0) this.sqlite3.wasm.dealloc(this.scratchPointer);
    this.scratchPointer = 0;
    this.scratchBytes = 0;
  }

  /** Scratch memory in the module's heap for a bound value, grown as needed, never shrunk. */
  private scratch(lengthBytes: number): number {
    if (lengthBytes > this.scratchBytes) {
      if (this.scratchPointer !== 0) this.sqlite3.wasm.dealloc(this.scratchPointer);
      const size = Math.max(lengthBytes, 4096);
      this.scratchPointer = this.sqlite3.wasm.alloc(size) as unknown as number;
      this.scratchBytes = size;
    }
    return this.scratchPointer;
  }
}
