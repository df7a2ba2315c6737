import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Cartridge } from '../engine/cartridge.js';
import type { RequestAction } from '../iam/action.js';
import { DirectoryEntry } from './directory-entry.js';
import { FS_CONSTANTS } from './fs-constants.js';
import { FileDescriptors, type ReadSyncOptions } from './file-descriptors.js';
import { FileStats } from './file-stats.js';
import {
  bytesOf,
  cartridgePathOf,
  decoded,
  encodingOptions,
  type EncodingOptions,
  type FsData,
  type PathLike,
  spelledPath,
  withoutTrailingSlash,
} from './fs-arguments.js';
import { createFsPromises, type FsPromises } from './fs-promises.js';
import {
  type ReadStreamOptions,
  readStream,
  type WriteStreamOptions,
  writeStream,
} from './fs-streams.js';
import { type FsWatcher, type WatchListener, type WatchOptions, watchChanges } from './fs-watch.js';
import { asNodeCall, hasCode, nodeError, toNodeError } from './node-error.js';

/**
 * The `node:fs` subset people use, over a cartridge: the same names, arguments, return values
 * and errors (`code`, `errno`, `syscall`, `path`), so code written for `node:fs` runs on a
 * cartridge by swapping the module. Every call goes through the cartridge's public API, so the
 * operation gate (IAM and audit) sees each one as the cartridge's actor.
 *
 * Where the engine is more lenient than POSIX (it creates missing parents of a new file), the
 * facade checks first and fails as Node would. A rename, a recursive `rm` and a copy are each
 * one transaction: one commit, all or nothing; a rename moves entries and copies nothing.
 */

export interface MakeDirectoryOptions {
  readonly recursive?: boolean;
  readonly mode?: number | string;
}

export interface RemoveOptions {
  readonly recursive?: boolean;
  readonly force?: boolean;
}

export interface ReaddirOptions {
  readonly withFileTypes?: boolean;
  readonly recursive?: boolean;
  readonly encoding?: BufferEncoding | null;
}

export interface StatOptions {
  readonly throwIfNoEntry?: boolean;
  readonly bigint?: false;
}

type EntryKind = 'file' | 'directory';

/*
 * The actions a change through the facade is decided as, for the looks before it (see
 * `Cartridge.metadataBeforeChange`): an actor allowed one of them on the target looks without a
 * `Read` of its own.
 */
const WRITE_ACTIONS: readonly RequestAction[] = ['Write', 'Create'];
const CREATE_ACTIONS: readonly RequestAction[] = ['Create'];
const DELETE_ACTIONS: readonly RequestAction[] = ['Delete'];
const MOVE_IN_ACTIONS: readonly RequestAction[] = ['Write'];

export class CartridgeFs {
  readonly constants = FS_CONSTANTS;
  readonly promises: FsPromises;
  private readonly descriptors: FileDescriptors;

  constructor(private readonly cartridge: Cartridge) {
    this.descriptors = new FileDescriptors(cartridge);
    this.promises = createFsPromises(this);
  }

  // ---- reading ------------------------------------------------------------------------------

  existsSync(path: unknown): boolean {
    try {
      return this.cartridge.exists(cartridgePathOf(spelledPath(path), 'access'));
    } catch {
      return false;
    }
  }

  accessSync(path: PathLike, _mode?: number): void {
    const spelled = spelledPath(path);
    const target = cartridgePathOf(spelled, 'access');
    asNodeCall('access', spelled, () => this.cartridge.metadata(target));
  }

  statSync(path: PathLike, options: StatOptions = {}): FileStats | undefined {
    const spelled = spelledPath(path);
    const target = cartridgePathOf(spelled, 'stat');
    try {
      return asNodeCall('stat', spelled, () => new FileStats(this.cartridge.metadata(target)));
    } catch (error) {
      const missing = hasCode(error, 'ENOENT') || hasCode(error, 'ENOTDIR');
      if (options.throwIfNoEntry === false && missing) return undefined;
      throw error;
    }
  }

