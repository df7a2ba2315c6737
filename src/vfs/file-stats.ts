import type { EntryMetadata } from '../engine/cartridge-types.js';
import { EntryTypeChecks } from './entry-type-checks.js';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const BLOCK_SIZE_BYTES = 4096;
/** `Stats.blocks` counts 512-byte units, as stat(2) does; the engine charges 4 KiB blocks. */
const UNITS_PER_BLOCK = BLOCK_SIZE_BYTES / 512;

/**
 * What `statSync` returns: the fields and methods of `fs.Stats` that describe an entry of a
 * cartridge. There are no owners, devices or links inside a cartridge, so those fields are 0
 * (or 1 for `nlink`); there is no access time, so `atime` is the modification time.
 */
export class FileStats extends EntryTypeChecks {
  readonly dev = 0;
  readonly ino: number;
  readonly mode: number;
  readonly nlink = 1;
  readonly uid = 0;
  readonly gid = 0;
  readonly rdev = 0;
  readonly size: number;
  readonly blksize = BLOCK_SIZE_BYTES;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly atime: Date;
  readonly mtime: Date;
  readonly ctime: Date;
  readonly birthtime: Date;

  constructor(metadata: EntryMetadata) {
    super();
    const directory = metadata.type === 'directory';
    this.ino = metadata.inode;
    this.mode = (directory ? S_IFDIR : S_IFREG) | (metadata.mode & 0o7777);
    this.size = metadata.sizeBytes;
    this.blocks = metadata.blockCount * UNITS_PER_BLOCK;
    this.atimeMs = metadata.modifiedAtMs;
    this.mtimeMs = metadata.modifiedAtMs;
    this.ctimeMs = metadata.modifiedAtMs;
    this.birthtimeMs = metadata.createdAtMs;
    this.atime = new Date(metadata.modifiedAtMs);
    this.mtime = new Date(metadata.modifiedAtMs);
    this.ctime = new Date(metadata.modifiedAtMs);
    this.birthtime = new Date(metadata.createdAtMs);
  }

  isDirectory(): boolean {
    return (this.mode & 0o170000) === S_IFDIR;
  }
}
