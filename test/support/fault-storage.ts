import { dirname, resolve } from 'node:path';
import { assert } from '../../src/assert.js';
import { limitExceeded } from '../../src/errors.js';
import { createSystemError, GrowableBytes } from '../../src/journal/io/memory-storage.js';
import type { FileIdentity, OpenFileOptions, PathStatus, Storage, StorageFile } from '../../src/journal/io/storage.js';

/**
 * A fault-injecting, crash-simulating `Storage` for tests. For each file it keeps the DURABLE
 * image (what survived the last sync) and the ordered PENDING operations since then; the
 * process reads the durable image with the pending operations applied. A crash turns the
 * pending operations into a new durable image according to a chosen, seeded model of what a
 * real disk may have kept. Everything is deterministic for a given seed.
 */

/** The kinds of I/O operation that are counted and can be made to fail. */
export type FaultOperation = 'write' | 'sync' | 'truncate' | 'read' | 'open' | 'syncDirectory';

export type InjectedErrorCode = 'EIO' | 'ENOSPC' | 'EROFS';

/** The code every operation throws once the simulated machine has crashed. */
export const CRASHED_ERROR_CODE = 'ECRASHED';

export interface FailureRule {
  readonly operation: FaultOperation;
  /** The 1-based index, among matching operations after the rule was added, that fails. */
  readonly nth: number;
  /** Defaults to `EIO`. */
  readonly errorCode?: InjectedErrorCode;
  /** When true, the nth matching operation and every later one fails. */
  readonly persistent?: boolean;
  /** Only operations on this path (a file, or a directory for `syncDirectory`) match. */
  readonly path?: string;
  /** For writes: a seeded random strict prefix of the bytes lands before the error. */
  readonly partial?: boolean;
}

interface CrashModeOptions {
  /**
   * Keeps files created since their directory was last synced. By default they vanish, as
   * directory entries that never reached the disk do.
   */
  readonly keepUnsyncedEntries?: boolean;
}

export type SectorBytes = 512 | 4096;

export type CrashMode = CrashModeOptions &
  (
    | { readonly kind: 'drop-unsynced' }
    | { readonly kind: 'keep-prefix'; readonly count: number }
    | { readonly kind: 'keep-subset'; readonly seed: number }
    | { readonly kind: 'tear-last'; readonly sectorBytes: SectorBytes; readonly seed: number }
    | {
        readonly kind: 'size-before-content';
        readonly seed: number;
        /** The unit in which content arrives or not; defaults to 512. */
        readonly sectorBytes?: SectorBytes;
      }
  );

/** Pending (unsynced) operations one file may accumulate before the simulation refuses. */
export const PENDING_OPERATIONS_MAX = 1_000_000;

/** Pending (unsynced) bytes one file may accumulate before the simulation refuses. */
export const PENDING_BYTES_MAX = 1024 * 1024 * 1024;

type PendingOperation =
  | { readonly kind: 'write'; readonly position: number; readonly bytes: Uint8Array }
  | { readonly kind: 'truncate'; readonly sizeBytes: number };

interface FaultFile {
  durable: GrowableBytes;
  visible: GrowableBytes;
  pending: PendingOperation[];
  pendingBytes: number;
  /** A new number for every file made, so that a replaced file has a new identity. */
  readonly inode: number;
  /** The handle holding the writer lock; a closed or pre-crash handle holds nothing. */
  lockedBy: HandleState | undefined;
}

interface ArmedRule {
  readonly rule: FailureRule;
  readonly path: string | undefined;
  seenCount: number;
  fired: boolean;
}

interface HandleState {
  readonly path: string;
  /** The file itself, which stays reachable after its path is removed, as on POSIX. */
  readonly file: FaultFile;
  readonly readOnly: boolean;
  readonly generation: number;
  closed: boolean;
}

const SYSCALL_NAMES: Readonly<Record<FaultOperation, string>> = {
  write: 'write',
  sync: 'fdatasync',
  truncate: 'ftruncate',
  read: 'read',
  open: 'open',
  syncDirectory: 'fsync',
};