  /** There are no symbolic links in a cartridge: the same as `statSync`. */
  lstatSync(path: PathLike, options: StatOptions = {}): FileStats | undefined {
    return this.statSync(path, options);
  }

  readFileSync(
    path: PathLike | number,
    options?: EncodingOptions | BufferEncoding,
  ): Buffer | string {
    const { encoding } = encodingOptions(options);
    if (typeof path === 'number') return decoded(this.descriptors.readAll(path), encoding);
    const spelled = spelledPath(path);
    const target = cartridgePathOf(spelled, 'open');
    try {
      // The common case in one engine call; a failure is asked again below, step by step,
      // so that it fails as Node's open-then-read would (which step, which syscall).
      return decoded(this.cartridge.readFile(target), encoding);
    } catch {
      // The checks below say what Node would.
    }
    const kind = this.kindOf(target, 'open', spelled);
    if (kind === undefined) throw nodeError('ENOENT', 'open', spelled);
    if (kind === 'directory') throw nodeError('EISDIR', 'read');
    return decoded(
      asNodeCall('read', spelled, () => this.cartridge.readFile(target)),
      encoding,
    );
  }

  readdirSync(
    path: PathLike,
    options?: ReaddirOptions | BufferEncoding,
  ): string[] | Buffer[] | DirectoryEntry[] {
    const spelled = spelledPath(path);
    const given = (
      typeof options === 'string' ? { encoding: options } : (options ?? {})
    ) as ReaddirOptions;
    const target = withoutTrailingSlash(cartridgePathOf(spelled, 'scandir'));
    const listed: { name: string; parent: string; directory: boolean }[] = [];
    // Each entry's type is looked up only when the answer needs it: a plain listing is the
    // engine's one `listDir` (a `metadata` per name made it five to seven times as slow).
    const typed = given.recursive === true || given.withFileTypes === true;
    const visit = (directory: string, prefix: string, parentSpelled: string): void => {
      const names = asNodeCall('scandir', spelled, () => this.cartridge.listDir(directory));
      for (const name of names) {
        const child = directory === '/' ? `/${name}` : `${directory}/${name}`;
        const isDirectory = typed && this.cartridge.metadata(child).type === 'directory';
        listed.push({ name: prefix + name, parent: parentSpelled, directory: isDirectory });
        if (given.recursive === true && isDirectory) {
          visit(child, `${prefix}${name}/`, posix.join(parentSpelled, name));
        }
      }
    };
    visit(target, '', spelled);
    if (given.withFileTypes === true) {
      return listed.map(
        ({ name, parent, directory }) =>
          new DirectoryEntry(
            posix.basename(name),
            given.recursive === true ? posix.join(parent, posix.dirname(name)) : parent,
            directory,
          ),
      );
    }
    if (given.encoding === ('buffer' as BufferEncoding))
      return listed.map(({ name }) => Buffer.from(name));
    return listed.map(({ name }) => name);
  }

  // ---- writing ------------------------------------------------------------------------------

  writeFileSync(
    path: PathLike | number,
    data: FsData,
    options?: EncodingOptions | BufferEncoding,
  ): void {
    const { encoding, flag = 'w' } = encodingOptions(options);
    const bytes = bytesOf(data, encoding);
    if (typeof path === 'number') {
      this.descriptors.write(path, bytes, null);
      return;
    }
    const spelled = spelledPath(path);
    if (flag.startsWith('a')) {
      this.appendBytes(spelled, bytes, flag);
      return;
    }
    const target = cartridgePathOf(spelled, 'open');
    const kind = this.kindForCreate(target, spelled, 'open', undefined, WRITE_ACTIONS);
    // O_EXCL fails on anything that exists, before anything else is looked at.
    if (kind !== undefined && flag.includes('x')) throw nodeError('EEXIST', 'open', spelled);
    if (kind === 'directory') throw nodeError('EISDIR', 'open', spelled);
    asNodeCall('open', spelled, () => this.cartridge.writeFile(target, bytes, { create: true }));
  }

