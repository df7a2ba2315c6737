import type { Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { CartridgeError } from '../errors.js';
import { importModule } from '../dynamic-import.js';

type SqliteWasm = typeof import('@sqlite.org/sqlite-wasm');

/**
 * The SQLite WebAssembly module, loaded once per process. Its initialisation is asynchronous
 * (it compiles the WebAssembly), everything after it is synchronous. The package is loaded
 * both by `import` and by `require(esm)`, which refuses modules with a top-level await, so the
 * load is an explicit step: `await Cartridge.loadSqlite()` once, then `openDatabase` anywhere.
 */

let loaded: Sqlite3Static | undefined;
let loading: Promise<Sqlite3Static> | undefined;

/** Loads the module (once; later calls return the same promise). */
export function loadSqlite(): Promise<Sqlite3Static> {
  if (loaded !== undefined) return Promise.resolve(loaded);
  loading ??= importModule('@sqlite.org/sqlite-wasm').then(async (module) => {
    const sqlite3 = await (module as SqliteWasm).default();
    // The module warns on stderr about every failed statement; the handle reports each
    // failure as a thrown CartridgeError, so the warning would only be noise in the
    // application's output.
    sqlite3.config.warn = () => undefined;
    loaded = sqlite3;
    return sqlite3;
  });
  return loading;
}

/** The loaded module; `SQLITE_NOT_LOADED` before `loadSqlite()` has finished. */
export function sqliteModule(): Sqlite3Static {
  if (loaded === undefined) {
    throw new CartridgeError(
      'SQLITE_NOT_LOADED',
      'SQLite is not loaded: await Cartridge.loadSqlite() once before opening a database',
    );
  }
  return loaded;
}
