import { createRequire } from 'node:module';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Cartridge } from '../engine/cartridge.js';
import type { CheckoutTarget } from '../engine/checkout.js';
import { CartridgeError, fromSystemError } from '../errors.js';
import { canonicalPath } from '../path/canonical-path.js';
import {
  makeScratchDirectory,
  readHostFile,
  removeScratchDirectory,
  writeHostFile,
  writeNewHostFile,
} from '../journal/io/scratch-files.js';

/**
 * Moving databases between a cartridge and native SQLite files. Import goes through
 * better-sqlite3 (native SQLite reads a file in any journal mode, WAL included, and rewrites
 * it with 4 KiB pages); export is a plain copy of the committed pages, which are a standard
 * SQLite file. better-sqlite3 is an optional package, loaded only here.
 */

/** The SQLite file header's first 16 bytes. */
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Options of `exportDatabase`. */
export interface ExportDatabaseOptions {
  /** Export the database as it was at this point of history (any `checkout` target). */
  readonly at?: CheckoutTarget;
}

type BetterSqlite3Constructor = typeof BetterSqlite3;

function loadBetterSqlite3(): BetterSqlite3Constructor {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as BetterSqlite3Constructor;
  } catch (error) {
    throw new CartridgeError(
      'SQLITE_NOT_LOADED',
      'importDatabase needs the better-sqlite3 package: npm install better-sqlite3',
      { cause: error },
    );
  }
}

/** Copies the native database at `nativeFile` into a new cartridge file at `path`. */
export function importDatabase(cart: Cartridge, nativeFile: string, path: string): void {
  const canonical = canonicalPath(path);
  if (typeof nativeFile !== 'string' || nativeFile.length === 0) {
    throw new CartridgeError('INVALID_ARGUMENT', 'nativeFile must be a path');
  }
  if (cart.exists(canonical)) {
    throw new CartridgeError('EEXIST', `${canonical} already exists`, { path: canonical });
  }
  const NativeDatabase = loadBetterSqlite3();
  const scratch = makeScratchDirectory('cartridge-import-');
  try {
    let serialized: Buffer;
    try {
      const source = new NativeDatabase(nativeFile, { readonly: true, fileMustExist: true });
      try {
        serialized = source.serialize();
      } finally {
        source.close();
      }
    } catch (error) {
      throw new CartridgeError('SQLITE_ERROR', `cannot read ${nativeFile} as a database`, {
        cause: error,
      });
    }
    // A copy in rollback-journal mode, rewritten with 4 KiB pages: one SQLite page is one
    // cartridge page from the first commit on.
    const copyPath = join(scratch, 'copy.sqlite');
    writeHostFile(copyPath, serialized);
    const copy = new NativeDatabase(copyPath);
    try {
      copy.pragma('journal_mode=DELETE');
      copy.pragma('page_size=4096');
      copy.exec('VACUUM');
    } finally {
      copy.close();
    }
    cart.createFile(canonical, readHostFile(copyPath));
  } finally {
    removeScratchDirectory(scratch);
  }
}

/**
 * Writes the committed database at `path` (or as it was at `at`) to a new native file. The
 * file must not exist: an export never overwrites.
 */
export function exportDatabase(
  cart: Cartridge,
  path: string,
  nativeFile: string,
  options: ExportDatabaseOptions = {},
): void {
  const canonical = canonicalPath(path);
  if (typeof nativeFile !== 'string' || nativeFile.length === 0) {
    throw new CartridgeError('INVALID_ARGUMENT', 'nativeFile must be a path');
  }
  const bytes =
    options.at === undefined
      ? cart.readFile(canonical)
      : cart.checkout(options.at).readFile(canonical);
  if (
    bytes.length < SQLITE_MAGIC.length ||
    !bytes.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)
  ) {
    throw new CartridgeError('EINVAL', `${canonical} holds no SQLite database`, {
      path: canonical,
    });
  }
  try {
    writeNewHostFile(nativeFile, bytes);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') {
      throw new CartridgeError('EEXIST', `${nativeFile} already exists`);
    }
    throw fromSystemError(error, `writing ${nativeFile}`);
  }
}
