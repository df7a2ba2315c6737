import { constants as bufferConstants } from 'node:buffer';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { assert } from '../../assert.js';
import type {
  FileIdentity,
  LockHolder,
  OpenFileOptions,
  PathStatus,
  Storage,
  StorageFile,
} from './storage.js';

/**
 * An in-memory `Storage`: every file is a growable byte buffer keyed by its resolved path.
 * It has no notion of durability, so `sync` and `syncDirectory` do nothing. It exists for
 * fast tests and for callers that want a throwaway cartridge.
 *
 * This file also exports the two building blocks the fault-injecting storage shares with it:
 * `GrowableBytes` (the byte image of one file) and `createSystemError` (Node-shaped errors).
 */

/** An error shaped like the ones `node:fs` throws, so callers can treat all storages alike. */
export interface StorageSystemError extends Error {
  readonly code: string;
  readonly syscall: string;
  readonly path?: string;
}

const SYSTEM_ERROR_DESCRIPTIONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EBADF: 'bad file descriptor',
  EFBIG: 'file too large',
  EIO: 'i/o error',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ECRASHED: 'the simulated machine has crashed',
};

/** Builds an `Error` carrying `code`, `syscall` and `path` the way Node's fs errors do. */
export function createSystemError(
  code: string,
  syscall: string,
  path?: string,
): StorageSystemError {
  const description = SYSTEM_ERROR_DESCRIPTIONS[code] ?? 'system error';
  const where = path === undefined ? '' : ` '${path}'`;
  const error = new Error(`${code}: ${description}, ${syscall}${where}`);
  return Object.assign(error, path === undefined ? { code, syscall } : { code, syscall, path });
}

/**
 * The largest byte image a memory file may hold: the largest buffer Node can allocate. Growth
 * past it fails with `EFBIG`, as a real file system does at its own file size limit.
 */
export const MEMORY_FILE_MAX_BYTES = bufferConstants.MAX_LENGTH;

function assertPosition(value: number, what: string): void {
  assert(Number.isSafeInteger(value) && value >= 0, `${what} must be a non-negative integer`);
}

/**
 * The bytes of one file in a buffer that grows by doubling. Every byte between `sizeBytes`
 * and the capacity is kept at zero, so growing (by a write past the end or a truncate) shows
 * zeros without having to clear anything at that moment.
 */
export class GrowableBytes {
  private bytes: Uint8Array;
  private size: number;

  constructor(initial?: Uint8Array) {
    this.bytes = new Uint8Array(initial === undefined ? 0 : initial.byteLength);
    if (initial !== undefined) this.bytes.set(initial);
    this.size = this.bytes.byteLength;
  }

  get sizeBytes(): number {
    return this.size;
  }

  /** Copies up to `length` bytes at `position` into `target`; fewer only at the end. */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): number {
    assertPosition(targetOffset, 'targetOffset');
    assertPosition(length, 'length');
    assertPosition(position, 'position');
    assert(targetOffset + length <= target.byteLength, 'the read must fit in the target');
    const count = Math.max(0, Math.min(length, this.size - position));
    if (count > 0) target.set(this.bytes.subarray(position, position + count), targetOffset);
    return count;
  }

  /** Writes `source` at `position`; a gap past the old end reads as zeros. */
  write(source: Uint8Array, position: number): void {
    assertPosition(position, 'position');
    if (source.byteLength === 0) return;
    const endBytes = position + source.byteLength;
    this.ensureCapacity(endBytes);
    this.bytes.set(source, position);
    this.size = Math.max(this.size, endBytes);
  }

  /** Writes the buffers back to back starting at `position`. */
  writeAll(buffers: readonly Uint8Array[], position: number): void {
    let offset = position;
    for (const buffer of buffers) {
      this.write(buffer, offset);
      offset += buffer.byteLength;
    }
  }

  /** Cuts or extends (with zeros) the image to `sizeBytes`. */
  truncate(sizeBytes: number): void {
    assertPosition(sizeBytes, 'sizeBytes');
    if (sizeBytes < this.size) {
      // Clearing the cut tail keeps the invariant that bytes past the end are zero.
      this.bytes.fill(0, sizeBytes, this.size);
    } else {
      this.ensureCapacity(sizeBytes);
    }
    this.size = sizeBytes;
  }

  /** An exact-size copy of the current bytes. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.size);
  }

  clone(): GrowableBytes {
    return new GrowableBytes(this.bytes.subarray(0, this.size));
  }

  private ensureCapacity(requiredBytes: number): void {
    if (requiredBytes <= this.bytes.byteLength) return;
    if (requiredBytes > MEMORY_FILE_MAX_BYTES) throw createSystemError('EFBIG', 'write');
    // Doubling keeps a long run of appends at amortised constant cost per byte.
    const doubledBytes = Math.min(MEMORY_FILE_MAX_BYTES, this.bytes.byteLength * 2);
    const grown = new Uint8Array(Math.max(requiredBytes, doubledBytes, 64));
    grown.set(this.bytes.subarray(0, this.size));
    this.bytes = grown;
  }
}

/**
 * What the handles of one memory storage share: inode numbers (one per file's bytes, so a
 * replaced file has a new identity) and the writer locks, keyed by the file's bytes as flock
 * keys them by inode.
 */