/** mulberry32: a tiny, well-mixed 32-bit PRNG; plenty for choosing crash outcomes. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

function concatenate(buffers: readonly Uint8Array[]): Uint8Array {
  let totalBytes = 0;
  for (const buffer of buffers) totalBytes += buffer.byteLength;
  const joined = new Uint8Array(totalBytes);
  let offset = 0;
  for (const buffer of buffers) {
    joined.set(buffer, offset);
    offset += buffer.byteLength;
  }
  return joined;
}

function applyOperation(image: GrowableBytes, operation: PendingOperation): void {
  if (operation.kind === 'write') image.write(operation.bytes, operation.position);
  else image.truncate(operation.sizeBytes);
}

/**
 * Applies a write of which only a random subset of its sectors (aligned to file offsets)
 * lands. The file still grows to the write's end; bytes that did not land keep their old
 * value, which past the old end is zero.
 */
function applyTornWrite(
  image: GrowableBytes,
  operation: PendingOperation & { kind: 'write' },
  sectorBytes: SectorBytes,
  random: () => number,
): void {
  const endBytes = operation.position + operation.bytes.byteLength;
  if (endBytes > image.sizeBytes) image.truncate(endBytes);
  let start = operation.position;
  while (start < endBytes) {
    const sectorEnd = Math.min(endBytes, (Math.floor(start / sectorBytes) + 1) * sectorBytes);
    const lands = random() < 0.5;
    if (lands) {
      const sourceStart = start - operation.position;
      image.write(operation.bytes.subarray(sourceStart, sectorEnd - operation.position), start);
    }
    start = sectorEnd;
  }
}

function applyTearLast(
  image: GrowableBytes,
  pending: readonly PendingOperation[],
  sectorBytes: SectorBytes,
  random: () => number,
): void {
  let lastWriteIndex = -1;
  pending.forEach((operation, index) => {
    if (operation.kind === 'write') lastWriteIndex = index;
  });
  pending.forEach((operation, index) => {
    if (index === lastWriteIndex && operation.kind === 'write') {
      applyTornWrite(image, operation, sectorBytes, random);
    } else {
      applyOperation(image, operation);
    }
  });
}

/** Computes a file's post-crash durable image from its durable image and pending list. */
function survivingImage(file: FaultFile, mode: CrashMode, random: () => number): GrowableBytes {
  const image = file.durable.clone();
  switch (mode.kind) {
    case 'drop-unsynced':
      break;
    case 'keep-prefix':
      file.pending.slice(0, mode.count).forEach((operation) => applyOperation(image, operation));
      break;
    case 'keep-subset':
      // Every pending operation (write or truncate) independently made it or not.
      for (const operation of file.pending) {
        if (random() < 0.5) applyOperation(image, operation);
      }
      break;
    case 'tear-last':
      applyTearLast(image, file.pending, mode.sectorBytes, random);
      break;
    case 'size-before-content':
      for (const operation of file.pending) {
        if (operation.kind === 'truncate') applyOperation(image, operation);
        else applyTornWrite(image, operation, mode.sectorBytes ?? 512, random);
      }
      break;
  }
  return image;
}

function validateCrashMode(mode: CrashMode): void {
  if (mode.kind === 'keep-prefix') {
    assert(Number.isSafeInteger(mode.count) && mode.count >= 0, 'count must be non-negative');
  }
  if ('seed' in mode) assert(Number.isSafeInteger(mode.seed), 'seed must be an integer');
  if ('sectorBytes' in mode && mode.sectorBytes !== undefined) {
    assert(mode.sectorBytes === 512 || mode.sectorBytes === 4096, 'sectorBytes is 512 or 4096');
  }
}

export class FaultStorage implements Storage {
  private readonly files = new Map<string, FaultFile>();
  /** Files whose directory entry was created after their directory's last sync. */
  private readonly pendingCreated = new Set<string>();
  private readonly operationCounts = new Map<FaultOperation, number>();
  private readonly random: () => number;
  private rules: ArmedRule[] = [];
  private totalOperationCount = 0;
  /** Operations left before the crash fires; zero means the machine is dead. */
  private crashBudget: number | undefined;
  /** Bumped by every crash so that handles from before it become invalid. */
  private generation = 0;
  private completedSyncCount = 0;
  private completedWriteCount = 0;
  private nextInode = 1;

