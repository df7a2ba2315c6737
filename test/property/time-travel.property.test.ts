import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Cartridge,
  CartridgeError,
  type CartridgeErrorCode,
  type CartridgeView,
  type CheckoutTarget,
  type CompressionName,
  type Durability,
  type PathVersion,
  type VersionChange,
} from '../../src/index.js';

/**
 * Model-based test of time travel. Random operations (writes in and out of transactions,
 * deletions, directories, snapshots, checkouts, restores, diffs, history, checkpoints, clock
 * ticks, close and reopen of a real file) run against the engine and against a reference model
 * that keeps every state the head has had, by head offset, by commit time and by snapshot.
 * Every checkout must equal the model's state at its moment, every restore must bring the head
 * to its target, every diff and every history must be what the model says.
 *
 * The checkpoint interval is the smallest allowed (4096 bytes), so checkouts start from real
 * index roots; bulk transactions push the catalog index past one page.
 *
 * `PROPERTY_RUNS` sets the number of runs, `PROPERTY_SEED` (and `PROPERTY_PATH`) replay one;
 * fast-check prints both when a run fails.
 */

const DEFAULT_RUNS = 40;
const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '', 10) || DEFAULT_RUNS;
const SEED_TEXT = process.env['PROPERTY_SEED'];
const SEED = SEED_TEXT === undefined ? undefined : Number(SEED_TEXT);
const REPLAY_PATH = process.env['PROPERTY_PATH'];

const CHECKPOINT_INTERVAL_BYTES = 4096;
const MIB = 1024 * 1024;
/** A plausible wall clock: commit times in the test are this plus what the ticks add. */
const START_MS = 1_700_000_000_000;
const ROOT_INODE = 1;
const VIEWS_KEPT_MAX = 4;
const BULK_DIRECTORY = '/m';

// ---- the reference model ------------------------------------------------------------------

interface FileEntry {
  readonly kind: 'file';
  readonly bytes: Buffer;
  /** Which write made the content: a restore brings back the same one (same record). */
  readonly contentId: number;
  readonly inode: number;
  readonly createdAtMs: number;
  readonly modifiedAtMs: number;
}

interface DirectoryEntry {
  readonly kind: 'directory';
  readonly inode: number;
  readonly createdAtMs: number;
  readonly modifiedAtMs: number;
}

type Entry = FileEntry | DirectoryEntry;
/** Every entry, the root included, by canonical path. */
type State = ReadonlyMap<string, Entry>;

interface ModelVersion {
  readonly change: VersionChange;
  readonly kind: 'file' | 'directory';
  readonly atMs: number;
  readonly sizeBytes: number;
  /** The moment right after the version's commit. */
  readonly moment: number;
}

/** A state the head has had: after a commit (or after a checkpoint, with the same state). */
interface Moment {
  readonly head: number;
  readonly state: State;
  /** The commit time, for a commit that carries one (checkpoints do not). */
  readonly commitAtMs: number | undefined;
}

type Outcome = { readonly ok: unknown } | { readonly code: CartridgeErrorCode };

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

/** Ancestors from the root down, excluding the root and the path itself. */
function ancestorsOf(path: string): string[] {
  const segments = path.split('/').filter((segment) => segment !== '');
  return segments.slice(0, -1).map((_, index) => `/${segments.slice(0, index + 1).join('/')}`);
}

function depthOf(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}

function isUnder(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return path === prefix || path.startsWith(`${prefix}/`);
}

function childrenIn(state: State, path: string): string[] {
  const names: string[] = [];
  for (const key of state.keys()) {
    if (key !== '/' && parentOf(key) === path) names.push(key.slice(key.lastIndexOf('/') + 1));
  }
  return names.sort();
}

/** The entries as a restore compares them: kind, content, identity and times. */
function sameEntry(left: Entry | undefined, right: Entry | undefined): boolean {
  if (left === undefined || right === undefined) return left === right;
  if (left.kind !== right.kind) return false;
  const sameMetadata =
    left.inode === right.inode &&
    left.createdAtMs === right.createdAtMs &&
    left.modifiedAtMs === right.modifiedAtMs;
  if (left.kind === 'file' && right.kind === 'file') {
    return sameMetadata && left.contentId === right.contentId;
  }
  return sameMetadata;
}

type DiffChange = 'added' | 'removed' | 'modified' | 'metadata';

/** What `diff` reports for one path (see `changeOf` in catalog-diff.ts). */
function changeBetween(before: Entry | undefined, after: Entry | undefined): DiffChange | null {
  if (before === undefined) return after === undefined ? null : 'added';
  if (after === undefined) return 'removed';
  if (before.kind !== after.kind) return 'modified';
  if (before.kind === 'file' && after.kind === 'file') {
    if (before.contentId !== after.contentId) return 'modified';
    const same =
      before.inode === after.inode &&
      before.createdAtMs === after.createdAtMs &&
      before.modifiedAtMs === after.modifiedAtMs;
    return same ? null : 'metadata';
  }
  // A directory whose children changed is not listed: its children are.
  const same = before.inode === after.inode && before.createdAtMs === after.createdAtMs;
  return same ? null : 'metadata';
}

function modelDiff(
  before: State,
  after: State,
  prefix: string,
): { path: string; change: DiffChange }[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  const entries: { path: string; change: DiffChange }[] = [];
  for (const path of paths) {
    if (!isUnder(path, prefix)) continue;
    const change = changeBetween(before.get(path), after.get(path));
    if (change !== null) entries.push({ path, change });
  }
  return entries.sort((left, right) =>
    left.path < right.path ? -1 : left.path > right.path ? 1 : 0,
  );
}

/** A version as the model stages it, before its commit gives it a moment and a time. */
interface StagedVersion {
  readonly path: string;
  readonly change: VersionChange;
  readonly kind: 'file' | 'directory';
  sizeBytes: number;
}

/**
 * The changes of one commit, made on a copy of the head's state. `atMs` is the time the
 * commit will carry; every record of a commit carries the same time.
 */
class Draft {
  readonly entries: Map<string, Entry>;
  readonly staged: StagedVersion[] = [];
  nextInode: number;
  nextContentId: number;
  /** The file whose appends are buffered into one record (inside a transaction only). */
  private pendingAppend: string | undefined;

  constructor(
    world: World,
    readonly atMs: number,
    private readonly inTransaction: boolean,
  ) {
    this.entries = new Map(world.current);
    this.nextInode = world.nextInode;
    this.nextContentId = world.nextContentId;
  }

