/**
 * The I/O seam. Every byte Cartridge reads or writes goes through these two interfaces, so
 * that tests can swap in memory or fault-injecting implementations. Nothing outside
 * `src/journal/io/` imports `node:fs` for data.
 *
 * Errors: implementations throw whatever the underlying system throws (an `Error` with a
 * string `code` such as `EIO` or `ENOSPC`); the journal wraps them into `CartridgeError`.
 */

export interface StorageFile {
  /** The current size of the file as the process sees it (written, not necessarily synced). */
  sizeBytes(): number;
  /**
   * Reads up to `length` bytes at `position` into `target` starting at `targetOffset` and
   * returns how many bytes were read (fewer only at end of file).
   */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): number;
  /** Writes all the buffers back to back starting at `position` (a positional writev). */
  write(buffers: readonly Uint8Array[], position: number): void;
  /** Cuts or extends (with zeros) the file to `sizeBytes`. */
  truncate(sizeBytes: number): void;
  /** Makes every completed write durable (fdatasync). */
  sync(): void;
  /** Releases the handle. Closing does not sync. */
  close(): void;
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
}