  /**
   * `writesInPlace` makes the files answer `writeInPlace()` as a real file does where the addon
   * is built, so that the journal keeps zeros ahead of its end in every durability mode.
   */
  constructor(
    seed: number,
    private readonly writesInPlace = false,
  ) {
    assert(Number.isSafeInteger(seed), 'seed must be an integer');
    this.random = seededRandom(seed);
  }

  /** Syncs that completed successfully. */
  get syncCount(): number {
    return this.completedSyncCount;
  }

  /** Writes that completed successfully. */
  get writeCount(): number {
    return this.completedWriteCount;
  }

  /** True once an armed `crashAfter` has fired and until `crash()` reboots the machine. */
  get crashed(): boolean {
    return this.crashBudget === 0;
  }

  open(path: string, options: OpenFileOptions): StorageFile {
    this.checkAlive();
    assert(!(options.readOnly && options.truncate), 'a read-only open cannot truncate');
    const key = resolve(path);
    this.enter('open', key);
    let file = this.files.get(key);
    if (file === undefined) {
      if (!options.create) throw createSystemError('ENOENT', 'open', path);
      const empty = new GrowableBytes();
      file = this.newFile(empty);
      this.files.set(key, file);
      this.pendingCreated.add(key);
    } else if (options.truncate && file.visible.sizeBytes > 0) {
      this.record(file, { kind: 'truncate', sizeBytes: 0 });
    }
    const state: HandleState = {
      path: key,
      file,
      readOnly: options.readOnly,
      generation: this.generation,
      closed: false,
    };
    return this.createHandle(state);
  }

  exists(path: string): boolean {
    this.checkAlive();
    return this.files.has(resolve(path));
  }

  syncDirectory(directoryPath: string): void {
    this.checkAlive();
    const key = resolve(directoryPath);
    this.enter('syncDirectory', key);
    for (const path of this.pendingCreated) {
      if (dirname(path) === key) this.pendingCreated.delete(path);
    }
  }

  statPath(path: string): PathStatus | undefined {
    this.checkAlive();
    const file = this.files.get(resolve(path));
    if (file === undefined) return undefined;
    return { identity: { device: 0, inode: file.inode }, sizeBytes: file.visible.sizeBytes };
  }

  /** Removes the directory entry at once and durably; open handles keep the file. */
  remove(path: string): void {
    this.checkAlive();
    const key = resolve(path);
    this.files.delete(key);
    this.pendingCreated.delete(key);
  }

  /** Moves the directory entry at once and durably, as `remove` does. */
  rename(fromPath: string, toPath: string): void {
    this.checkAlive();
    const fromKey = resolve(fromPath);
    const file = this.files.get(fromKey);
    if (file === undefined) {
      throw Object.assign(new Error(`ENOENT: rename ${fromPath}`), { code: 'ENOENT' });
    }
    this.files.delete(fromKey);
    this.pendingCreated.delete(fromKey);
    this.files.set(resolve(toPath), file);
  }

  /** Arms a failure; see `FailureRule`. Counting starts with the next matching operation. */
  failOn(rule: FailureRule): void {
    assert(Number.isSafeInteger(rule.nth) && rule.nth >= 1, 'nth must be a positive integer');
    const path = rule.path === undefined ? undefined : resolve(rule.path);
    this.rules.push({ rule, path, seenCount: 0, fired: false });
  }

  /** Disarms every failure rule (rules survive `crash()`, as they belong to the test). */
  clearFailures(): void {
    this.rules = [];
  }

  /** Operations attempted (including injected failures) of one kind, or of every kind. */
  operationCount(kind?: FaultOperation): number {
    if (kind === undefined) return this.totalOperationCount;
    return this.operationCounts.get(kind) ?? 0;
  }

  /**
   * Arms a crash: the next `count` I/O operations run, then every further call (I/O or not)
   * throws `ECRASHED` until `crash()` builds the post-crash disk.
   */
  crashAfter(count: number): void {
    assert(Number.isSafeInteger(count) && count >= 0, 'count must be a non-negative integer');
    this.crashBudget = count;
  }

