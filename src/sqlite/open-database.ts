import type { Cartridge } from '../engine/cartridge.js';
import type { CartridgeView } from '../engine/cartridge-view.js';
import type { FilePatch } from '../engine/write-path.js';
import { CartridgeError, isCartridgeError } from '../errors.js';
import { canonicalPath } from '../path/canonical-path.js';
import { installCartridgeVfs } from './cartridge-vfs.js';
import { Database, type DatabaseOptions } from './database.js';
import { type PageSource, PageStore } from './page-store.js';
import { sqliteModule } from './sqlite-module.js';

/**
 * Opens the database in the cartridge file at `path`, creating an empty file for a new
 * database (SQLite writes its first page at the first commit).
 */
export function openDatabase(
  cart: Cartridge,
  path: string,
  options: DatabaseOptions = {},
): Database {
  const sqlite3 = sqliteModule();
  installCartridgeVfs(sqlite3);
  const canonical = canonicalPath(path);
  const readOnly = cart.readOnly || options.readOnly === true;
  if (!cart.exists(canonical)) {
    if (readOnly) {
      throw new CartridgeError('ENOENT', `no database at ${canonical}`, { path: canonical });
    }
    cart.createFile(canonical, new Uint8Array(0));
  }
  requireFile(cart.metadata(canonical).type, canonical);
  return new Database(
    sqlite3,
    new PageStore(cartridgeSource(cart, canonical, readOnly)),
    canonical,
    readOnly,
    options,
  );
}

/** Opens the database at `path` as it was at the view's offset, read-only. */
export function openViewDatabase(
  view: CartridgeView,
  cartridgeId: string,
  path: string,
  options: DatabaseOptions = {},
): Database {
  const sqlite3 = sqliteModule();
  installCartridgeVfs(sqlite3);
  const canonical = canonicalPath(path);
  requireFile(view.metadata(canonical).type, canonical);
  const source: PageSource = {
    key: `${cartridgeId}@${view.head}:${canonical}`,
    readOnly: true,
    sizeBytes: () => view.metadata(canonical).sizeBytes,
    read: (start, end) => view.readFile(canonical, { start, end }),
    commit: () => {
      throw new CartridgeError('READ_ONLY', 'a database of a view is read-only', {
        path: canonical,
      });
    },
  };
  return new Database(sqlite3, new PageStore(source), canonical, true, {
    ...options,
    readOnly: true,
  });
}

function requireFile(type: 'file' | 'directory', path: string): void {
  if (type !== 'file') throw new CartridgeError('EISDIR', `${path} is a directory`, { path });
}

/** The database file of a cartridge as SQLite's page source, through the public API. */
function cartridgeSource(cart: Cartridge, path: string, readOnly: boolean): PageSource {
  return {
    key: `${cart.cartridgeId}:${path}`,
    readOnly,
    sizeBytes: () => cart.metadata(path).sizeBytes,
    read: (start, end) => cart.readFile(path, { start, end }),
    commit: (records, sizeBytes) => {
      if (readOnly) throw new CartridgeError('READ_ONLY', `${path} is open read-only`, { path });
      // A commit inside a caller's cartridge transaction could be rolled back by it after
      // SQLite has taken it as done, leaving SQLite's cache ahead of the file.
      if (cart.inTransaction) {
        throw new CartridgeError(
          'INVALID_ARGUMENT',
          'a database commit cannot run inside a cartridge transaction',
          { path },
        );
      }
      try {
        // The common commit is one record, which sets the final size: `patchFile` is a
        // transaction of its own, so it needs neither an outer one nor a look at the file.
        if (records.length === 1) {
          cart.patchFile(path, records[0] as readonly FilePatch[], { sizeBytes });
        } else {
          cart.transaction(() => commitRecords(cart, path, records, sizeBytes));
        }
      } catch (error) {
        if (isCartridgeError(error)) throw error;
        throw new CartridgeError('IO_ERROR', `${path}: the commit failed`, { path, cause: error });
      }
    },
  };
}

/**
 * Several records in one transaction (a commit of more ranges than one record holds), one per
 * group of patches: each record's size reaches at least the end of its last
 * patch, so no record leaves a hole that a later one fills; the last one sets the final size.
 */
function commitRecords(
  cart: Cartridge,
  path: string,
  records: readonly (readonly FilePatch[])[],
  sizeBytes: number,
): void {
  const keptSizeBytes = Math.min(cart.metadata(path).sizeBytes, sizeBytes);
  for (let index = 0; index < records.length; index++) {
    const patches = records[index] as readonly FilePatch[];
    const last = patches[patches.length - 1];
    const end = last === undefined ? 0 : last.offsetBytes + last.content.length;
    const recordSizeBytes = index === records.length - 1 ? sizeBytes : Math.max(keptSizeBytes, end);
    cart.patchFile(path, patches, { sizeBytes: recordSizeBytes });
  }
}