  get changed(): boolean {
    return this.staged.length > 0;
  }

  private lookup(path: string): Entry | CartridgeErrorCode {
    const entry = this.entries.get(path);
    if (entry !== undefined) return entry;
    for (const ancestor of ancestorsOf(path)) {
      const above = this.entries.get(ancestor);
      if (above === undefined) break;
      if (above.kind === 'file') return 'ENOTDIR';
    }
    return 'ENOENT';
  }

  /** An entry made by a write: its parent's time follows it. */
  private insert(path: string, entry: Entry): void {
    const parent = this.entries.get(parentOf(path)) as DirectoryEntry;
    this.entries.set(parentOf(path), { ...parent, modifiedAtMs: entry.createdAtMs });
    this.entries.set(path, entry);
  }

  private createDirectory(path: string): void {
    const inode = this.nextInode++;
    this.insert(path, {
      kind: 'directory',
      inode,
      createdAtMs: this.atMs,
      modifiedAtMs: this.atMs,
    });
    this.staged.push({ path, change: 'created', kind: 'directory', sizeBytes: 0 });
  }

  private ensureParents(path: string): CartridgeErrorCode | undefined {
    const ancestors = ancestorsOf(path);
    if (ancestors.some((ancestor) => this.entries.get(ancestor)?.kind === 'file')) return 'ENOTDIR';
    for (const ancestor of ancestors) {
      if (!this.entries.has(ancestor)) this.createDirectory(ancestor);
    }
    return undefined;
  }

  createFile(path: string, bytes: Buffer): Outcome {
    this.pendingAppend = undefined;
    if (this.entries.has(path)) return { code: 'EEXIST' };
    const refused = this.ensureParents(path);
    if (refused !== undefined) return { code: refused };
    const entry: FileEntry = {
      kind: 'file',
      bytes,
      contentId: this.nextContentId++,
      inode: this.nextInode++,
      createdAtMs: this.atMs,
      modifiedAtMs: this.atMs,
    };
    this.insert(path, entry);
    this.staged.push({ path, change: 'created', kind: 'file', sizeBytes: bytes.length });
    return { ok: undefined };
  }

  writeFile(path: string, bytes: Buffer): Outcome {
    this.pendingAppend = undefined;
    const entry = this.lookup(path);
    if (typeof entry === 'string') return { code: entry };
    if (entry.kind === 'directory') return { code: 'EISDIR' };
    const contentId = this.nextContentId++;
    this.entries.set(path, { ...entry, bytes, contentId, modifiedAtMs: this.atMs });
    this.staged.push({ path, change: 'written', kind: 'file', sizeBytes: bytes.length });
    return { ok: undefined };
  }

  appendFile(path: string, bytes: Buffer): Outcome {
    const entry = this.lookup(path);
    const buffered = this.pendingAppend === path;
    // Any other call stages the buffered appends (an append to another file included).
    if (!buffered) this.pendingAppend = undefined;
    if (typeof entry === 'string') return { code: entry };
    if (entry.kind === 'directory') return { code: 'EISDIR' };
    // Appending nothing writes no record.
    if (bytes.length === 0) return { ok: undefined };
    const grown = Buffer.concat([entry.bytes, bytes]);
    const contentId = this.nextContentId++;
    this.entries.set(path, { ...entry, bytes: grown, contentId, modifiedAtMs: this.atMs });
    const last = this.staged[this.staged.length - 1];
    if (buffered && last !== undefined && last.path === path && last.change === 'appended') {
      // Appends to one file in a row inside a transaction become one record.
      last.sizeBytes = grown.length;
    } else {
      this.staged.push({ path, change: 'appended', kind: 'file', sizeBytes: grown.length });
    }
    if (this.inTransaction) this.pendingAppend = path;
    return { ok: undefined };
  }

  deleteFile(path: string): Outcome {
    this.pendingAppend = undefined;
    if (path === '/') return { code: 'EINVAL' };
    const entry = this.lookup(path);
    if (typeof entry === 'string') return { code: entry };
    if (entry.kind === 'directory' && childrenIn(this.entries, path).length > 0) {
      return { code: 'ENOTEMPTY' };
    }
    this.remove(path);
    return { ok: undefined };
  }

  private remove(path: string): void {
    const entry = this.entries.get(path) as Entry;
    this.entries.delete(path);
    const parent = this.entries.get(parentOf(path)) as DirectoryEntry;
    this.entries.set(parentOf(path), { ...parent, modifiedAtMs: this.atMs });
    this.staged.push({ path, change: 'deleted', kind: entry.kind, sizeBytes: 0 });
  }

  createDir(path: string, recursive: boolean): Outcome {
    this.pendingAppend = undefined;
    const existing = this.entries.get(path);
    if (existing !== undefined) {
      return recursive && existing.kind === 'directory' ? { ok: undefined } : { code: 'EEXIST' };
    }
    if (recursive) {
      const refused = this.ensureParents(path);
      if (refused !== undefined) return { code: refused };
    } else {
      const parent = this.lookup(parentOf(path));
      if (typeof parent === 'string') return { code: parent };
      if (parent.kind === 'file') return { code: 'ENOTDIR' };
    }
    this.createDirectory(path);
    return { ok: undefined };
  }

  /**
   * A move: every entry of the subtree changes path and keeps everything else (inode, times,
   * content); only the two parents of the entry moved take the commit's time. Each path gets
   * one version: `moved-in` where an entry arrived, `moved-out` where one left.
   */
  rename(from: string, to: string): Outcome {
    this.pendingAppend = undefined;
    if (from === '/') return { code: 'EINVAL' };
    if (to === '/') return { code: 'EEXIST' };
    if (to.startsWith(`${from}/`)) return { code: 'EINVAL' };
    const entry = this.lookup(from);
    if (typeof entry === 'string') return { code: entry };
    if (from === to) return { ok: undefined };
    if (this.entries.has(to)) return { code: 'EEXIST' };
    const parent = this.lookup(parentOf(to));
    if (typeof parent === 'string') return { code: parent };
    if (parent.kind === 'file') return { code: 'ENOTDIR' };
    const moved = [...this.entries].filter(([path]) => isUnder(path, from));
    for (const [path, node] of moved) {
      this.entries.delete(path);
      const sizeBytes = node.kind === 'file' ? node.bytes.length : 0;
      this.staged.push({ path, change: 'moved-out', kind: node.kind, sizeBytes: 0 });
      const target = to + path.slice(from.length);
      this.staged.push({ path: target, change: 'moved-in', kind: node.kind, sizeBytes });
    }
    for (const [path, node] of moved) this.entries.set(to + path.slice(from.length), node);
    for (const directory of [parentOf(from), parentOf(to)]) {
      const above = this.entries.get(directory) as DirectoryEntry;
      this.entries.set(directory, { ...above, modifiedAtMs: this.atMs });
    }
    return { ok: undefined };
  }