  /**
   * Produces the disk a rebooted machine sees: each file's durable image becomes what `mode`
   * says survived, pending lists empty, unsynced directory entries vanish, and every handle
   * opened before now throws `ECRASHED`.
   */
  crash(mode: CrashMode): void {
    validateCrashMode(mode);
    const random = seededRandom('seed' in mode ? mode.seed : 0);
    for (const [path, file] of this.files) {
      if (this.pendingCreated.has(path) && mode.keepUnsyncedEntries !== true) {
        this.files.delete(path);
        continue;
      }
      file.durable = survivingImage(file, mode, random);
      file.visible = file.durable.clone();
      file.pending = [];
      file.pendingBytes = 0;
    }
    this.pendingCreated.clear();
    this.crashBudget = undefined;
    this.generation += 1;
  }

  /** The bytes the process currently sees. */
  snapshot(path: string): Buffer {
    return Buffer.from(this.inspect(path).visible.toBytes());
  }

  /** The bytes as of the last sync (whether or not the directory entry is durable). */
  durableSnapshot(path: string): Buffer {
    return Buffer.from(this.inspect(path).durable.toBytes());
  }

  /** Plants a file whose bytes and directory entry are already durable. */
  setBytes(path: string, bytes: Uint8Array): void {
    const key = resolve(path);
    this.files.set(key, this.newFile(new GrowableBytes(bytes)));
    this.pendingCreated.delete(key);
  }

  private newFile(durable: GrowableBytes): FaultFile {
    const inode = this.nextInode++;
    return {
      durable,
      visible: durable.clone(),
      pending: [],
      pendingBytes: 0,
      inode,
      lockedBy: undefined,
    };
  }

  private holdsLock(state: HandleState | undefined): boolean {
    return state !== undefined && !state.closed && state.generation === this.generation;
  }

  private inspect(path: string): FaultFile {
    const file = this.files.get(resolve(path));
    if (file === undefined) throw createSystemError('ENOENT', 'stat', path);
    return file;
  }

  private createHandle(state: HandleState): StorageFile {
    return {
      writeInPlace: () => this.writesInPlace,
      sizeBytes: () => this.fileOf(state, 'fstat').visible.sizeBytes,
      read: (target, targetOffset, length, position) =>
        this.readFile(state, target, targetOffset, length, position),
      write: (buffers, position) => this.writeFile(state, buffers, position),
      truncate: (sizeBytes) => this.truncateFile(state, sizeBytes),
      sync: () => this.syncFile(state),
      close: () => {
        if (state.closed) return;
        this.fileOf(state, 'close');
        state.closed = true;
      },
      identity: (): FileIdentity => ({ device: 0, inode: state.file.inode }),
      tryLock: () => {
        const file = this.fileOf(state, 'flock');
        if (file.lockedBy !== state && this.holdsLock(file.lockedBy)) return false;
        file.lockedBy = state;
        return true;
      },
      // Simulated files live in this process, so any holder is this process.
      lockHolder: () =>
        this.holdsLock(state.file.lockedBy)
          ? { pid: process.pid, host: undefined }
          : { pid: undefined, host: undefined },
    };
  }

  private readFile(
    state: HandleState,
    target: Uint8Array,
    targetOffset: number,
    length: number,
    position: number,
  ): number {
    const file = this.fileOf(state, 'read');
    this.enter('read', state.path);
    return file.visible.read(target, targetOffset, length, position);
  }

  private writeFile(state: HandleState, buffers: readonly Uint8Array[], position: number): void {
    const file = this.writableFileOf(state, 'write');
    assert(Number.isSafeInteger(position) && position >= 0, 'position must be non-negative');
    const bytes = concatenate(buffers);
    const rule = this.enter('write', state.path, false);
    if (rule !== undefined) {
      if (rule.partial === true && bytes.byteLength > 0) {
        const prefixBytes = Math.floor(this.random() * bytes.byteLength);
        if (prefixBytes > 0) this.recordWrite(file, bytes.subarray(0, prefixBytes), position);
      }
      throw createSystemError(rule.errorCode ?? 'EIO', 'write', state.path);
    }
    this.recordWrite(file, bytes, position);
    this.completedWriteCount += 1;
  }