  appendFileSync(
    path: PathLike | number,
    data: FsData,
    options?: EncodingOptions | BufferEncoding,
  ): void {
    const { encoding, flag = 'a' } = encodingOptions(options);
    const bytes = bytesOf(data, encoding);
    if (typeof path === 'number') {
      this.descriptors.write(path, bytes, null);
      return;
    }
    this.appendBytes(spelledPath(path), bytes, flag);
  }

  mkdirSync(path: PathLike, options?: MakeDirectoryOptions | number): string | undefined {
    const spelled = spelledPath(path);
    const recursive = typeof options === 'object' && options.recursive === true;
    const target = withoutTrailingSlash(cartridgePathOf(spelled, 'mkdir'));
    if (!recursive) {
      const kind = this.kindForCreate(target, spelled, 'mkdir', undefined, CREATE_ACTIONS);
      if (kind !== undefined) throw nodeError('EEXIST', 'mkdir', spelled);
      asNodeCall('mkdir', spelled, () => this.cartridge.createDir(target));
      return undefined;
    }
    // The first directory the call creates is what Node returns; nothing when all exist.
    let first: string | undefined;
    let current = '';
    for (const name of target.split('/').slice(1)) {
      if (name.length === 0) continue;
      current = `${current}/${name}`;
      const kind = this.kindOf(current, 'mkdir', spelled, CREATE_ACTIONS);
      if (kind === 'file') {
        const last = current === target && !spelled.endsWith('/');
        throw nodeError(last ? 'EEXIST' : 'ENOTDIR', 'mkdir', spelled);
      }
      if (kind === undefined) {
        first ??= current;
        asNodeCall('mkdir', spelled, () => this.cartridge.createDir(current));
      }
    }
    // Node reports the path as it was given when the first directory made is the last one.
    return first === target && spelled.endsWith('/') ? `${first}/` : first;
  }

  unlinkSync(path: PathLike): void {
    const spelled = spelledPath(path);
    const target = cartridgePathOf(spelled, 'unlink');
    const kind = this.kindOf(target, 'unlink', spelled, DELETE_ACTIONS);
    if (kind === undefined) throw nodeError('ENOENT', 'unlink', spelled);
    if (kind === 'directory') throw nodeError('EISDIR', 'unlink', spelled);
    asNodeCall('unlink', spelled, () => this.cartridge.deleteFile(target));
  }

  rmdirSync(path: PathLike, options: RemoveOptions = {}): void {
    const spelled = spelledPath(path);
    const target = withoutTrailingSlash(cartridgePathOf(spelled, 'rmdir'));
    const kind = this.kindOf(target, 'rmdir', spelled, DELETE_ACTIONS);
    if (kind === undefined) throw nodeError('ENOENT', 'rmdir', spelled);
    if (kind === 'file') throw nodeError('ENOTDIR', 'rmdir', spelled);
    if (target === '/') throw nodeError('EBUSY', 'rmdir', spelled);
    if (options.recursive === true) {
      this.removeTree(target, spelled, 'rmdir');
      return;
    }
    asNodeCall('rmdir', spelled, () => this.cartridge.deleteFile(target));
  }

  rmSync(path: PathLike, options: RemoveOptions = {}): void {
    const spelled = spelledPath(path);
    const target = cartridgePathOf(spelled, 'rm');
    const kind = this.kindOf(target, 'rm', spelled, DELETE_ACTIONS);
    if (kind === undefined) {
      if (options.force === true) return;
      throw nodeError('ENOENT', 'lstat', spelled);
    }
    if (kind === 'directory') {
      if (options.recursive !== true) {
        const error = nodeError('ERR_FS_EISDIR', 'rm', spelled);
        Object.assign(error, {
          message: `Path is a directory: rm returned EISDIR (is a directory) ${spelled}`,
        });
        throw error;
      }
      const directory = withoutTrailingSlash(target);
      if (directory === '/') throw nodeError('EBUSY', 'rm', spelled);
      this.removeTree(directory, spelled, 'rm');
      return;
    }
    asNodeCall('rm', spelled, () => this.cartridge.deleteFile(target));
  }

