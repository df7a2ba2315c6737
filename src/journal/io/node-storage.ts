import * as fs from 'node:fs';
import { assert } from '../../assert.js';
import { flockExclusive, lockHolderOf } from './file-lock.js';
import { MappedTail, MAPPED_WRITES_AVAILABLE } from './mapped-tail.js';
import { type OwnedPathWatch, type PathWatch, watchPath } from './path-watch.js';
import type {
  FileIdentity,
  LockHolder,
  OpenFileOptions,
  PathStatus,
  Storage,
  StorageFile,
} from './storage.js';

/**
 * The real `Storage`: synchronous `node:fs` calls on file descriptors. Writes are positional
 * and the file is never opened with `O_APPEND`, because on Linux an append-mode descriptor
 * ignores the position and would put bytes somewhere other than where the journal asked.
 */

/**
 * Codes some platforms return when a directory cannot be opened or fsynced (Windows refuses to
 * open directories, some file systems reject fsync on them). Durability of directory entries
 * is then out of our hands, and failing the whole operation would help nobody.
 */
const IGNORED_DIRECTORY_SYNC_CODES: ReadonlySet<string> = new Set(['EISDIR', 'EINVAL', 'EPERM']);

/** A zero-byte write that keeps returning zero would loop forever; give up after this many. */
const ZERO_PROGRESS_WRITES_MAX = 16;

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function badDescriptor(syscall: string, path: string): Error {
  return Object.assign(new Error(`EBADF: bad file descriptor, ${syscall} '${path}'`), {
    code: 'EBADF',
    syscall,
    path,
  });
}

function systemError(code: string, syscall: string, path: string, detail: string): Error {
  return Object.assign(new Error(`${code}: ${detail}, ${syscall} '${path}'`), {
    code,
    syscall,
    path,
  });
}

function openFlags(options: OpenFileOptions): number {
  const { O_CREAT, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC } = fs.constants;
  // O_NONBLOCK keeps open() of a FIFO from waiting for a peer; the type check right after
  // refuses it. Regular files ignore the flag.
  let flags = (options.readOnly ? O_RDONLY : O_RDWR) | O_NONBLOCK;
  if (options.create) flags |= O_CREAT;
  if (options.truncate) flags |= O_TRUNC;
  return flags;
}

/** Drops the first `writtenBytes` bytes from a list of buffers after a short writev. */
function remainingAfter(buffers: readonly Uint8Array[], writtenBytes: number): Uint8Array[] {
  const remaining: Uint8Array[] = [];
  let skipBytes = writtenBytes;
  for (const buffer of buffers) {
    if (skipBytes >= buffer.byteLength) {
      skipBytes -= buffer.byteLength;
    } else {
      remaining.push(skipBytes === 0 ? buffer : buffer.subarray(skipBytes));
      skipBytes = 0;
    }
  }
  return remaining;
}

/**
 * One open descriptor. The size is read once with fstat and then tracked through this
 * handle's own writes and truncates, which is exact as long as this handle is the file's only
 * writer (the journal has exactly one writer).
 */
class NodeStorageFile implements StorageFile {
  private descriptor: number | undefined;
  private cachedSizeBytes: number;
  private readonly fileIdentity: FileIdentity;
  /** Writes inside the file go through a mapping of it once asked (see `mapped-tail.ts`). */
  private tail: MappedTail | undefined;
  /** The watch on this file's path the writer asked for, closed with the handle. */
  private watch: OwnedPathWatch | undefined;

  constructor(
    private readonly path: string,
    descriptor: number,
    private readonly readOnly: boolean,
  ) {
    this.descriptor = descriptor;
    const status = fs.fstatSync(descriptor);
    // Only a regular file can hold a journal; a FIFO, socket or device would block or lie.
    if (status.isDirectory()) throw systemError('EISDIR', 'open', path, 'is a directory');
    if (!status.isFile()) throw systemError('EFTYPE', 'open', path, 'not a regular file');
    this.cachedSizeBytes = status.size;
    this.fileIdentity = { device: status.dev, inode: status.ino };
  }

  writeInPlace(): boolean {
    if (this.tail === undefined && MAPPED_WRITES_AVAILABLE && !this.readOnly) {
      this.tail = new MappedTail(this.openDescriptor('mmap'), this.path);
    }
    return this.tail !== undefined;
  }

  watchPath(absolutePath: string): PathWatch | undefined {
    this.openDescriptor('inotify');
    this.watch ??= watchPath(absolutePath);
    return this.watch;
  }

  identity(): FileIdentity {
    return this.fileIdentity;
  }

  tryLock(): boolean {
    return flockExclusive(this.openDescriptor('flock'));
  }

  lockHolder(): LockHolder {
    return lockHolderOf(this.fileIdentity);
  }

