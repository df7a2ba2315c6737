import type { Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { CartridgeError, isCartridgeError } from '../errors.js';
import { PAGE_SIZE_BYTES } from '../limits.js';
import { LOCK_NONE, LockTable } from './lock-table.js';
import { PageStore } from './page-store.js';

/**
 * The SQLite VFS named `cartridge`: database files are `PageStore`s, registered under a name
 * before SQLite opens them. Every method is synchronous. Errors cannot cross into SQLite as
 * exceptions: each method catches, keeps the error for the database handle (which rethrows it
 * as the `CartridgeError` it was) and returns the SQLite result code that fits.
 */

export const VFS_NAME = 'cartridge';

/** SQLite result codes used at the boundary (see sqlite3.h). */
const SQLITE_OK = 0;
const SQLITE_BUSY = 5;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTFOUND = 12;
const SQLITE_IOERR_READ = SQLITE_IOERR | (1 << 8);
const SQLITE_IOERR_SHORT_READ = SQLITE_IOERR | (2 << 8);
const SQLITE_IOERR_WRITE = SQLITE_IOERR | (3 << 8);
const SQLITE_IOERR_FSYNC = SQLITE_IOERR | (4 << 8);
const SQLITE_IOERR_TRUNCATE = SQLITE_IOERR | (6 << 8);
const SQLITE_IOERR_FSTAT = SQLITE_IOERR | (7 << 8);
const SQLITE_OPEN_READONLY = 0x00000001;
const SQLITE_OPEN_MAIN_DB = 0x00000100;
const SQLITE_IOCAP_SAFE_APPEND = 0x00000200;
const SQLITE_IOCAP_SEQUENTIAL = 0x00000400;
const SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN = 0x00000800;
const SQLITE_IOCAP_POWERSAFE_OVERWRITE = 0x00001000;
/** Milliseconds from the Julian day epoch to the Unix epoch, for `xCurrentTimeInt64`. */
const JULIAN_EPOCH_TO_UNIX_MS = 210_866_760_000_000n;

/** A struct of the module as its runtime shows it: `$`-prefixed members and a pointer. */
interface LooseStruct {
  [member: `$${string}`]: unknown;
  readonly pointer: number;
  dispose(): void;
}

/** What one open SQLite file is: a database's page store, or a private temporary file. */
interface OpenFile {
  readonly store: PageStore;
  readonly name: string;
  /** Per connection: what the lock table knows this file's locks by. */
  readonly holder: object;
  /** The handle to tell about an error, if the file is a database registered by one. */
  readonly failures: FailureSink | undefined;
  readonly temporary: boolean;
}

/** Where a VFS method leaves the error it turned into a result code. */
export interface FailureSink {
  lastFailure: unknown;
}

interface Registration {
  readonly store: PageStore;
  readonly failures: FailureSink;
}

const registrations = new Map<string, Registration>();
const openFiles = new Map<number, OpenFile>();
const locks = new LockTable();
let installedOn: Sqlite3Static | undefined;
let nameCounter = 0;

/** Registers a store under a fresh VFS file name, for the next `sqlite3_open_v2` of it. */
export function registerDatabase(store: PageStore, failures: FailureSink): string {
  nameCounter++;
  const name = `/cartridge-database-${nameCounter}`;
  registrations.set(name, { store, failures });
  return name;
}

export function unregisterDatabase(name: string): void {
  registrations.delete(name);
}

/** The result code an error becomes at the VFS boundary. */
function resultCodeOf(error: unknown, fallback: number): number {
  if (isCartridgeError(error)) {
    if (error.code === 'ENOSPC') return SQLITE_FULL;
    if (error.code === 'READ_ONLY') return SQLITE_READONLY;
    if (error.code === 'SQLITE_BUSY' || error.code === 'LOCKED') return SQLITE_BUSY;
  }
  return fallback;
}

/** Installs the VFS into the module once. */
export function installCartridgeVfs(sqlite3: Sqlite3Static): void {
  if (installedOn === sqlite3) return;
  const { capi, wasm } = sqlite3;
  // The package's type declarations name the struct members without the `$` prefix its
  // runtime uses, so the structs are handled through a loose view.
  const ioMethods = new capi.sqlite3_io_methods() as unknown as LooseStruct;
  ioMethods.$iVersion = 1;
  const vfs = new capi.sqlite3_vfs() as unknown as LooseStruct;
  vfs.$iVersion = 2;
  vfs.$szOsFile = (
    capi.sqlite3_file as unknown as { structInfo: { sizeof: number } }
  ).structInfo.sizeof;
  vfs.$mxPathname = 1024;
  vfs.$zName = (wasm as unknown as { allocCString: (text: string) => number }).allocCString(
    VFS_NAME,
  );
  vfs.$xDlOpen = vfs.$xDlError = vfs.$xDlSym = vfs.$xDlClose = 0;
  // Randomness and sleeping are borrowed from the built-in VFS: nothing of ours to add.
  const defaultVfsPointer = capi.sqlite3_vfs_find(null);
  const defaultVfs = new (capi.sqlite3_vfs as unknown as new (pointer: number) => LooseStruct)(
    defaultVfsPointer as unknown as number,
  );
  vfs.$xRandomness = defaultVfs.$xRandomness;
  vfs.$xSleep = defaultVfs.$xSleep;
  defaultVfs.dispose();

  const guard = (
    filePointer: number,
    fallback: number,
    body: (file: OpenFile) => number,
  ): number => {
    const file = openFiles.get(filePointer);
    if (file === undefined) return fallback;
    try {
      return body(file);
    } catch (error) {
      if (file.failures !== undefined) file.failures.lastFailure = error;
      return resultCodeOf(error, fallback);
    }
  };

  const io = {
    xClose: (filePointer: number): number => {
      const file = openFiles.get(filePointer);
      if (file === undefined) return SQLITE_OK;
      openFiles.delete(filePointer);
      locks.unlock(file.store.source.key, file.holder, LOCK_NONE);
      file.store.discard();
      return SQLITE_OK;
    },
    xRead: (
      filePointer: number,
      destination: number,
      lengthBytes: number,
      offset: bigint,
    ): number =>
      guard(filePointer, SQLITE_IOERR_READ, (file) => {
        // The heap view is taken after the read: nothing in it may grow the heap, but a view
        // taken before a growth would be detached.
        const buffer = new Uint8Array(lengthBytes);
        const full = file.store.read(Number(offset), buffer);
        wasm.heap8u().set(buffer, destination);
        return full ? SQLITE_OK : SQLITE_IOERR_SHORT_READ;
      }),
    xWrite: (filePointer: number, source: number, lengthBytes: number, offset: bigint): number =>
      guard(filePointer, SQLITE_IOERR_WRITE, (file) => {
        if (file.store.source.readOnly) return SQLITE_READONLY;
        // A view, not a copy: the store copies the bytes into its own page (it keeps nothing
        // of `bytes`), and nothing between here and that copy can grow the heap.
        const bytes = wasm.heap8u().subarray(source, source + lengthBytes);
        file.store.write(Number(offset), bytes);
        return SQLITE_OK;
      }),
    xTruncate: (filePointer: number, sizeBytes: bigint): number =>
      guard(filePointer, SQLITE_IOERR_TRUNCATE, (file) => {
        file.store.truncate(Number(sizeBytes));
        return SQLITE_OK;
      }),
    xSync: (filePointer: number): number =>
      guard(filePointer, SQLITE_IOERR_FSYNC, (file) => {
        if (!file.temporary) file.store.sync();
        return SQLITE_OK;
      }),
    xFileSize: (filePointer: number, sizePointer: number): number =>
      guard(filePointer, SQLITE_IOERR_FSTAT, (file) => {
        wasm.poke64(sizePointer, BigInt(file.store.sizeBytes));
        return SQLITE_OK;
      }),
    xLock: (filePointer: number, level: number): number =>
      guard(filePointer, SQLITE_BUSY, (file) =>
        locks.lock(file.store.source.key, file.holder, level) ? SQLITE_OK : SQLITE_BUSY,
      ),
    xUnlock: (filePointer: number, level: number): number =>
      guard(filePointer, SQLITE_OK, (file) => {
        locks.unlock(file.store.source.key, file.holder, level);
        return SQLITE_OK;
      }),
    xCheckReservedLock: (filePointer: number, resultPointer: number): number =>
      guard(filePointer, SQLITE_OK, (file) => {
        wasm.poke32(
          resultPointer,
          locks.reservedByOther(file.store.source.key, file.holder) ? 1 : 0,
        );
        return SQLITE_OK;
      }),
    xFileControl: (): number => SQLITE_NOTFOUND,
    xSectorSize: (): number => PAGE_SIZE_BYTES,
    xDeviceCharacteristics: (): number =>
      SQLITE_IOCAP_SAFE_APPEND |
      SQLITE_IOCAP_SEQUENTIAL |
      SQLITE_IOCAP_POWERSAFE_OVERWRITE |
      SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN,
  };

  const vfsMethods = {
    xOpen: (
      _vfsPointer: number,
      namePointer: number,
      filePointer: number,
      flags: number,
      outFlagsPointer: number,
    ): number => {
      try {
        const name = namePointer === 0 ? null : wasm.cstrToJs(namePointer);
        const registration = name === null ? undefined : registrations.get(name);
        let file: OpenFile;
        if (registration !== undefined && (flags & SQLITE_OPEN_MAIN_DB) !== 0) {
          file = {
            store: registration.store,
            name: name as string,
            holder: {},
            failures: registration.failures,
            temporary: false,
          };
        } else if (name === null) {
          // A temporary file (a sort, a temporary table): private memory, gone at close.
          file = {
            store: temporaryStore(),
            name: '',
            holder: {},
            failures: undefined,
            temporary: true,
          };
        } else {
          // Anything else (a rollback journal after `PRAGMA journal_mode` was changed, a
          // database attached by name) has no place in a cartridge.
          return SQLITE_CANTOPEN;
        }
        const handle = new (capi.sqlite3_file as unknown as new (pointer: number) => LooseStruct)(
          filePointer,
        );
        handle.$pMethods = ioMethods.pointer;
        handle.dispose();
        openFiles.set(filePointer, file);
        const readOnly = file.store.source.readOnly;
        wasm.poke32(outFlagsPointer, readOnly ? (flags & ~0x6) | SQLITE_OPEN_READONLY : flags);
        return SQLITE_OK;
      } catch {
        return SQLITE_CANTOPEN;
      }
    },
    xDelete: (): number => SQLITE_OK,
    xAccess: (
      _vfsPointer: number,
      namePointer: number,
      _flags: number,
      resultPointer: number,
    ): number => {
      const name = wasm.cstrToJs(namePointer);
      wasm.poke32(resultPointer, name !== null && registrations.has(name) ? 1 : 0);
      return SQLITE_OK;
    },
    xFullPathname: (
      _vfsPointer: number,
      namePointer: number,
      outLength: number,
      outPointer: number,
    ): number => {
      const copied = (
        wasm as unknown as { cstrncpy: (to: number, from: number, length: number) => number }
      ).cstrncpy(outPointer, namePointer, outLength);
      return copied < outLength ? SQLITE_OK : SQLITE_CANTOPEN;
    },
    xGetLastError: (): number => SQLITE_OK,
    xCurrentTime: (_vfsPointer: number, resultPointer: number): number => {
      wasm.poke(resultPointer, 2440587.5 + Date.now() / 86_400_000, 'double');
      return SQLITE_OK;
    },
    xCurrentTimeInt64: (_vfsPointer: number, resultPointer: number): number => {
      wasm.poke64(resultPointer, JULIAN_EPOCH_TO_UNIX_MS + BigInt(Date.now()));
      return SQLITE_OK;
    },
  };

  sqlite3.vfs.installVfs({
    io: { struct: ioMethods as never, methods: io as never },
    vfs: { struct: vfs as never, methods: vfsMethods as never },
  });
  installedOn = sqlite3;
}

let temporaryCounter = 0;

/**
 * A page store over private memory, for SQLite's temporary files: its pages stay buffered
 * (the VFS never syncs a temporary file) and go with it at close.
 */
function temporaryStore(): PageStore {
  temporaryCounter++;
  return new PageStore({
    key: `temporary-${temporaryCounter}`,
    readOnly: false,
    sizeBytes: () => 0,
    read: () => Buffer.alloc(0),
    commit: () => {
      throw new CartridgeError('INVALID_ARGUMENT', 'a temporary file is never synced');
    },
  });
}