  /**
   * Renames a file or a directory with its whole subtree, in one commit that moves entries
   * and copies no content (`cart.rename`), with the rules of rename(2): a file replaces a
   * file, a directory replaces an empty directory, a directory cannot move into itself.
   */
  renameSync(oldPath: PathLike, newPath: PathLike): void {
    const from = spelledPath(oldPath, 'oldPath');
    const to = spelledPath(newPath, 'newPath');
    const source = withoutTrailingSlash(cartridgePathOf(from, 'rename'));
    const target = withoutTrailingSlash(cartridgePathOf(to, 'rename'));
    const fail = (code: string) => nodeError(code, 'rename', from, { dest: to });
    // rename(2) walks both parents before it looks at either entry. The move is decided as
    // `Delete` on the source and `Write` on the target (`Cartridge.rename`).
    if (source !== '/') this.requireParentDirectory(source, from, 'rename', to, DELETE_ACTIONS);
    if (target !== '/') this.requireParentDirectory(target, from, 'rename', to, MOVE_IN_ACTIONS);
    const sourceKind = this.kindLookedAt(source, source, 'rename', from, to, DELETE_ACTIONS);
    if (sourceKind === undefined) throw fail('ENOENT');
    // A trailing slash on either side asks for a directory.
    if (sourceKind === 'file' && (from.endsWith('/') || to.endsWith('/'))) throw fail('ENOTDIR');
    if (source === '/' || target === '/') throw fail('EBUSY');
    const targetKind = this.kindForCreate(target, from, 'rename', to, MOVE_IN_ACTIONS);
    if (source === target) return;
    if (sourceKind === 'directory') {
      if (target.startsWith(`${source}/`)) throw fail('EINVAL');
      if (targetKind === 'file') throw fail('ENOTDIR');
      if (targetKind === 'directory' && this.cartridge.listDir(target).length > 0) {
        throw fail('ENOTEMPTY');
      }
    } else if (targetKind === 'directory') {
      throw fail('EISDIR');
    }
    asNodeCall(
      'rename',
      from,
      () =>
        this.cartridge.transaction(() => {
          if (targetKind !== undefined) this.cartridge.deleteFile(target);
          this.cartridge.rename(source, target);
        }),
      to,
    );
  }

  copyFileSync(source: PathLike, destination: PathLike, mode = 0): void {
    const from = spelledPath(source, 'src');
    const to = spelledPath(destination, 'dest');
    const fail = (code: string) => nodeError(code, 'copyfile', from, { dest: to });
    const sourcePath = cartridgePathOf(from, 'copyfile');
    const targetPath = cartridgePathOf(to, 'copyfile');
    const sourceKind = this.kindOf(sourcePath, 'copyfile', from);
    if (sourceKind === undefined) throw fail('ENOENT');
    // As copyfile does it: the source opens (a directory too), then the destination is
    // created, and only the copy finds that a directory has no bytes to read.
    const targetKind = this.kindForCreate(targetPath, from, 'copyfile', to, WRITE_ACTIONS);
    if (targetKind !== undefined && (mode & FS_CONSTANTS.COPYFILE_EXCL) !== 0) throw fail('EEXIST');
    if (targetKind === 'directory') throw fail('EISDIR');
    if (sourceKind === 'directory') {
      // libuv has opened (and truncated) the destination by the time the copy finds nothing to
      // read, and then removes it: an existing file at the destination is gone, as with node:fs.
      if (targetKind === 'file')
        asNodeCall('copyfile', from, () => this.cartridge.deleteFile(targetPath), to);
      throw fail('EISDIR');
    }
    if (sourcePath === targetPath) return;
    asNodeCall(
      'copyfile',
      from,
      () => {
        const content = this.cartridge.readFile(sourcePath);
        this.cartridge.writeFile(targetPath, content, { create: true });
      },
      to,
    );
  }

