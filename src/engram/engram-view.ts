import type { EntryMetadata } from '../engine/cartridge-types.js';
import { CartridgeError } from '../errors.js';
import { ReadOnlyWrites } from '../engine/read-only-writes.js';
import { ancestorsOf, parsePath, ROOT_PATH } from '../path/canonical-path.js';
import { PAGE_SIZE_BYTES } from '../limits.js';
import type { EngramEntry } from './reader.js';

/**
 * An archive seen as a read-only file tree with the cartridge's read API: `readFile`,
 * `listDir`, `exists` and `metadata` take cartridge paths (`/docs/a.txt`), canonicalised by
 * the same function, and fail with the same codes (`ENOENT`, `EISDIR`, `ENOTDIR`). Directories
 * are implied by the files' paths (an archive stores none). Every write is `READ_ONLY`
 * (`ReadOnlyWrites`).
 */

export interface EngramViewHost {
  read(archivePath: string): Buffer;
  isOpen(): boolean;
}

const FILE_MODE = 0o644;
const DIRECTORY_MODE = 0o755;

export class EngramView extends ReadOnlyWrites {
  protected readonly readOnlyName = 'an Engram archive';
  private readonly files = new Map<string, EngramEntry>();
  private readonly directories = new Map<string, Set<string>>([[ROOT_PATH, new Set()]]);

  /** @internal Made by `Engram.view`. */
  constructor(
    entries: readonly EngramEntry[],
    private readonly host: EngramViewHost,
  ) {
    super();
    for (const entry of entries) {
      // Lookups go through parsePath, which puts names in NFC: so do the keys.
      const path = `/${entry.path.normalize('NFC')}`;
      this.files.set(path, entry);
      let child = path;
      for (const ancestor of [ROOT_PATH, ...ancestorsOf(path)].reverse()) {
        let children = this.directories.get(ancestor);
        if (children === undefined) {
          children = new Set();
          this.directories.set(ancestor, children);
        }
        children.add(child.slice(child.lastIndexOf('/') + 1));
        child = ancestor;
      }
    }
  }

  readonly readOnly = true;

  readFile(path: string): Buffer {
    const canonical = this.fileAt(path);
    return this.host.read((this.files.get(canonical) as EngramEntry).path);
  }

  listDir(path: string): string[] {
    this.ensureOpen();
    const { path: canonical } = parsePath(path);
    const children = this.directories.get(canonical);
    if (children === undefined) {
      if (this.files.has(canonical)) {
        throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
      }
      throw new CartridgeError('ENOENT', `no entry ${canonical}`, { path: canonical });
    }
    return [...children].sort();
  }

  exists(path: string): boolean {
    this.ensureOpen();
    const { path: canonical, mustBeDirectory } = parsePath(path);
    if (this.directories.has(canonical)) return true;
    return !mustBeDirectory && this.files.has(canonical);
  }

  metadata(path: string): EntryMetadata {
    this.ensureOpen();
    const { path: canonical, mustBeDirectory } = parsePath(path);
    const file = this.files.get(canonical);
    if (file !== undefined && !mustBeDirectory) {
      const timeMs = file.modifiedTime * 1000;
      return {
        type: 'file',
        path: canonical,
        sizeBytes: file.sizeBytes,
        createdAtMs: timeMs,
        modifiedAtMs: timeMs,
        mode: FILE_MODE,
        inode: 0,
        blockCount: Math.ceil(file.sizeBytes / PAGE_SIZE_BYTES),
      };
    }
    if (this.directories.has(canonical)) {
      return {
        type: 'directory',
        path: canonical,
        sizeBytes: 0,
        createdAtMs: 0,
        modifiedAtMs: 0,
        mode: DIRECTORY_MODE,
        inode: 0,
        blockCount: 0,
      };
    }
    if (file !== undefined) {
      throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
    }
    throw new CartridgeError('ENOENT', `no entry ${canonical}`, { path: canonical });
  }

  private fileAt(path: string): string {
    this.ensureOpen();
    const { path: canonical, mustBeDirectory } = parsePath(path);
    if (this.directories.has(canonical)) {
      throw new CartridgeError('EISDIR', `${canonical} is a directory`, { path: canonical });
    }
    if (!this.files.has(canonical)) {
      throw new CartridgeError('ENOENT', `no entry ${canonical}`, { path: canonical });
    }
    if (mustBeDirectory) {
      throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
    }
    return canonical;
  }

  private ensureOpen(): void {
    if (!this.host.isOpen()) {
      throw new CartridgeError('CARTRIDGE_CLOSED', 'the archive is closed');
    }
  }
}