  /**
   * A restore: deletes what the target lacks (or has as another kind), deepest first, then
   * sets what differs, shallowest first; the parent of a deletion is set too (the deletion
   * moved its time). Returns the number of entries deleted or set.
   */
  restore(target: State): number {
    const deletions: string[] = [];
    for (const [path, entry] of this.entries) {
      if (path === '/') continue;
      if (target.get(path)?.kind !== entry.kind) deletions.push(path);
    }
    const sets = new Set<string>();
    for (const [path, entry] of target) {
      if (!sameEntry(this.entries.get(path), entry)) sets.add(path);
    }
    for (const path of deletions) {
      if (target.get(parentOf(path))?.kind === 'directory') sets.add(parentOf(path));
    }
    deletions.sort((left, right) => depthOf(right) - depthOf(left));
    for (const path of deletions) this.remove(path);
    const ordered = [...sets].sort((left, right) => depthOf(left) - depthOf(right));
    for (const path of ordered) {
      const entry = target.get(path) as Entry;
      const sizeBytes = entry.kind === 'file' ? entry.bytes.length : 0;
      this.staged.push({ path, change: 'restored', kind: entry.kind, sizeBytes });
    }
    this.entries.clear();
    for (const [path, entry] of target) this.entries.set(path, entry);
    return deletions.length + sets.size;
  }
}

/** Everything the head has been, and what the engine will do next. */
class World {
  readonly moments: Moment[] = [];
  readonly versions = new Map<string, ModelVersion[]>();
  /** Snapshot name → the moment right after its commit. */
  readonly snapshots = new Map<string, number>();
  /** The offsets of the checkpoint roots the head has written. */
  readonly roots: number[] = [];
  nextInode = ROOT_INODE + 1;
  nextContentId = 1;
  lastCommitAtMs: number;

  constructor(
    /** The wall clock the engine reads (the test moves it). */
    private readonly time: { ms: number },
    genesisAtMs: number,
    genesisHead: number,
  ) {
    this.lastCommitAtMs = genesisAtMs;
    const root: DirectoryEntry = {
      kind: 'directory',
      inode: ROOT_INODE,
      createdAtMs: genesisAtMs,
      modifiedAtMs: genesisAtMs,
    };
    this.moments.push({
      head: genesisHead,
      state: new Map([['/', root]]),
      commitAtMs: genesisAtMs,
    });
    this.versions.set('/', [
      { change: 'created', kind: 'directory', atMs: genesisAtMs, sizeBytes: 0, moment: 0 },
    ]);
  }

  get current(): State {
    return (this.moments[this.moments.length - 1] as Moment).state;
  }

  get currentHead(): number {
    return (this.moments[this.moments.length - 1] as Moment).head;
  }

  /** The time the next commit will carry: never earlier than the last one. */
  get nextCommitAtMs(): number {
    return Math.max(this.time.ms, this.lastCommitAtMs);
  }

  draft(inTransaction: boolean): Draft {
    return new Draft(this, this.nextCommitAtMs, inTransaction);
  }

  /** Records a commit that carries a time (with its changes, if a draft made any). */
  commit(head: number, draft: Draft | undefined): number {
    const atMs = this.nextCommitAtMs;
    const moment = this.moments.length;
    const state = draft === undefined ? this.current : draft.entries;
    if (draft !== undefined) {
      this.nextInode = draft.nextInode;
      this.nextContentId = draft.nextContentId;
      for (const staged of draft.staged) {
        const list = this.versions.get(staged.path) ?? [];
        const { change, kind, sizeBytes } = staged;
        list.push({ change, kind, sizeBytes, atMs, moment });
        this.versions.set(staged.path, list);
      }
    }
    this.lastCommitAtMs = atMs;
    this.moments.push({ head, state: new Map(state), commitAtMs: atMs });
    return moment;
  }

  /** Records a head that moved without a timed commit (a checkpoint). */
  moved(head: number): void {
    if (head === this.currentHead) return;
    this.moments.push({ head, state: this.current, commitAtMs: undefined });
  }

  /** The moment a date names: after every commit whose time is at or before it. */
  momentAtDate(atMs: number): number | undefined {
    let found: number | undefined;
    this.moments.forEach((moment, index) => {
      if (moment.commitAtMs !== undefined && moment.commitAtMs <= atMs) found = index;
    });
    return found;
  }
}

// ---- operations ---------------------------------------------------------------------------

type ContentSpec =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'sized'; readonly length: number; readonly seed: number };

type LeafOp =
  | {
      readonly kind: 'createFile' | 'writeFile' | 'appendFile';
      readonly path: string;
      readonly content: ContentSpec;
    }
  | { readonly kind: 'deleteFile'; readonly path: string }
  | { readonly kind: 'createDir'; readonly path: string; readonly recursive: boolean }
  | { readonly kind: 'rename'; readonly path: string; readonly target: string };

/** How a test names a past moment; `pick` chooses among those the run has when it runs. */
type TargetSpec =
  | { readonly by: 'head' | 'position' | 'snapshot' | 'view'; readonly pick: number }
  | { readonly by: 'between'; readonly pick: number; readonly fraction: number }
  | { readonly by: 'date'; readonly pick: number; readonly shiftMs: number };

type Op =
  | LeafOp
  | { readonly kind: 'transaction'; readonly steps: readonly LeafOp[]; readonly abort: boolean }
  | { readonly kind: 'bulk'; readonly count: number; readonly variant: number }
  | { readonly kind: 'bulkDelete' }
  | { readonly kind: 'flipKind'; readonly path: string }
  | { readonly kind: 'createSnapshot' | 'deleteSnapshot'; readonly name: string }
  | { readonly kind: 'checkout'; readonly target: TargetSpec; readonly keep: boolean }
  | { readonly kind: 'restore'; readonly target: TargetSpec }
  | {
      readonly kind: 'diff';
      readonly from: TargetSpec;
      readonly to: TargetSpec | null;
      readonly prefix: string;
    }
  | {
      readonly kind: 'history';
      readonly path: string;
      readonly limit: number | null;
      /** Also the history of a path the run changed, chosen by this. */
      readonly pick: number;
    }
  | { readonly kind: 'tick'; readonly deltaMs: number }
  | { readonly kind: 'checkpoint' | 'reopen' | 'verify' | 'recheckView' };