  private truncateFile(state: HandleState, sizeBytes: number): void {
    const file = this.writableFileOf(state, 'ftruncate');
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, 'sizeBytes must be non-negative');
    this.enter('truncate', state.path);
    this.record(file, { kind: 'truncate', sizeBytes });
  }

  private syncFile(state: HandleState): void {
    const file = this.fileOf(state, 'fdatasync');
    const rule = this.enter('sync', state.path, false);
    if (rule !== undefined) {
      // fsyncgate: the kernel drops the dirty pages it failed to write and reports the error
      // once, so the unsynced writes are simply gone, even for later reads.
      file.visible = file.durable.clone();
      file.pending = [];
      file.pendingBytes = 0;
      throw createSystemError(rule.errorCode ?? 'EIO', 'fdatasync', state.path);
    }
    file.pending.forEach((operation) => applyOperation(file.durable, operation));
    file.pending = [];
    file.pendingBytes = 0;
    this.completedSyncCount += 1;
  }

  private recordWrite(file: FaultFile, bytes: Uint8Array, position: number): void {
    if (bytes.byteLength === 0) return;
    // The pending list keeps its own copy: the caller may reuse its buffers after the call.
    this.record(file, { kind: 'write', position, bytes: bytes.slice() });
  }

  private record(file: FaultFile, operation: PendingOperation): void {
    const addedBytes = operation.kind === 'write' ? operation.bytes.byteLength : 0;
    if (file.pending.length >= PENDING_OPERATIONS_MAX) {
      throw limitExceeded('pending operations', file.pending.length + 1, PENDING_OPERATIONS_MAX);
    }
    if (file.pendingBytes + addedBytes > PENDING_BYTES_MAX) {
      throw limitExceeded('pending bytes', file.pendingBytes + addedBytes, PENDING_BYTES_MAX);
    }
    applyOperation(file.visible, operation);
    file.pending.push(operation);
    file.pendingBytes += addedBytes;
  }

  private checkAlive(): void {
    if (this.crashBudget === 0) throw createSystemError(CRASHED_ERROR_CODE, 'call');
  }

  private fileOf(state: HandleState, syscall: string): FaultFile {
    this.checkAlive();
    if (state.generation !== this.generation) {
      throw createSystemError(CRASHED_ERROR_CODE, syscall, state.path);
    }
    if (state.closed) throw createSystemError('EBADF', syscall, state.path);
    return state.file;
  }

  private writableFileOf(state: HandleState, syscall: string): FaultFile {
    const file = this.fileOf(state, syscall);
    if (state.readOnly) throw createSystemError('EBADF', syscall, state.path);
    return file;
  }

  /**
   * Counts one I/O operation and spends one unit of the crash budget. Returns the failure
   * rule that fires for it, or throws that rule's error directly when `throwOnFailure`.
   */
  private enter(
    kind: FaultOperation,
    path: string,
    throwOnFailure = true,
  ): FailureRule | undefined {
    if (this.crashBudget !== undefined) {
      if (this.crashBudget === 0) throw createSystemError(CRASHED_ERROR_CODE, SYSCALL_NAMES[kind]);
      this.crashBudget -= 1;
    }
    this.totalOperationCount += 1;
    this.operationCounts.set(kind, (this.operationCounts.get(kind) ?? 0) + 1);
    const rule = this.matchRule(kind, path);
    if (rule !== undefined && throwOnFailure) {
      throw createSystemError(rule.errorCode ?? 'EIO', SYSCALL_NAMES[kind], path);
    }
    return rule;
  }

  private matchRule(kind: FaultOperation, path: string): FailureRule | undefined {
    let matched: FailureRule | undefined;
    for (const armed of this.rules) {
      if (armed.rule.operation !== kind) continue;
      if (armed.path !== undefined && armed.path !== path) continue;
      armed.seenCount += 1;
      const persistent = armed.rule.persistent === true;
      const fires = armed.fired ? persistent : armed.seenCount === armed.rule.nth;
      if (fires) {
        armed.fired = true;
        matched ??= armed.rule;
      }
    }
    // A one-shot rule that has fired has done its job.
    this.rules = this.rules.filter((armed) => !armed.fired || armed.rule.persistent === true);
    return matched;
  }
}

/** A fault storage with the given seed (the seed drives partial-write prefix lengths). */
export function createFaultStorage(seed: number): FaultStorage {
  return new FaultStorage(seed);
}