  // ---- descriptors, streams, watching --------------------------------------------------------

  openSync(path: PathLike, flags: string = 'r', _mode?: number): number {
    const spelled = spelledPath(path);
    const target = cartridgePathOf(spelled, 'open');
    const kind = flags.startsWith('r')
      ? this.kindOf(target, 'open', spelled)
      : this.kindForCreate(target, spelled, 'open', undefined, WRITE_ACTIONS);
    return this.descriptors.open(target, spelled, flags, kind);
  }

  readSync(
    descriptor: number,
    buffer: NodeJS.ArrayBufferView,
    offsetOrOptions?: number | ReadSyncOptions,
    length?: number,
    position?: number | bigint | null,
  ): number {
    const options: ReadSyncOptions =
      typeof offsetOrOptions === 'object'
        ? offsetOrOptions
        : { offset: offsetOrOptions, length, position };
    return this.descriptors.read(descriptor, buffer, options);
  }

  writeSync(
    descriptor: number,
    data: FsData,
    offsetOrPosition?: number | null,
    lengthOrEncoding?: number | BufferEncoding,
    position?: number | null,
  ): number {
    if (typeof data === 'string') {
      const bytes = Buffer.from(data, (lengthOrEncoding as BufferEncoding | undefined) ?? 'utf8');
      return this.descriptors.write(descriptor, bytes, offsetOrPosition ?? null);
    }
    const view = bytesOf(data, undefined);
    const offset = offsetOrPosition ?? 0;
    const length = typeof lengthOrEncoding === 'number' ? lengthOrEncoding : view.length - offset;
    return this.descriptors.write(
      descriptor,
      view.subarray(offset, offset + length),
      position ?? null,
    );
  }

  fstatSync(descriptor: number): FileStats {
    return new FileStats(this.cartridge.metadata(this.descriptors.pathOf(descriptor)));
  }

  closeSync(descriptor: number): void {
    this.descriptors.close(descriptor);
  }

  createReadStream(path: PathLike, options?: ReadStreamOptions | BufferEncoding): Readable {
    return readStream(
      this,
      spelledPath(path),
      typeof options === 'string' ? { encoding: options } : (options ?? {}),
    );
  }

  createWriteStream(path: PathLike, options?: WriteStreamOptions | BufferEncoding): Writable {
    return writeStream(
      this,
      spelledPath(path),
      typeof options === 'string' ? { encoding: options } : (options ?? {}),
    );
  }

  watch(
    path: PathLike,
    options?: WatchOptions | WatchListener,
    listener?: WatchListener,
  ): FsWatcher {
    const given = typeof options === 'function' ? {} : (options ?? {});
    const callback = typeof options === 'function' ? options : listener;
    const spelled = spelledPath(path);
    const target = withoutTrailingSlash(cartridgePathOf(spelled, 'watch'));
    const kind = this.kindOf(target, 'watch', spelled);
    if (kind === undefined) throw nodeError('ENOENT', 'watch', spelled);
    return watchChanges(this.cartridge, target, kind === 'directory', given, callback);
  }

  // ---- helpers -----------------------------------------------------------------------------

  /**
   * What is at a path: a file, a directory, or nothing (ENOTDIR and the like are thrown). Looked
   * at as `metadata` looks (a `Read`), or, before a change decided as one of `actions` on the
   * path, as the change's own look (see `Cartridge.metadataBeforeChange`).
   */
  private kindOf(
    target: string,
    syscall: string,
    spelled: string,
    actions?: readonly RequestAction[],
  ): EntryKind | undefined {
    return this.kindLookedAt(target, target, syscall, spelled, undefined, actions);
  }