const segmentArbitrary = fc.constantFrom('a', 'b', 'c');
const pathArbitrary: fc.Arbitrary<string> = fc
  .array(segmentArbitrary, { minLength: 1, maxLength: 3 })
  .map((names) => `/${names.join('/')}`);

const contentArbitrary: fc.Arbitrary<ContentSpec> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      bytes: fc.uint8Array({ maxLength: 40 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('text' as const),
      text: fc.string({ maxLength: 12 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('sized' as const),
      length: fc.integer({ min: 300, max: 9000 }),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
    }),
  },
  // Past the data record size: the content spans a data record and the operation's own.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('sized' as const),
      length: fc.constant(MIB + 5),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
    }),
  },
);

const leafArbitrary: fc.Arbitrary<LeafOp> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constantFrom('createFile' as const, 'writeFile' as const, 'appendFile' as const),
      path: pathArbitrary,
      content: contentArbitrary,
    }),
  },
  // Appends of small pieces grow a file's extent map past what its entry holds.
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('appendFile' as const),
      path: fc.constantFrom('/a', '/b/c'),
      content: fc.record({ kind: fc.constant('text' as const), text: fc.string({ maxLength: 6 }) }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('deleteFile' as const), path: pathArbitrary }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('createDir' as const),
      path: pathArbitrary,
      recursive: fc.boolean(),
    }),
  },
  // Targets are mostly paths no other operation makes (segment d), so that moves succeed.
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('rename' as const),
      path: fc.constantFrom('/a', '/b', '/c', '/a/b', '/b/c'),
      target: fc.oneof(
        fc.constantFrom('/d', '/a/d', '/b/d', '/d/d'),
        pathArbitrary,
      ),
    }),
  },
);

const pickArbitrary = fc.nat({ max: 1000 });
const targetArbitrary: fc.Arbitrary<TargetSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ by: fc.constant('head' as const), pick: pickArbitrary }) },
  {
    weight: 2,
    arbitrary: fc.record({
      by: fc.constant('between' as const),
      pick: pickArbitrary,
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ by: fc.constant('position' as const), pick: pickArbitrary }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ by: fc.constant('snapshot' as const), pick: pickArbitrary }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      by: fc.constant('date' as const),
      pick: pickArbitrary,
      shiftMs: fc.constantFrom(-1, 0, 0, 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ by: fc.constant('view' as const), pick: pickArbitrary }) },
);

const snapshotNameArbitrary = fc.constantFrom('s0', 's1', 's2', 'before', 'ünïcode ✓');
const prefixArbitrary = fc.constantFrom('/', '/', '/a', '/b', '/a/b', BULK_DIRECTORY, '/c/c/c');

/**
 * A directory with a file in it, made and moved in one commit: random renames move a
 * directory only when an earlier operation happened to make one at the source, which some
 * complete runs never did. `/m` and `/moved` are made by nothing else, so the first of these in
 * a run succeeds (later ones find `/moved` taken and roll back).
 */
const directoryMoveSteps: readonly LeafOp[] = [
  { kind: 'createDir', path: '/m/n', recursive: true },
  { kind: 'createFile', path: '/m/n/x', content: { kind: 'bytes', bytes: new Uint8Array([1, 2]) } },
  { kind: 'rename', path: '/m', target: '/moved' },
];

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: leafArbitrary },
  {
    weight: 1,
    arbitrary: fc.constant({
      kind: 'transaction' as const,
      steps: directoryMoveSteps,
      abort: false,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('transaction' as const),
      steps: fc.array(leafArbitrary, { minLength: 1, maxLength: 6 }),
      abort: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('bulk' as const),
      count: fc.integer({ min: 10, max: 140 }),
      variant: fc.nat({ max: 9 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bulkDelete' as const) }) },
  // A file becomes a directory or back: restores across the change must delete and set.
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('flipKind' as const),
      path: fc.constantFrom('/a', '/b', '/a/b', '/c/a'),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'createSnapshot' as const,
        'createSnapshot' as const,
        'deleteSnapshot' as const,
      ),
      name: snapshotNameArbitrary,
    }),
  },
  {
    weight: 7,
    arbitrary: fc.record({
      kind: fc.constant('checkout' as const),
      target: targetArbitrary,
      keep: fc.boolean(),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('restore' as const), target: targetArbitrary }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('diff' as const),
      from: targetArbitrary,
      to: fc.option(targetArbitrary, { freq: 2 }),
      prefix: prefixArbitrary,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('history' as const),
      path: fc.oneof(
        pathArbitrary,
        fc.constantFrom('/', BULK_DIRECTORY, `${BULK_DIRECTORY}/f0003`),
      ),
      limit: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 3 }),
      pick: pickArbitrary,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      deltaMs: fc.constantFrom(0, 1, 5, 1000, -300),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('checkpoint' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('recheckView' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constantFrom('reopen' as const, 'verify' as const) }),
  },
);

const configArbitrary = fc.record({
  compression: fc.constantFrom<CompressionName>('zstd', 'lz4', 'none'),
  durability: fc.constantFrom<Durability>('off', 'normal'),
});

type RunConfig = { readonly compression: CompressionName; readonly durability: Durability };

// ---- contents -----------------------------------------------------------------------------

/** Deterministic xorshift noise, so no codec can shrink it. */
function sizedBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed | 1;
  for (let index = 0; index + 4 <= length; index += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes.writeInt32LE(state | 0, index);
  }
  return bytes;
}

function bytesOf(spec: ContentSpec): Buffer {
  switch (spec.kind) {
    case 'bytes':
      return Buffer.from(spec.bytes);
    case 'text':
      return Buffer.from(spec.text, 'utf8');
    case 'sized':
      return sizedBytes(spec.length, spec.seed);
  }
}