  sizeBytes(): number {
    const descriptor = this.openDescriptor('fstat');
    // A read-only handle writes nothing, so its cache would never learn that another process
    // (the writer it follows) grew the file: it asks the kernel each time.
    if (this.readOnly) this.cachedSizeBytes = fs.fstatSync(descriptor).size;
    return this.cachedSizeBytes;
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): number {
    const descriptor = this.openDescriptor('read');
    let readBytes = 0;
    // Regular files only return short at end of file, but looping costs nothing and is safe.
    while (readBytes < length) {
      const count = fs.readSync(
        descriptor,
        target,
        targetOffset + readBytes,
        length - readBytes,
        position + readBytes,
      );
      if (count === 0) break;
      readBytes += count;
    }
    return readBytes;
  }

  write(buffers: readonly Uint8Array[], position: number): void {
    const descriptor = this.writableDescriptor('write');
    assert(Number.isSafeInteger(position) && position >= 0, 'position must be non-negative');
    if (this.tail !== undefined) {
      let totalBytes = 0;
      for (const buffer of buffers) totalBytes += buffer.byteLength;
      // Only bytes inside the file: a mapping cannot grow it.
      if (
        position + totalBytes <= this.cachedSizeBytes &&
        this.tail.tryWrite(buffers, position, totalBytes)
      ) {
        return;
      }
    }
    // This write raises an inotify event of its own: the writer's next check need not read it.
    this.watch?.wroteItself();
    let remaining = remainingAfter(buffers, 0);
    let offset = position;
    let zeroProgressCount = 0;
    // writev may write less than asked (signals, or more buffers than IOV_MAX), so loop.
    while (remaining.length > 0) {
      const writtenBytes = fs.writevSync(descriptor, remaining, offset);
      if (writtenBytes === 0 && ++zeroProgressCount > ZERO_PROGRESS_WRITES_MAX) {
        throw Object.assign(new Error(`EIO: writev made no progress '${this.path}'`), {
          code: 'EIO',
          syscall: 'write',
          path: this.path,
        });
      }
      offset += writtenBytes;
      remaining = remainingAfter(remaining, writtenBytes);
    }
    if (offset > position) this.cachedSizeBytes = Math.max(this.cachedSizeBytes, offset);
  }

  truncate(sizeBytes: number): void {
    const descriptor = this.writableDescriptor('ftruncate');
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, 'sizeBytes must be non-negative');
    // A mapped page past the new end would fault at its next touch.
    this.tail?.release();
    this.watch?.wroteItself();
    fs.ftruncateSync(descriptor, sizeBytes);
    this.cachedSizeBytes = sizeBytes;
  }

  sync(): void {
    fs.fdatasyncSync(this.openDescriptor('fdatasync'));
  }

  /** Closing twice is harmless; the descriptor number is forgotten so it cannot be reused. */
  close(): void {
    const descriptor = this.descriptor;
    if (descriptor === undefined) return;
    this.descriptor = undefined;
    this.tail?.release();
    this.watch?.close();
    fs.closeSync(descriptor);
  }

  private openDescriptor(syscall: string): number {
    // A closed descriptor number may already belong to another file, so never pass it on.
    if (this.descriptor === undefined) throw badDescriptor(syscall, this.path);
    return this.descriptor;
  }

  private writableDescriptor(syscall: string): number {
    const descriptor = this.openDescriptor(syscall);
    // Checked here because ftruncate on a read-only descriptor gives EINVAL on some systems
    // and EBADF on others; every storage reports EBADF.
    if (this.readOnly) throw badDescriptor(syscall, this.path);
    return descriptor;
  }
}

export class NodeStorage implements Storage {
  open(path: string, options: OpenFileOptions): StorageFile {
    assert(!(options.readOnly && options.truncate), 'a read-only open cannot truncate');
    const descriptor = fs.openSync(path, openFlags(options), 0o644);
    try {
      return new NodeStorageFile(path, descriptor, options.readOnly);
    } catch (error) {
      fs.closeSync(descriptor);
      throw error;
    }
  }

  exists(path: string): boolean {
    return fs.existsSync(path);
  }

  statPath(path: string): PathStatus | undefined {
    let status: fs.Stats | undefined;
    try {
      status = fs.statSync(path, { throwIfNoEntry: false });
    } catch (error) {
      // A component that is no longer a directory also means the path names nothing.
      if (errorCode(error) === 'ENOTDIR') return undefined;
      throw error;
    }
    if (status === undefined) return undefined;
    return { identity: { device: status.dev, inode: status.ino }, sizeBytes: status.size };
  }

  remove(path: string): void {
    try {
      fs.unlinkSync(path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }

  rename(fromPath: string, toPath: string): void {
    fs.renameSync(fromPath, toPath);
  }

  syncDirectory(directoryPath: string): void {
    let descriptor: number;
    try {
      descriptor = fs.openSync(directoryPath, fs.constants.O_RDONLY);
    } catch (error) {
      if (IGNORED_DIRECTORY_SYNC_CODES.has(errorCode(error) ?? '')) return;
      throw error;
    }
    try {
      fs.fsyncSync(descriptor);
    } catch (error) {
      if (!IGNORED_DIRECTORY_SYNC_CODES.has(errorCode(error) ?? '')) throw error;
    } finally {
      fs.closeSync(descriptor);
    }
  }
}
