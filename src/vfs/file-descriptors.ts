import type { Cartridge } from '../engine/cartridge.js';
import type { RequestAction } from '../iam/action.js';
import { asNodeCall, nodeError } from './node-error.js';

/**
 * Numbered open files for `openSync`, `readSync`, `writeSync` and `closeSync`. A descriptor
 * holds a path, what it may do and a position; reads are ranged reads of the engine (only the
 * records that hold the bytes are read), so reading a large file a chunk at a time costs about
 * one read of it. A write at the end is an append; a write inside the file is a patch record
 * that replaces just those bytes; a write past the end fills the gap with zeros.
 */

export interface ReadSyncOptions {
  readonly offset?: number;
  readonly length?: number;
  readonly position?: number | bigint | null;
}

interface OpenFile {
  readonly path: string;
  readonly spelled: string;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly append: boolean;
  readonly directory: boolean;
  position: number;
}

/** A descriptor's write is decided as `Write` (see `Cartridge.metadataBeforeChange`). */
const WRITE_ACTIONS: readonly RequestAction[] = ['Write'];

/**
 * Descriptors are numbered from here so that they are never mistaken for the small numbers
 * of the process's real files.
 */
const FIRST_DESCRIPTOR = 1 << 20;
/** Open descriptors at most: a leak in a caller's loop fails instead of growing forever. */
const OPEN_FILES_MAX = 65_536;

export class FileDescriptors {
  private readonly files = new Map<number, OpenFile>();
  private next = FIRST_DESCRIPTOR;

  constructor(private readonly cartridge: Cartridge) {}

  open(
    path: string,
    spelled: string,
    flags: string,
    kind: 'file' | 'directory' | undefined,
  ): number {
    const mode = flags.replace(/[sx]/g, '');
    const known = ['r', 'r+', 'w', 'w+', 'a', 'a+'];
    if (!known.includes(mode)) throw nodeError('EINVAL', 'open', spelled);
    if (this.files.size >= OPEN_FILES_MAX) throw nodeError('EMFILE', 'open', spelled);
    const reading = mode === 'r' || mode.endsWith('+');
    const writing = mode !== 'r';
    if (mode.startsWith('r') && kind === undefined) throw nodeError('ENOENT', 'open', spelled);
    if (kind !== undefined && flags.includes('x')) throw nodeError('EEXIST', 'open', spelled);
    if (kind === 'directory' && writing) throw nodeError('EISDIR', 'open', spelled);
    asNodeCall('open', spelled, () => {
      if (kind === undefined) this.cartridge.createFile(path, Buffer.alloc(0));
      else if (mode.startsWith('w')) this.cartridge.writeFile(path, Buffer.alloc(0));
    });
    const descriptor = this.next++;
    this.files.set(descriptor, {
      path,
      spelled,
      readable: reading,
      writable: writing,
      append: mode.startsWith('a'),
      directory: kind === 'directory',
      position: 0,
    });
    return descriptor;
  }

  pathOf(descriptor: number): string {
    return this.fileOf(descriptor, 'fstat').path;
  }

  read(descriptor: number, target: NodeJS.ArrayBufferView, options: ReadSyncOptions): number {
    const file = this.fileOf(descriptor, 'read');
    const offset = options.offset ?? 0;
    const length = options.length ?? target.byteLength - offset;
    if (offset < 0 || length < 0 || offset + length > target.byteLength) {
      const error = new RangeError('The value of "length" is out of range') as RangeError & {
        code: string;
      };
      error.code = 'ERR_OUT_OF_RANGE';
      throw error;
    }
    // As `fs.readSync`: a read of nothing returns at once, without asking the file.
    if (length === 0) return 0;
    if (!file.readable) throw nodeError('EBADF', 'read');
    if (file.directory) throw nodeError('EISDIR', 'read');
    const explicit =
      options.position !== undefined && options.position !== null && options.position !== -1;
    const start = explicit ? Number(options.position) : file.position;
    const bytes = asNodeCall('read', file.spelled, () =>
      this.cartridge.readFile(file.path, { start, end: start + length }),
    );
    Buffer.from(target.buffer, target.byteOffset, target.byteLength).set(bytes, offset);
    if (!explicit) file.position += bytes.length;
    return bytes.length;
  }

  /** The rest of the file from the descriptor's position (what `readFileSync(fd)` reads). */
  readAll(descriptor: number): Buffer {
    const file = this.fileOf(descriptor, 'read');
    if (!file.readable) throw nodeError('EBADF', 'read');
    if (file.directory) throw nodeError('EISDIR', 'read');
    const bytes = asNodeCall('read', file.spelled, () =>
      this.cartridge.readFile(file.path, { start: file.position }),
    );
    file.position += bytes.length;
    return bytes;
  }

  write(descriptor: number, bytes: Buffer, position: number | null): number {
    const file = this.fileOf(descriptor, 'write');
    if (!file.writable) throw nodeError('EBADF', 'write');
    // As write(2): nothing to write changes nothing, not even a gap past the end.
    if (bytes.length === 0) return 0;
    asNodeCall('write', file.spelled, () => {
      // The size is looked at as part of the write (a write-only actor may write here).
      const found = this.cartridge.metadataBeforeChange(WRITE_ACTIONS, file.path, file.path);
      // Deleted since it was opened (by another handle): what the engine's write would say.
      if (found === undefined) throw nodeError('ENOENT', 'write', file.spelled);
      const sizeBytes = found.sizeBytes;
      // O_APPEND writes at the end whatever the position, as POSIX says.
      const start = file.append ? sizeBytes : (position ?? file.position);
      if (start === sizeBytes) {
        this.cartridge.appendFile(file.path, bytes);
      } else if (start < sizeBytes) {
        // A patch record replaces just these bytes (growing the file if they run past its end).
        this.cartridge.patchFile(file.path, [{ offsetBytes: start, content: bytes }]);
      } else {
        // Past the end: the gap reads as zeros, as in a sparse POSIX file.
        const gap = Buffer.alloc(start - sizeBytes);
        this.cartridge.appendFile(file.path, Buffer.concat([gap, bytes]));
      }
      if (position === null) file.position = start + bytes.length;
    });
    return bytes.length;
  }

  close(descriptor: number): void {
    this.fileOf(descriptor, 'close');
    this.files.delete(descriptor);
  }

  private fileOf(descriptor: number, syscall: string): OpenFile {
    const file = this.files.get(descriptor);
    if (file === undefined) throw nodeError('EBADF', syscall);
    return file;
  }
}
