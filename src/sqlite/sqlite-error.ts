import type { Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { CartridgeError, isCartridgeError } from '../errors.js';
import type { FailureSink } from './cartridge-vfs.js';

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/**
 * The `CartridgeError` a failed SQLite call becomes above the VFS. When the VFS turned a
 * cartridge error into a result code (`ENOSPC` into `SQLITE_FULL`, a policy's `EACCES` into an
 * I/O error), that error is what the caller gets, with SQLite's code attached as its cause;
 * otherwise `SQLITE_BUSY` for a lock held by another handle and `SQLITE_ERROR` for the rest,
 * with SQLite's extended result code and its name in the details.
 */
export function sqliteErrorOf(
  sqlite3: Sqlite3Static,
  databasePointer: number | undefined,
  error: unknown,
  failures: FailureSink,
  path: string,
): CartridgeError {
  const failure = failures.lastFailure;
  failures.lastFailure = undefined;
  if (isCartridgeError(error)) return error;
  const { capi } = sqlite3;
  let code =
    typeof error === 'object' && error !== null && 'resultCode' in error
      ? Number((error as { resultCode: unknown }).resultCode)
      : 1;
  if (databasePointer !== undefined && databasePointer !== 0) {
    const extended = capi.sqlite3_extended_errcode(databasePointer);
    if ((extended & 0xff) === (code & 0xff)) code = extended;
  }
  const sqliteCodeName = capi.sqlite3_js_rc_str(code) ?? `SQLite code ${code}`;
  const message = error instanceof Error ? error.message : String(error);
  if (isCartridgeError(failure)) return failure;
  const primary = code & 0xff;
  return new CartridgeError(
    primary === SQLITE_BUSY || primary === SQLITE_LOCKED ? 'SQLITE_BUSY' : 'SQLITE_ERROR',
    `${path}: ${message}`,
    { path, sqliteCode: code, sqliteCodeName, cause: failure ?? error },
  );
}