function digest(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

function describeOp(op: Op): string {
  return JSON.stringify(op, (key, value: unknown) => {
    if (key === 'content' && typeof value === 'object' && value !== null && 'kind' in value) {
      const spec = value as ContentSpec;
      if (spec.kind === 'text') return spec;
      return `${spec.kind}:${spec.kind === 'sized' ? spec.length : spec.bytes.length}B`;
    }
    return value;
  });
}

// ---- observing a state --------------------------------------------------------------------

/** What the reads of the cartridge and of a view have in common. */
type Reader = Pick<Cartridge, 'readFile' | 'listDir' | 'exists' | 'metadata'>;

interface Observed {
  readonly kind: 'file' | 'directory';
  readonly inode: number;
  readonly createdAtMs: number;
  readonly modifiedAtMs: number;
  readonly sizeBytes: number;
  readonly sha1: string | null;
}

function observeEntry(entry: Entry): Observed {
  const file = entry.kind === 'file';
  return {
    kind: entry.kind,
    inode: entry.inode,
    createdAtMs: entry.createdAtMs,
    modifiedAtMs: entry.modifiedAtMs,
    sizeBytes: file ? entry.bytes.length : 0,
    sha1: file ? digest(entry.bytes) : null,
  };
}

/** Everything a reader shows, found by listing directories from the root down. */
function observe(reader: Reader): Record<string, Observed> {
  const found: Record<string, Observed> = {};
  const visit = (path: string): void => {
    const metadata = reader.metadata(path);
    const file = metadata.type === 'file';
    found[path] = {
      kind: metadata.type,
      inode: metadata.inode,
      createdAtMs: metadata.createdAtMs,
      modifiedAtMs: metadata.modifiedAtMs,
      sizeBytes: metadata.sizeBytes,
      sha1: file ? digest(reader.readFile(path)) : null,
    };
    if (file) return;
    for (const name of reader.listDir(path)) visit(path === '/' ? `/${name}` : `${path}/${name}`);
  };
  visit('/');
  return found;
}

function expected(state: State): Record<string, Observed> {
  const entries: Record<string, Observed> = {};
  for (const [path, entry] of state) entries[path] = observeEntry(entry);
  return entries;
}

/** Every path of the small alphabet, for `exists` on paths a listing cannot show. */
const UNIVERSE: readonly string[] = (() => {
  const paths = ['/'];
  const grow = (prefix: string, depth: number): void => {
    if (depth === 0) return;
    for (const segment of ['a', 'b', 'c']) {
      paths.push(`${prefix}/${segment}`);
      grow(`${prefix}/${segment}`, depth - 1);
    }
  };
  grow('', 3);
  return [...paths, BULK_DIRECTORY, `${BULK_DIRECTORY}/f0000`];
})();

function expectState(reader: Reader, state: State, label: string): void {
  expect(observe(reader), `${label}: listing, contents and metadata`).toEqual(expected(state));
  const exists = UNIVERSE.map((path) => reader.exists(path));
  expect(exists, `${label}: exists`).toEqual(UNIVERSE.map((path) => state.has(path)));
}

// ---- running the engine and the model side by side ------------------------------------------

class AbortTransaction extends Error {}

function capture(run: () => unknown): Outcome {
  try {
    return { ok: run() };
  } catch (error) {
    if (error instanceof CartridgeError) return { code: error.code };
    throw error;
  }
}

/** Situations the random operations must reach, so a generator change cannot hide them. */
const reached = {
  historyWithMove: 0,
  directoryMoved: 0,
  checkoutFromRoot: 0,
  checkoutBetweenCommits: 0,
  checkoutByPosition: 0,
  checkoutByDate: 0,
  restoreWithChanges: 0,
  restoreKindChange: 0,
  restoreNothing: 0,
  historyWithRestore: 0,
  historyCutAtDeletion: 0,
  diffNonEmpty: 0,
  multiPageIndex: 0,
  reopenWithHistory: 0,
  viewOutlivedCommits: 0,
};
let propertyHeld = false;

interface KeptView {
  readonly view: CartridgeView;
  readonly moment: number;
  readonly headWhenMade: number;
}

interface Harness {
  cart: Cartridge;
  readonly world: World;
  readonly location: string;
  readonly config: RunConfig;
  readonly clock: { now(): number; nowMs(): number };
  readonly time: { ms: number };
  views: KeptView[];
}

function optionsOf(harness: Pick<Harness, 'config' | 'clock'>) {
  return {
    compression: harness.config.compression,
    durability: harness.config.durability,
    checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES,
    clock: harness.clock,
  };
}

/** A resolved target: what to pass to the engine, and what the model expects of it. */
type Resolved =
  | { readonly target: CheckoutTarget | CartridgeView; readonly moment: number }
  | { readonly target: CheckoutTarget; readonly code: CartridgeErrorCode };

/** The engine's history of `path`, after checking it against the model's. */
function checkedHistory(harness: Harness, path: string, label: string): PathVersion[] {
  const actual = harness.cart.history(path);
  const model = [...(harness.world.versions.get(path) ?? [])].reverse();
  const shape = (
    versions: readonly { change: string; kind: string; atMs: number; sizeBytes: number }[],
  ) => versions.map(({ change, kind, atMs, sizeBytes }) => ({ change, kind, atMs, sizeBytes }));
  expect(shape(actual), `${label}: history of ${path}`).toEqual(shape(model));
  for (const version of actual) {
    expect(version.path).toBe(path);
    expect(version.position.offset).toBe(version.offset);
    expect(version.position.sequence).toBe(version.sequence);
  }
  return actual;
}

/** The last moment whose head is at or before `offset` (heads only grow). */
function lastMomentAtOrBefore(moments: readonly Moment[], offset: number): number {
  let found = 0;
  moments.forEach((moment, index) => {
    if (moment.head <= offset) found = index;
  });
  return found;
}

function resolve(harness: Harness, spec: TargetSpec, label: string): Resolved {
  const { world } = harness;
  const moments = world.moments;
  switch (spec.by) {
    case 'head': {
      const moment = spec.pick % moments.length;
      return { target: (moments[moment] as Moment).head, moment };
    }
    case 'between': {
      // An offset inside the journal between two recorded heads: the state is that of the
      // last commit ending at or before it, which the view's head tells.
      if (moments.length < 2) return { target: world.currentHead, moment: moments.length - 1 };
      let moment = spec.pick % (moments.length - 1);
      let offset: number;
      const roots = world.roots;
      if (spec.pick % 3 === 0 && roots.length > 0) {
        // Just inside a checkpoint's root record, which ends its commit: the state is the one
        // before the checkpoint, whatever the root says.
        offset = (roots[spec.pick % roots.length] as number) + 1;
        moment = lastMomentAtOrBefore(moments, offset);
      } else {
        const low = (moments[moment] as Moment).head;
        const high = (moments[moment + 1] as Moment).head;
        offset = low + 1 + Math.floor(spec.fraction * (high - low - 2));
      }
      const low = (moments[moment] as Moment).head;
      const high = (moments[moment + 1] as Moment | undefined)?.head ?? low;
      if (offset <= low || offset >= high) return { target: low, moment };
      const view = harness.cart.checkout(offset);
      expect(view.head, `${label}: the view of ${offset} ends at or before it`).toBeLessThanOrEqual(
        offset,
      );
      expect(view.head, `${label}: and after every commit before it`).toBeGreaterThanOrEqual(low);
      reached.checkoutBetweenCommits++;
      return { target: offset, moment: view.head === low ? moment : moment + 1 };
    }
    case 'position': {
      const paths = [...world.versions.keys()].sort();
      const path = paths[spec.pick % paths.length] as string;
      const actual = checkedHistory(harness, path, label);
      const model = [...(world.versions.get(path) as ModelVersion[])].reverse();
      const index = Math.floor(spec.pick / paths.length) % actual.length;
      reached.checkoutByPosition++;
      return {
        target: (actual[index] as PathVersion).position,
        moment: (model[index] as ModelVersion).moment,
      };
    }
    case 'snapshot': {
      const names = [...world.snapshots.keys()].sort();
      // One pick in eight names a snapshot that does not exist; without snapshots, a head.
      if (spec.pick % 8 === 0) return { target: 'never taken', code: 'SNAPSHOT_NOT_FOUND' };
      if (names.length === 0) return resolve(harness, { by: 'head', pick: spec.pick }, label);
      const name = names[spec.pick % names.length] as string;
      return { target: name, moment: world.snapshots.get(name) as number };
    }
    case 'date': {
      const timed = moments.flatMap((moment) =>
        moment.commitAtMs === undefined ? [] : [moment.commitAtMs],
      );
      const atMs = (timed[spec.pick % timed.length] as number) + spec.shiftMs;
      const moment = world.momentAtDate(atMs);
      reached.checkoutByDate++;
      if (moment === undefined) return { target: new Date(atMs), code: 'INVALID_ARGUMENT' };
      return { target: new Date(atMs), moment };
    }
    case 'view': {
      const kept = harness.views[spec.pick % Math.max(1, harness.views.length)];
      if (kept === undefined) return resolve(harness, { by: 'head', pick: spec.pick }, label);
      return { target: kept.view, moment: kept.moment };
    }
  }
}

function engineTarget(resolved: Resolved): CheckoutTarget {
  const { target } = resolved;
  // A view is a target of diff only; checkout and restore take what the view was made from.
  if (typeof target === 'object' && 'readOnly' in target) return target.head;
  return target;
}

function runCheckout(harness: Harness, op: Extract<Op, { kind: 'checkout' }>, label: string): void {
  const resolved = resolve(harness, op.target, label);
  const target = engineTarget(resolved);
  if ('code' in resolved) {
    expect(
      capture(() => harness.cart.checkout(target)),
      label,
    ).toEqual({ code: resolved.code });
    return;
  }
  const moment = harness.world.moments[resolved.moment] as Moment;
  const view = harness.cart.checkout(target);
  expectState(view, moment.state, `${label} checkout of moment ${resolved.moment}`);
  expect(view.readOnly).toBe(true);
  expect(capture(() => view.createFile('/z', 'z'))).toEqual({ code: 'READ_ONLY' });
  const stats = view.stats();
  const files = [...moment.state.values()].filter((entry) => entry.kind === 'file').length;
  expect({ files: stats.fileCount, directories: stats.directoryCount, head: stats.head }).toEqual({
    files,
    directories: moment.state.size - files,
    head: view.head,
  });
  expect(view.head).toBeLessThanOrEqual(harness.cart.head);
  if (stats.checkpointOffset > 0) reached.checkoutFromRoot++;
  if (typeof target === 'string') expect(view.snapshot).toBe(target);
  if (typeof target === 'number' && op.target.by === 'head') expect(view.head).toBe(target);
  if (op.keep) {
    harness.views.push({ view, moment: resolved.moment, headWhenMade: harness.cart.head });
    if (harness.views.length > VIEWS_KEPT_MAX) harness.views.shift();
  }
}

function runRestore(harness: Harness, op: Extract<Op, { kind: 'restore' }>, label: string): void {
  const { cart, world } = harness;
  const resolved = resolve(harness, op.target, label);
  const target = engineTarget(resolved);
  const headBefore = cart.head;
  if ('code' in resolved) {
    expect(
      capture(() => cart.restoreSnapshot(target)),
      label,
    ).toEqual({ code: resolved.code });
    expect(cart.head).toBe(headBefore);
    return;
  }
  const targetState = (world.moments[resolved.moment] as Moment).state;
  const draft = world.draft(false);
  const kindChanged = [...targetState].some(
    ([path, entry]) => world.current.has(path) && world.current.get(path)?.kind !== entry.kind,
  );
  const changedCount = draft.restore(targetState);
  const result = cart.restoreSnapshot(target);
  world.commit(cart.head, draft);
  expect(result.changedCount, `${label}: entries the restore changed`).toBe(changedCount);
  expect(result.head).toBe(cart.head);
  expect(result.snapshot).toBe(typeof target === 'string' ? target : null);
  expect(result.targetHead).toBeLessThanOrEqual(headBefore);
  if (changedCount > 0) reached.restoreWithChanges++;
  else reached.restoreNothing++;
  if (kindChanged) reached.restoreKindChange++;
  expectState(cart, world.current, `${label}: the head after the restore`);
  expect(cart.diff(target), `${label}: nothing differs from the target`).toEqual([]);
}

function runDiff(harness: Harness, op: Extract<Op, { kind: 'diff' }>, label: string): void {
  const { cart, world } = harness;
  const from = resolve(harness, op.from, `${label} from`);
  const to = op.to === null ? undefined : resolve(harness, op.to, `${label} to`);
  const options = { prefix: op.prefix };
  const actual = capture(() => cart.diff(from.target, to?.target, options));
  // Which of two bad targets is reported first is not promised: either code will do.
  const codes = [from, to].flatMap((resolved) =>
    resolved !== undefined && 'code' in resolved ? [resolved.code] : [],
  );
  if (codes.length > 0) {
    expect(codes, `${label}: ${JSON.stringify(actual)}`).toContain(
      'code' in actual ? actual.code : 'no error',
    );
    return;
  }
  const stateOf = (resolved: Resolved | undefined): State =>
    resolved === undefined || 'code' in resolved
      ? world.current
      : (world.moments[resolved.moment] as Moment).state;
  const modelEntries = modelDiff(stateOf(from), stateOf(to), op.prefix);
  expect(actual, `${label}: diff under ${op.prefix}`).toEqual({ ok: modelEntries });
  if (modelEntries.length > 0) reached.diffNonEmpty++;
}

function runHistory(harness: Harness, op: Extract<Op, { kind: 'history' }>, label: string): void {
  const changed = [...harness.world.versions.keys()].sort();
  checkHistoryOf(harness, op.path, op.limit, label);
  checkHistoryOf(harness, changed[op.pick % changed.length] as string, op.limit, label);
  // And a path a move changed, if any: moves are rarer than writes, their chains matter as much.
  const moved = changed.filter((path) =>
    harness.world.versions.get(path)?.some((version) => version.change.startsWith('moved-')),
  );
  if (moved.length > 0) {
    checkHistoryOf(harness, moved[op.pick % moved.length] as string, op.limit, label);
  }
}

function checkHistoryOf(
  harness: Harness,
  path: string,
  limitGiven: number | null,
  label: string,
): void {
  const all = checkedHistory(harness, path, label);
  if (all.some((version) => version.change === 'restored')) reached.historyWithRestore++;
  if (all.some((version) => version.change.startsWith('moved-'))) reached.historyWithMove++;
  // A limit that cuts right after a deletion is the case that needs one more record read.
  const limits = new Set<number>(limitGiven === null ? [] : [limitGiven]);
  all.forEach((version, index) => {
    if (version.change === 'deleted') limits.add(index + 1);
  });
  for (const limit of limits) {
    const limited = harness.cart.history(path, { limit });
    expect(limited, `${label}: the newest ${limit} versions`).toEqual(all.slice(0, limit));
    if (limit < all.length && all[limit - 1]?.change === 'deleted') reached.historyCutAtDeletion++;
  }
}

/** Runs one operation on the engine and the draft; the two outcomes must agree. */
function runLeaf(cart: Cartridge, draft: Draft, op: LeafOp, label: string): void {
  let actual: Outcome;
  let predicted: Outcome;
  switch (op.kind) {
    case 'createFile':
    case 'writeFile':
    case 'appendFile': {
      const bytes = bytesOf(op.content);
      const content = op.content.kind === 'text' ? op.content.text : Buffer.from(bytes);
      actual = capture(() => cart[op.kind](op.path, content));
      predicted = draft[op.kind](op.path, bytes);
      break;
    }
    case 'deleteFile':
      actual = capture(() => cart.deleteFile(op.path));
      predicted = draft.deleteFile(op.path);
      break;
    case 'createDir':
      actual = capture(() => cart.createDir(op.path, { recursive: op.recursive }));
      predicted = draft.createDir(op.path, op.recursive);
      break;
    case 'rename':
      actual = capture(() => cart.rename(op.path, op.target));
      predicted = draft.rename(op.path, op.target);
      if ('ok' in predicted && draft.entries.get(op.target)?.kind === 'directory') {
        reached.directoryMoved++;
      }
      break;
  }
  expect(actual, `${label}: ${describeOp(op)}`).toEqual(predicted);
}

/** Runs a draft's operations as one commit (or none, when they change nothing). */
function commitDraft(
  harness: Harness,
  label: string,
  body: (draft: Draft) => void,
  abort = false,
): void {
  const { cart, world } = harness;
  const headBefore = cart.head;
  const draft = world.draft(true);
  let aborted = false;
  try {
    cart.transaction(() => {
      body(draft);
      if (abort) throw new AbortTransaction();
    });
  } catch (error) {
    if (!(error instanceof AbortTransaction)) throw error;
    aborted = true;
  }
  expect(aborted, `${label}: aborted`).toBe(abort);
  if (abort || !draft.changed) {
    expect(cart.head, `${label}: nothing committed`).toBe(headBefore);
    return;
  }
  expect(cart.head, `${label}: one commit`).toBeGreaterThan(headBefore);
  world.commit(cart.head, draft);
}

function runTransaction(
  harness: Harness,
  steps: readonly LeafOp[],
  abort: boolean,
  label: string,
): void {
  const body = (draft: Draft): void =>
    steps.forEach((step, index) => runLeaf(harness.cart, draft, step, `${label} step ${index}`));
  commitDraft(harness, label, body, abort);
}

function runBulk(
  harness: Harness,
  op: Extract<Op, { kind: 'bulk' | 'bulkDelete' }>,
  label: string,
): void {
  const names: string[] = [];
  const steps: LeafOp[] = [];
  if (op.kind === 'bulk') {
    for (let index = 0; index < op.count; index++) {
      const path = `${BULK_DIRECTORY}/f${String(index).padStart(4, '0')}`;
      const exists = harness.world.current.get(path)?.kind === 'file';
      const content: ContentSpec = { kind: 'text', text: `${op.variant}:${index}` };
      steps.push({ kind: exists ? 'writeFile' : 'createFile', path, content });
      names.push(path);
    }
    if (op.count >= 60) reached.multiPageIndex++;
  } else {
    for (const path of childrenIn(harness.world.current, BULK_DIRECTORY)) {
      steps.push({ kind: 'deleteFile', path: `${BULK_DIRECTORY}/${path}` });
    }
    steps.push({ kind: 'deleteFile', path: BULK_DIRECTORY });
  }
  runTransaction(harness, steps, false, label);
}

/** Steps that turn the entry at `path` into the other kind (or create it as a file). */
function flipSteps(state: State, path: string): LeafOp[] {
  const content: ContentSpec = { kind: 'text', text: `was ${state.get(path)?.kind ?? 'absent'}` };
  const entry = state.get(path);
  if (entry === undefined) return [{ kind: 'createFile', path, content }];
  if (entry.kind === 'file') {
    return [
      { kind: 'deleteFile', path },
      { kind: 'createDir', path, recursive: false },
      { kind: 'createFile', path: `${path}/c`, content },
    ];
  }
  const children = childrenIn(state, path);
  if (children.some((name) => state.get(`${path}/${name}`)?.kind !== 'file')) return [];
  return [
    ...children.map((name): LeafOp => ({ kind: 'deleteFile', path: `${path}/${name}` })),
    { kind: 'deleteFile', path },
    { kind: 'createFile', path, content },
  ];
}

function reopen(harness: Harness, label: string): void {
  const views = harness.views;
  harness.cart.close();
  for (const kept of views) {
    expect(
      capture(() => kept.view.listDir('/')),
      `${label}: a view of a closed cartridge`,
    ).toEqual({
      code: 'CARTRIDGE_CLOSED',
    });
  }
  harness.views = [];
  harness.cart = Cartridge.open(harness.location, optionsOf(harness));
  harness.world.moved(harness.cart.head);
  if (harness.world.moments.length > 3) reached.reopenWithHistory++;
  expectState(harness.cart, harness.world.current, `${label}: after reopen`);
}

function runOp(harness: Harness, op: Op, label: string): void {
  const { world } = harness;
  const headBefore = harness.cart.head;
  switch (op.kind) {
    case 'createFile':
    case 'writeFile':
    case 'appendFile':
    case 'deleteFile':
    case 'createDir': {
      const draft = world.draft(false);
      runLeaf(harness.cart, draft, op, label);
      if (draft.changed) world.commit(harness.cart.head, draft);
      else expect(harness.cart.head, `${label}: nothing committed`).toBe(headBefore);
      break;
    }
    case 'transaction':
      runTransaction(harness, op.steps, op.abort, label);
      break;
    case 'bulk':
    case 'bulkDelete':
      runBulk(harness, op, label);
      break;
    case 'flipKind':
      runTransaction(harness, flipSteps(world.current, op.path), false, label);
      break;
    case 'createSnapshot': {
      const exists = world.snapshots.has(op.name);
      const outcome = capture(() => harness.cart.createSnapshot(op.name));
      if (exists) {
        expect(outcome, label).toEqual({ code: 'SNAPSHOT_EXISTS' });
        break;
      }
      const moment = world.commit(harness.cart.head, undefined);
      world.snapshots.set(op.name, moment);
      const info = (outcome as { ok: { name: string; offset: number } }).ok;
      expect(info.name).toBe(op.name);
      expect(info.offset).toBeGreaterThanOrEqual(headBefore);
      break;
    }
    case 'deleteSnapshot': {
      const outcome = capture(() => harness.cart.deleteSnapshot(op.name));
      if (!world.snapshots.has(op.name)) {
        expect(outcome, label).toEqual({ code: 'SNAPSHOT_NOT_FOUND' });
        break;
      }
      expect(outcome, label).toEqual({ ok: undefined });
      world.snapshots.delete(op.name);
      world.commit(harness.cart.head, undefined);
      break;
    }
    case 'checkout':
      runCheckout(harness, op, label);
      break;
    case 'restore':
      runRestore(harness, op, label);
      break;
    case 'diff':
      runDiff(harness, op, label);
      break;
    case 'history':
      runHistory(harness, op, label);
      break;
    case 'tick':
      harness.time.ms += op.deltaMs;
      break;
    case 'checkpoint':
      harness.cart.checkpoint();
      world.moved(harness.cart.head);
      break;
    case 'verify':
      expect(harness.cart.verify().ok, `${label}: verify`).toBe(true);
      break;
    case 'reopen':
      reopen(harness, label);
      break;
    case 'recheckView': {
      // A view stays what it was while the head moves on.
      for (const kept of harness.views) {
        const state = (world.moments[kept.moment] as Moment).state;
        expectState(kept.view, state, `${label}: a view kept since moment ${kept.moment}`);
        if (harness.cart.head > kept.headWhenMade) reached.viewOutlivedCommits++;
      }
      break;
    }
  }
  // An automatic checkpoint after a commit moves the head without changing the state.
  world.moved(harness.cart.head);
  const root = harness.cart.stats().checkpointOffset;
  if (root > 0 && !world.roots.includes(root)) world.roots.push(root);
  expect(harness.cart.head, `${label}: the model follows the head`).toBe(world.currentHead);
  expect(
    harness.cart.listSnapshots().map((snapshot) => snapshot.name),
    `${label}: snapshots`,
  ).toEqual([...world.snapshots.keys()].sort());
}

function runScenario(config: RunConfig, ops: readonly Op[]): void {
  const directory = mkdtempSync(join(tmpdir(), 'cartridge-time-travel-'));
  const location = join(directory, 'time.cart');
  const time = { ms: START_MS };
  let monotonicMs = 0;
  const clock = { now: () => time.ms, nowMs: () => ++monotonicMs };
  const cart = Cartridge.create(location, optionsOf({ config, clock }));
  const world = new World(time, START_MS, cart.head);
  const harness: Harness = { cart, world, location, config, clock, time, views: [] };
  let finished = false;
  try {
    ops.forEach((op, index) => runOp(harness, op, `op ${index}`));
    expect(harness.cart.verify().ok, 'end: verify').toBe(true);
    expectState(harness.cart, world.current, 'end');
    finished = true;
  } finally {
    try {
      harness.cart.close();
    } catch (error) {
      // After a failed run, the failure already reported matters more than this one.
      if (finished) throw error;
    }
    rmSync(directory, { recursive: true, force: true });
  }
}

// ---- the properties -----------------------------------------------------------------------

describe('time travel model-based property', () => {
  it('checkouts, restores, diffs and histories agree with the model at every moment', () => {
    fc.assert(
      fc.property(
        configArbitrary,
        fc.array(opArbitrary, { minLength: 1, maxLength: 60, size: 'max' }),
        runScenario,
      ),
      {
        numRuns: NUM_RUNS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(REPLAY_PATH === undefined ? {} : { path: REPLAY_PATH }),
      },
    );
    propertyHeld = true;
  });

  it('reaches every situation it is meant to test', (context) => {
    if (process.env['PROPERTY_DEBUG'] !== undefined) console.log(JSON.stringify(reached));
    // Only meaningful after a complete random run long enough to reach everything.
    const replaying = SEED !== undefined || REPLAY_PATH !== undefined;
    if (!propertyHeld || NUM_RUNS < DEFAULT_RUNS || replaying) context.skip();
    for (const [situation, count] of Object.entries(reached)) {
      expect(count, situation).toBeGreaterThan(0);
    }
  });
});
