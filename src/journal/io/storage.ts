/**
 * The I/O seam. Every byte Cartridge reads or writes goes through these two interfaces, so
 * that tests can swap in memory or fault-injecting implementations. Nothing outside
 * `src/journal/io/` imports `node:fs` for data.
 *
 * Errors: implementations throw whatever the underlying system throws (an `Error` with a
 * string `code` such as `EIO` or `ENOSPC`); the journal wraps them into `CartridgeError`.
 * `open` refuses anything but a regular file at once (`EISDIR` for a directory, `EFTYPE` for
 * a FIFO, socket or device), without blocking on it.
 */

import type { PathWatch } from './path-watch.js';

/** The identity of a file: two handles with the same device and inode reach the same file. */
export interface FileIdentity {
  readonly device: number;
  readonly inode: number;
}

/** What a path names at one moment: a file of this identity and size. */
export interface PathStatus {
  readonly identity: FileIdentity;
  readonly sizeBytes: number;
}

/** Who holds a file's writer lock, as far as the system can tell (each field may be unknown). */
export interface LockHolder {
  readonly pid: number | undefined;
  readonly host: string | undefined;
}

export interface StorageFile {
  /**
   * Asks the file to copy the writes that land inside it into a shared mapping of itself
   * instead of making a system call for each, and says whether it will (a real file, where the
   * addon is built: `mapped-tail.ts`). Writes that grow the file are made as before, so a
   * writer that says yes keeps zeros written ahead of its journal (`journal-reservation.ts`).
   * Only for writers that do not sync every commit: an `fdatasync` after writes through a
   * mapping took 380-430 µs here against 160-200 after `pwritev`. Optional: a storage without
   * it is written with `write` alone.
   */
  writeInPlace?(): boolean;
  /**
   * A watch that tells whether anything happened to this file, or to the names on the way to
   * it, since it was last asked (`path-watch.ts`), owned by this handle and closed with it; or
   * undefined when the storage has none for this path. The writer asks it only when its own
   * commits go through `writeInPlace()`, which the watch does not take for a change. Optional.
   */
  watchPath?(absolutePath: string): PathWatch | undefined;
  /** The current size of the file as the process sees it (written, not necessarily synced). */
  sizeBytes(): number;
  /**
   * Reads up to `length` bytes at `position` into `target` starting at `targetOffset` and
   * returns how many bytes were read (fewer only at end of file).
   */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): number;
  /**
   * Writes all the buffers back to back starting at `position` (a positional writev). The
   * buffers are the caller's again once this returns (the writer reuses the memory of sealed
   * blobs for its next commit): a storage that keeps bytes must copy them.
   */
  write(buffers: readonly Uint8Array[], position: number): void;
  /** Cuts or extends (with zeros) the file to `sizeBytes`. */
  truncate(sizeBytes: number): void;
  /** Makes every completed write durable (fdatasync). */
  sync(): void;
  /** Releases the handle, and the writer lock if it holds it. Closing does not sync. */
  close(): void;
  /** The identity of the open file, fixed when it was opened. */
  identity(): FileIdentity;
  /**
   * Takes the file's exclusive writer lock without waiting: true when taken, false when
   * another handle holds it, in this process or another. The lock belongs to this handle and
   * ends with its `close()` or with the death of the process, however it dies.
   */
  tryLock(): boolean;
  /** Who holds the lock that `tryLock()` could not take, where the system can tell. */
  lockHolder(): LockHolder;
}

export interface OpenFileOptions {
  /** Create the file when it is missing. */
  readonly create: boolean;
  /** Empty the file when it exists. */
  readonly truncate: boolean;
  /** Open without write access. */
  readonly readOnly: boolean;
}

export interface Storage {
  /** Opens a file; throws an `ENOENT` system error when it is missing and `create` is false. */
  open(path: string, options: OpenFileOptions): StorageFile;
  exists(path: string): boolean;
  /** Makes the directory entries of `directoryPath` durable (fsync of the directory). */
  syncDirectory(directoryPath: string): void;
  /** What `path` names now (one stat, following symbolic links), or undefined for nothing. */
  statPath(path: string): PathStatus | undefined;
  /** Removes the file at `path`; a path that names nothing is not an error. */
  remove(path: string): void;
  /**
   * Moves the file at `fromPath` to `toPath` in one step, replacing any file there (a POSIX
   * rename): a reader of `toPath` sees the old file or the new one, never a half-written one.
   */
  rename(fromPath: string, toPath: string): void;
}