  /** `kindOf` of `path`, for a change of `changed` (the path itself, or an entry in it). */
  private kindLookedAt(
    path: string,
    changed: string,
    syscall: string,
    spelled: string,
    dest: string | undefined,
    actions: readonly RequestAction[] | undefined,
  ): EntryKind | undefined {
    try {
      if (actions !== undefined)
        return this.cartridge.metadataBeforeChange(actions, changed, path)?.type;
      return this.cartridge.metadata(path).type;
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return undefined;
      throw toNodeError(error, syscall, spelled, dest);
    }
  }

  /**
   * What is at a path an operation is about to create, after checking that its parent is a
   * directory (ENOENT or ENOTDIR otherwise, as POSIX says; the engine would create it).
   */
  private kindForCreate(
    target: string,
    spelled: string,
    syscall = 'open',
    dest?: string,
    actions?: readonly RequestAction[],
  ): EntryKind | undefined {
    const path = withoutTrailingSlash(target);
    // The parent of an entry is a directory (the catalog admits entries only under one), so it
    // is looked at only when nothing is at the path: one lookup where POSIX walks two, with the
    // same errors (a file on the way is ENOTDIR either way).
    const kind = this.kindLookedAt(path, path, syscall, spelled, dest, actions);
    if (kind === undefined) this.requireParentDirectory(path, spelled, syscall, dest, actions);
    // open(2) with O_CREAT refuses a trailing slash outright; elsewhere it asks for a directory.
    // (The errors are made where they are thrown: a closure made on every call, for errors
    // that are rare, cost a tenth of a facade write's own work.)
    const creating = syscall === 'open' || syscall === 'copyfile';
    if (creating && target.endsWith('/')) throw nodeError('EISDIR', syscall, spelled, { dest });
    if (kind === 'file' && target.endsWith('/'))
      throw nodeError('ENOTDIR', syscall, spelled, { dest });
    return kind;
  }

  /** ENOENT or ENOTDIR unless the parent of `path` (without a trailing slash) is a directory. */
  private requireParentDirectory(
    path: string,
    spelled: string,
    syscall: string,
    dest?: string,
    actions?: readonly RequestAction[],
  ): void {
    const parent = posix.dirname(path);
    const parentKind = this.kindLookedAt(parent, path, syscall, spelled, dest, actions);
    if (parentKind === undefined) throw nodeError('ENOENT', syscall, spelled, { dest });
    if (parentKind !== 'directory') throw nodeError('ENOTDIR', syscall, spelled, { dest });
  }

  private appendBytes(spelled: string, bytes: Buffer, flag: string): void {
    const target = cartridgePathOf(spelled, 'open');
    const kind = this.kindForCreate(target, spelled, 'open', undefined, WRITE_ACTIONS);
    // O_EXCL fails on anything that exists, before anything else is looked at.
    if (kind !== undefined && flag.includes('x')) throw nodeError('EEXIST', 'open', spelled);
    if (kind === 'directory') throw nodeError('EISDIR', 'open', spelled);
    asNodeCall('open', spelled, () => {
      if (kind === 'file') this.cartridge.appendFile(target, bytes);
      else this.cartridge.createFile(target, bytes);
    });
  }

  /** Deletes a directory and everything below it, in one commit. */
  private removeTree(directory: string, spelled: string, syscall: string): void {
    asNodeCall(syscall, spelled, () =>
      this.cartridge.transaction(() => this.deleteTree(directory, 'directory')),
    );
  }

  private deleteTree(path: string, kind: EntryKind): void {
    if (kind === 'directory') {
      for (const name of this.cartridge.listDir(path)) {
        const child = `${path}/${name}`;
        this.deleteTree(child, this.cartridge.metadata(child).type);
      }
    }
    this.cartridge.deleteFile(path);
  }
}

/** The fs facade of a cartridge (the same as `cartridge.fs`). */
export function createFs(cartridge: Cartridge): CartridgeFs {
  return new CartridgeFs(cartridge);
}