class MemoryFileTable {
  private readonly inodes = new WeakMap<GrowableBytes, number>();
  private nextInode = 1;
  readonly lockHolders = new Map<GrowableBytes, MemoryStorageFile>();

  identityOf(content: GrowableBytes): FileIdentity {
    let inode = this.inodes.get(content);
    if (inode === undefined) {
      inode = this.nextInode++;
      this.inodes.set(content, inode);
    }
    return { device: 0, inode };
  }
}

/** One open handle of a memory file; handles on the same path share the same bytes. */
class MemoryStorageFile implements StorageFile {
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly content: GrowableBytes,
    private readonly readOnly: boolean,
    private readonly table: MemoryFileTable,
  ) {}

  identity(): FileIdentity {
    return this.table.identityOf(this.content);
  }

  tryLock(): boolean {
    this.checkOpen('flock');
    const holder = this.table.lockHolders.get(this.content);
    if (holder !== undefined && holder !== this) return false;
    this.table.lockHolders.set(this.content, this);
    return true;
  }

  /** Memory files live in this process, so any holder is this process. */
  lockHolder(): LockHolder {
    const held = this.table.lockHolders.has(this.content);
    return held ? { pid: process.pid, host: hostname() } : { pid: undefined, host: undefined };
  }

  sizeBytes(): number {
    this.checkOpen('fstat');
    return this.content.sizeBytes;
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): number {
    this.checkOpen('read');
    return this.content.read(target, targetOffset, length, position);
  }

  write(buffers: readonly Uint8Array[], position: number): void {
    this.checkWritable('write');
    this.content.writeAll(buffers, position);
  }

  truncate(sizeBytes: number): void {
    this.checkWritable('ftruncate');
    this.content.truncate(sizeBytes);
  }

  sync(): void {
    this.checkOpen('fdatasync');
  }

  /** Closing twice is harmless, matching the tolerant cleanup paths callers write. */
  close(): void {
    this.closed = true;
    if (this.table.lockHolders.get(this.content) === this) {
      this.table.lockHolders.delete(this.content);
    }
  }

  private checkOpen(syscall: string): void {
    if (this.closed) throw createSystemError('EBADF', syscall, this.path);
  }

  private checkWritable(syscall: string): void {
    this.checkOpen(syscall);
    // A read-only descriptor refuses writes with EBADF, as POSIX write(2) does.
    if (this.readOnly) throw createSystemError('EBADF', syscall, this.path);
  }
}

export class MemoryStorage implements Storage {
  private readonly files = new Map<string, GrowableBytes>();
  private readonly table = new MemoryFileTable();

  open(path: string, options: OpenFileOptions): StorageFile {
    assert(!(options.readOnly && options.truncate), 'a read-only open cannot truncate');
    const key = resolve(path);
    let content = this.files.get(key);
    if (content === undefined) {
      if (!options.create) throw createSystemError('ENOENT', 'open', path);
      content = new GrowableBytes();
      this.files.set(key, content);
    } else if (options.truncate) {
      content.truncate(0);
    }
    return new MemoryStorageFile(path, content, options.readOnly, this.table);
  }

  /** Only files exist in memory; directories are implied by the paths of their files. */
  exists(path: string): boolean {
    return this.files.has(resolve(path));
  }

  /** Memory has no durability to add, so there is nothing to do. */
  syncDirectory(_directoryPath: string): void {}

  statPath(path: string): PathStatus | undefined {
    const content = this.files.get(resolve(path));
    if (content === undefined) return undefined;
    return { identity: this.table.identityOf(content), sizeBytes: content.sizeBytes };
  }

  /** Open handles keep the bytes, as an unlinked file stays readable through its descriptor. */
  remove(path: string): void {
    this.files.delete(resolve(path));
  }

  rename(fromPath: string, toPath: string): void {
    const content = this.files.get(resolve(fromPath));
    if (content === undefined) throw createSystemError('ENOENT', 'rename', fromPath);
    this.files.delete(resolve(fromPath));
    this.files.set(resolve(toPath), content);
  }
}
