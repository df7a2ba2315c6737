import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Host files outside any cartridge, for moving SQLite databases in and out
 * (`importDatabase`, `exportDatabase`): a scratch directory, whole-file reads, and a write
 * that never replaces an existing file. Kept in the I/O seam with the rest of the host I/O.
 */

/** A fresh private directory under the system's temporary directory. */
export function makeScratchDirectory(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeScratchDirectory(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export function readHostFile(path: string): Buffer {
  return readFileSync(path);
}

export function writeHostFile(path: string, bytes: Uint8Array): void {
  writeFileSync(path, bytes);
}

/** Writes a new file; an existing one is left alone and the error's code is `EEXIST`. */
export function writeNewHostFile(path: string, bytes: Uint8Array): void {
  writeFileSync(path, bytes, { flag: 'wx' });
}
