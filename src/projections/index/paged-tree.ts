import { assert } from '../../assert.js';
import { CartridgeError } from '../../errors.js';
import { INDEX_DEPTH_MAX, INDEX_PAGE_TARGET_BYTES } from '../../limits.js';
import type { UndoLog } from '../undo-log.js';
import { childIndexOf, lowerBound } from './key-search.js';
import { FlushQueue } from './flush-queue.js';
import {
  type BranchNode,
  type Child,
  childAt,
  childIndexIn,
  CHILD_REF_BYTES,
  compareKeyAt,
  entryBytes,
  type IndexNode,
  isNode,
  keyAt,
  keyCountOf,
  type LeafNode,
  lowerBoundIn,
  PAGE_OVERHEAD_BYTES,
  type PageRef,
  placedFor,
  rememberPlacement,
  separatorBytes,
  valueAt,
  writableCopyOf,
} from './index-page.js';

/**
 * A copy-on-write B+tree of string keys and byte values whose pages live in the journal.
 *
 * Lookups walk from the root through pages the `PageSource` loads (through the page cache).
 * A change copies the pages on its path into dirty in-memory nodes; `flush` writes the dirty
 * nodes bottom-up as new pages and returns the new root, leaving every older root readable.
 * The shape of the tree (where pages split and merge) depends only on the sequence of changes,
 * never on when pages were flushed or reloaded, so replaying a journal from its genesis gives
 * the same pages as the checkpoints that were written along the way.
 *
 * Changes inside a transaction push undo steps that restore each touched node's arrays, so an
 * aborted transaction leaves the exact structure it found (not just the same keys).
 */

/** Where clean pages come from: the journal, through the page cache. */
export interface PageSource {
  load(ref: PageRef): IndexNode;
}

/**
 * Where a page sits: the key range its parent gives it, and its depth. A page read from disk
 * must lie inside its range (and a leaf below the root must not be empty): together with
 * children always lying before their parents, that makes a forged page that is referred to
 * twice, or a cycle, `JOURNAL_CORRUPT` instead of an answer with every name repeated.
 */
interface Bounds {
  readonly low: string | undefined;
  readonly high: string | undefined;
  readonly depth: number;
}

const ROOT_BOUNDS: Bounds = { low: undefined, high: undefined, depth: 0 };

function childBounds(bounds: Bounds, keys: readonly string[], index: number): Bounds {
  return {
    low: index === 0 ? bounds.low : keys[index - 1],
    high: index === keys.length ? bounds.high : keys[index],
    depth: bounds.depth + 1,
  };
}

function misplaced(offset: number, detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `index page ${detail}`, { offset });
}

// Runs on every page a descent passes, cached or not, so it makes no closure.
function checkPlacement(node: IndexNode, bounds: Bounds, offset: number): void {
  checkPlacementIn(node, bounds.low, bounds.high, bounds.depth, offset);
}

/** `checkPlacement` with the range as arguments: what the point lookup uses (no object). */
function checkPlacementIn(
  node: IndexNode,
  low: string | undefined,
  high: string | undefined,
  depth: number,
  offset: number,
): void {
  if (placedFor(node, low, high, depth)) return;
  if (depth > INDEX_DEPTH_MAX) throw misplaced(offset, 'is deeper than an index can be');
  const count = keyCountOf(node);
  if (count === 0) {
    if (node.kind === 'leaf' && depth > 0)
      throw misplaced(offset, 'is an empty leaf below the root');
    return;
  }
  if (low !== undefined && compareKeyAt(node, 0, low) < 0) {
    throw misplaced(offset, 'holds keys outside its range');
  }
  if (high !== undefined && compareKeyAt(node, count - 1, high) >= 0) {
    throw misplaced(offset, 'holds keys outside its range');
  }
  rememberPlacement(node, low, high, depth);
}

/** How many recent lookups a tree remembers (see `PagedTree.get`). */
const RECENT_LOOKUPS = 4;

/**
 * Entries the flush queue may hold beyond twice the dirty nodes before its stale ones are
 * dropped (see `PagedTree.touch`).
 */
const FLUSH_QUEUE_SLACK = 1024;

/** A page below this size is merged with a sibling when the two fit in one page. */
const MERGE_BELOW_BYTES = INDEX_PAGE_TARGET_BYTES / 4;

function emptyLeaf(): LeafNode {
  return { kind: 'leaf', keys: [], values: [], sizeBytes: PAGE_OVERHEAD_BYTES, changedAt: 0 };
}

function branchSizeOf(keys: readonly string[]): number {
  let sizeBytes = PAGE_OVERHEAD_BYTES + CHILD_REF_BYTES;
  for (const key of keys) sizeBytes += separatorBytes(key);
  return sizeBytes;
}

function leafSizeOf(keys: readonly string[], values: readonly Buffer[]): number {
  let sizeBytes = PAGE_OVERHEAD_BYTES;
  for (let index = 0; index < keys.length; index++) {
    sizeBytes += entryBytes(keys[index] as string, values[index] as Buffer);
  }
  return sizeBytes;
}

/** The first index at which the entries before it hold at least half of the page's bytes. */
function splitIndexOf(sizes: readonly number[]): number {
  let total = 0;
  for (const size of sizes) total += size;
  let running = 0;
  for (let index = 0; index < sizes.length - 1; index++) {
    running += sizes[index] as number;
    if (running * 2 >= total) return index + 1;
  }
  return sizes.length - 1;
}

/**
 * `splitIndexOf`, or the index before it when the entries before `splitIndexOf` (with the page's
 * fixed bytes) are over the target and at least two would stay on the left.
 */
function fittingSplitIndexOf(sizes: readonly number[], overheadBytes: number): number {
  const at = splitIndexOf(sizes);
  if (at < 2) return at;
  let leftBytes = overheadBytes;
  for (let index = 0; index < at; index++) leftBytes += sizes[index] as number;
  return leftBytes > INDEX_PAGE_TARGET_BYTES ? at - 1 : at;
}

interface WritablePath {
  readonly branches: BranchNode[];
  /** The range of each branch on the path. */
  readonly bounds: Bounds[];
  readonly indices: number[];
  readonly leaf: LeafNode;
}

export interface FlushedPage {
  readonly ref: PageRef;
  readonly node: IndexNode;
}

export class PagedTree {
  private root: Child;
  private dirtyCountValue: number;
  /** Counts changes of dirty nodes: a node's `changedAt`, to flush the coldest first. */
  private changeCount = 0;
  /** The dirty nodes, coldest first (see `flushSome`). */
  private readonly flushQueue = new FlushQueue();
  /**
   * The last page the last full flush wrote (its root), or the root the tree was opened at:
   * every page at or before it was clean at that flush; pages after it were written since by
   * the trickle.
   */
  private settledEndOffset: number;
  /** Copies made of settled pages since `takeSettledCopyCount` was last called. */
  private settledCopyCountValue = 0;

  constructor(
    private readonly source: PageSource,
    private readonly undo: UndoLog,
    root?: PageRef,
  ) {
    this.root = root ?? emptyLeaf();
    this.dirtyCountValue = root === undefined ? 1 : 0;
    this.settledEndOffset = root?.offset ?? -1;
  }

  /**
   * How many pages changes copied for writing since the last call, counting only pages that
   * were clean at the last full flush: the copy-on-write those changes made for the first
   * time in this flush interval, not pages the trickle wrote and a change dirtied again. The
   * trickle lets a commit write as many pages as it copied this way (see `IndexTrickle`).
   */
  takeSettledCopyCount(): number {
    const count = this.settledCopyCountValue;
    this.settledCopyCountValue = 0;
    return count;
  }

  /**
   * Whether a page reference means the same page in both trees: true when they read pages
   * from one source (one journal). Offsets of two journals can coincide for different pages.
   */
  sharesPagesWith(other: PagedTree): boolean {
    return this.source === other.source;
  }

  /** Dirty pages waiting for the next flush. */
  get dirtyCount(): number {
    return this.dirtyCountValue;
  }

  /** The root as of the last flush, or undefined while the root is dirty. */
  get rootRef(): PageRef | undefined {
    return isNode(this.root) ? undefined : this.root;
  }

  /** A child: dirty in memory, or loaded and checked against where its parent puts it. */
  private nodeAt(child: Child, bounds: Bounds): IndexNode {
    if (isNode(child)) return child;
    const node = this.source.load(child);
    checkPlacement(node, bounds, child.offset);
    return node;
  }

  /*
   * The recent lookups. Creating a file looks the same few keys up several times (its entry,
   * its tombstone and its parent, in the write path's checks and again in the catalog's fold),
   * and a descent of a large tree is the largest part of the fold. The answers are remembered
   * exactly: they are dropped whenever the content may have changed, which is on every `set`
   * or `delete` (counted by `contentChangeCount`) and on every rollback of the undo log (undo
   * steps restore nodes directly). Flushes change where pages live, not what the tree holds.
   * A remembered answer was given by a full descent, page checks included, over the same
   * pages, so the fold's result (and what it refuses as JOURNAL_CORRUPT) is unchanged.
   */
  private readonly recentKeys: (string | undefined)[] = new Array<string | undefined>(
    RECENT_LOOKUPS,
  ).fill(undefined);
  private readonly recentValues: (Buffer | undefined)[] = new Array<Buffer | undefined>(
    RECENT_LOOKUPS,
  ).fill(undefined);
  private recentNextSlot = 0;
  private recentChangeCount = 0;
  private recentRollbackCount = 0;
  /** Counts the calls that may change the tree's content (see the recent lookups). */
  private contentChangeCount = 0;

  /**
   * A number that differs after every call that may have changed the tree's content and after
   * every rollback (the two counts the recent lookups are dropped by; both only grow, so their
   * sum moves whenever either does). A memory of lookups kept outside the tree compares it to
   * know whether its answers still hold.
   */
  get contentStamp(): number {
    return this.contentChangeCount + this.undo.rollbackCount;
  }

  /*
   * The remembered paths: the dirty path a lookup walked, so that a `set` of the same key right
   * after (the catalog's fold sets the entries the write path just looked up) does not search
   * the branches again. A path is the tree's until a node is put in another's place or a
   * branch's separators change, which `setRoot`, `replaceChild` and `snapshot` count, or a
   * rollback; entries coming and going in a leaf move no key to another leaf.
   */
  private readonly pathKeys: (string | undefined)[] = new Array<string | undefined>(
    RECENT_LOOKUPS,
  ).fill(undefined);
  private readonly pathLeaves: (LeafNode | undefined)[] = new Array<LeafNode | undefined>(
    RECENT_LOOKUPS,
  ).fill(undefined);
  private readonly pathBranches: BranchNode[][] = Array.from({ length: RECENT_LOOKUPS }, () => []);
  private readonly pathIndices: number[][] = Array.from({ length: RECENT_LOOKUPS }, () => []);
  private readonly pathDepths: number[] = new Array<number>(RECENT_LOOKUPS).fill(0);
  private pathNextSlot = 0;
  private pathStructureCount = 0;
  private pathRollbackCount = 0;
  /** Counts changes of the tree's structure (see the remembered paths). */
  private structureChangeCount = 0;

  /*
   * The point lookup is what a read of a file pays for, most of it right after open, in code V8
   * has not optimised yet: the descent keeps its range in locals instead of a bounds object per
   * level, and checks a loaded page's placement without a call through `nodeAt`. What it checks
   * is exactly what `nodeAt` checks.
   */
  get(key: string): Buffer | undefined {
    const recentKeys = this.recentKeys;
    if (
      this.recentChangeCount === this.contentChangeCount &&
      this.recentRollbackCount === this.undo.rollbackCount
    ) {
      for (let slot = 0; slot < RECENT_LOOKUPS; slot++) {
        if (recentKeys[slot] === key) return this.recentValues[slot];
      }
    } else {
      recentKeys.fill(undefined);
      this.recentValues.fill(undefined);
      this.recentChangeCount = this.contentChangeCount;
      this.recentRollbackCount = this.undo.rollbackCount;
    }
    const value = this.descend(key);
    const slot = this.recentNextSlot;
    recentKeys[slot] = key;
    this.recentValues[slot] = value;
    this.recentNextSlot = slot === RECENT_LOOKUPS - 1 ? 0 : slot + 1;
    return value;
  }

  private descend(key: string): Buffer | undefined {
    const root = this.root;
    let node = isNode(root) ? root : this.source.load(root);
    if (!isNode(root)) checkPlacementIn(node, undefined, undefined, 0, root.offset);
    // The path is written into the next path slot while every node on it is dirty.
    this.pathsCurrent();
    const slot = this.pathNextSlot;
    this.pathKeys[slot] = undefined;
    const branches = this.pathBranches[slot] as BranchNode[];
    const indices = this.pathIndices[slot] as number[];
    let dirty = isNode(root);
    let low: string | undefined;
    let high: string | undefined;
    let depth = 0;
    while (node.kind === 'branch') {
      // A page read from disk is searched in its bytes; only the two separators that bound
      // the child are decoded, for the child's placement check.
      const index = childIndexIn(node, key);
      if (index > 0) low = keyAt(node, index - 1);
      if (index < keyCountOf(node)) high = keyAt(node, index);
      if (dirty) {
        branches[depth] = node;
        indices[depth] = index;
      }
      depth++;
      const child = childAt(node, index) as Child;
      if (isNode(child)) {
        node = child;
      } else {
        dirty = false;
        node = this.source.load(child);
        checkPlacementIn(node, low, high, depth, child.offset);
      }
    }
    if (dirty) {
      this.pathKeys[slot] = key;
      this.pathLeaves[slot] = node;
      this.pathDepths[slot] = depth;
      this.pathNextSlot = slot === RECENT_LOOKUPS - 1 ? 0 : slot + 1;
    }
    const index = lowerBoundIn(node, key);
    return index < keyCountOf(node) && compareKeyAt(node, index, key) === 0
      ? valueAt(node, index)
      : undefined;
  }

  /**
   * Visits the entries with `start <= key < end` in key order; the visitor returns false to
   * stop early.
   */
  range(start: string, end: string, visit: (key: string, value: Buffer) => boolean | void): void {
    this.walk(this.root, ROOT_BOUNDS, start, end, visit);
  }

  private walk(
    child: Child,
    bounds: Bounds,
    start: string,
    end: string,
    visit: (key: string, value: Buffer) => boolean | void,
  ): boolean {
    const node = this.nodeAt(child, bounds);
    if (node.kind === 'leaf') {
      for (let index = lowerBound(node.keys, start); index < node.keys.length; index++) {
        const key = node.keys[index] as string;
        if (key >= end) return false;
        if (visit(key, valueAt(node, index) as Buffer) === false) return false;
      }
      return true;
    }
    for (let index = childIndexOf(node.keys, start); index <= node.keys.length; index++) {
      if (index > 0 && (node.keys[index - 1] as string) >= end) return false;
      const next = childBounds(bounds, node.keys, index);
      if (!this.walk(childAt(node, index) as Child, next, start, end, visit)) return false;
    }
    return true;
  }

  /** The entry with the greatest key in `start <= key < end`, if any (a floor lookup). */
  last(start: string, end: string): [string, Buffer] | undefined {
    return this.lastIn(this.root, ROOT_BOUNDS, start, end);
  }

  private lastIn(
    child: Child,
    bounds: Bounds,
    start: string,
    end: string,
  ): [string, Buffer] | undefined {
    const node = this.nodeAt(child, bounds);
    if (node.kind === 'leaf') {
      const index = lowerBound(node.keys, end) - 1;
      const key = node.keys[index];
      if (key === undefined || key < start) return undefined;
      return [key, node.values[index] as Buffer];
    }
    // From the child that holds `end` leftwards, until a child lies wholly below `start`.
    for (let index = childIndexOf(node.keys, end); index >= 0; index--) {
      if (index < node.keys.length && (node.keys[index] as string) <= start) return undefined;
      const next = childBounds(bounds, node.keys, index);
      const found = this.lastIn(node.children[index] as Child, next, start, end);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * The root and a way to load children with their placement checked: what a walk over two
   * trees at once (the diff) needs to skip the pages they share.
   */
  get rootChild(): Child {
    return this.root;
  }

  /** The node of a child at the given depth and range, loaded (and checked) if on disk. */
  loadChild(
    child: Child,
    low: string | undefined,
    high: string | undefined,
    depth: number,
  ): IndexNode {
    return this.nodeAt(child, { low, high, depth });
  }

  set(key: string, value: Buffer): void {
    this.contentChangeCount++;
    // A path a lookup of the key just walked, all of it dirty, is the one `writablePath`
    // would walk, and it would change nothing on the way (see the remembered paths).
    const slot = this.rememberedPathOf(key);
    let leaf: LeafNode;
    let branches: readonly BranchNode[];
    let indices: readonly number[];
    let depth: number;
    if (slot >= 0) {
      leaf = this.pathLeaves[slot] as LeafNode;
      branches = this.pathBranches[slot] as BranchNode[];
      indices = this.pathIndices[slot] as number[];
      depth = this.pathDepths[slot] as number;
    } else {
      const path = this.writablePath(key);
      leaf = path.leaf;
      branches = path.branches;
      indices = path.indices;
      depth = path.branches.length;
    }
    const index = lowerBound(leaf.keys, key);
    if (leaf.keys[index] === key) {
      this.replaceValue(leaf, index, value);
    } else {
      this.insertEntry(leaf, index, key, value);
    }
    if (leaf.sizeBytes > INDEX_PAGE_TARGET_BYTES && leaf.keys.length >= 2) {
      this.split(leaf, branches, indices, depth);
    }
  }

  /**
   * The slot of a remembered path to `key` that is still the tree's, or -1. Paths are dropped
   * whenever a node is put in another's place or a branch's separators change (the structure
   * count: `setRoot`, `replaceChild`, `snapshot`), and on rollbacks; a change of a leaf's
   * entries moves no key to another leaf, so it leaves them.
   */
  private rememberedPathOf(key: string): number {
    if (!this.pathsCurrent()) return -1;
    const pathKeys = this.pathKeys;
    for (let slot = 0; slot < RECENT_LOOKUPS; slot++) {
      if (pathKeys[slot] === key) return slot;
    }
    return -1;
  }

  /** Whether the remembered paths are the tree's; if not, forgets them. */
  private pathsCurrent(): boolean {
    if (
      this.pathStructureCount === this.structureChangeCount &&
      this.pathRollbackCount === this.undo.rollbackCount
    ) {
      return true;
    }
    this.pathKeys.fill(undefined);
    this.pathStructureCount = this.structureChangeCount;
    this.pathRollbackCount = this.undo.rollbackCount;
    return false;
  }

  delete(key: string): boolean {
    this.contentChangeCount++;
    const path = this.writablePath(key);
    const leaf = path.leaf;
    const index = lowerBound(leaf.keys, key);
    if (leaf.keys[index] !== key) return false;
    this.removeEntry(leaf, index);
    this.rebalance(path, leaf);
    return true;
  }

  /**
   * Writes every dirty node, children before parents, through `write` (which stages a record
   * and returns where it will live), and returns the written pages. Afterwards the tree holds
   * no dirty node and its root is a reference.
   */
  flush(write: (node: IndexNode) => PageRef): FlushedPage[] {
    const written: FlushedPage[] = [];
    if (!isNode(this.root)) return written;
    const rootRef = this.flushNode(this.root, write, written);
    this.setRoot(rootRef);
    this.setDirtyCount(0);
    // Every page is settled now, and nothing waits in the queue; an abort puts both back.
    const settledBefore = this.settledEndOffset;
    this.settledEndOffset = rootRef.offset;
    const restoreQueue = this.flushQueue.clear();
    if (this.undo.recording) {
      this.undo.push(() => {
        this.settledEndOffset = settledBefore;
        restoreQueue();
      });
    }
    return written;
  }

  private flushNode(
    node: IndexNode,
    write: (node: IndexNode) => PageRef,
    written: FlushedPage[],
  ): PageRef {
    if (node.kind === 'branch') {
      for (let index = 0; index < node.children.length; index++) {
        const child = node.children[index] as Child;
        if (!isNode(child)) continue;
        this.replaceChild(node, index, this.flushNode(child, write, written));
      }
    }
    const ref = write(node);
    written.push({ ref, node });
    return ref;
  }

  /**
   * Writes up to `count` dirty pages whose children are all written (leaves, mostly), coldest
   * first, without touching the root: the steady trickle that keeps a checkpoint small. The
   * engine calls it inside ordinary commits, so the cost of copy-on-write is paid a page or
   * two at a time instead of in one long stall.
   */
  flushSome(count: number, write: (node: IndexNode) => PageRef): FlushedPage[] {
    const written: FlushedPage[] = [];
    while (written.length < count) {
      const node = this.flushQueue.shift();
      if (node === undefined) break;
      // A branch waits for its children: writing one of them changes it, which queues it again.
      if (node.kind === 'branch' && node.children.some(isNode)) continue;
      const place = this.placeOf(node);
      if (place === undefined) continue;
      const ref = write(node);
      this.replaceChild(place.parent, place.index, ref);
      this.setDirtyCount(this.dirtyCountValue - 1);
      // An abort puts the node back in the tree, and so back in the queue.
      if (this.undo.recording) {
        this.undo.push(() => this.flushQueue.push(node, node.changedAt as number));
      }
      written.push({ ref, node });
    }
    return written;
  }

  /**
   * Where a dirty node sits below the root: its parent and its index there, found by
   * descending through dirty nodes along its first key (every key of a node leads to it).
   * Undefined for the root, for an empty node, and for a node no longer in the tree.
   */
  private placeOf(node: IndexNode): { parent: BranchNode; index: number } | undefined {
    const key = node.keys[0];
    let current = this.root;
    if (key === undefined || !isNode(current)) return undefined;
    let parent: BranchNode | undefined;
    let index = 0;
    while (current !== node) {
      if (current.kind === 'leaf') return undefined;
      parent = current;
      index = childIndexOf(current.keys, key);
      const child: Child | undefined = current.children[index];
      if (child === undefined || !isNode(child)) return undefined;
      current = child;
    }
    return parent === undefined ? undefined : { parent, index };
  }

  /**
   * Marks a dirty node changed, which makes it the hottest, and queues it. The queue holds one
   * entry per change at most; once it holds many more entries than there are dirty nodes (the
   * trickle reads it only when the dirty pages are many), the stale ones are dropped.
   */
  private touch(node: IndexNode): void {
    const stamp = ++this.changeCount;
    node.changedAt = stamp;
    this.flushQueue.push(node, stamp);
    if (this.flushQueue.length > 2 * this.dirtyCountValue + FLUSH_QUEUE_SLACK) {
      // The root is never trickled, so its entries go too.
      this.flushQueue.compact((queued) => this.placeOf(queued) !== undefined);
    }
  }

  // ---- structure --------------------------------------------------------------------------

  private setRoot(root: Child): void {
    this.structureChangeCount++;
    const before = this.root;
    this.root = root;
    this.undo.push(() => {
      this.root = before;
    });
  }

  private setDirtyCount(count: number): void {
    const before = this.dirtyCountValue;
    this.dirtyCountValue = count;
    this.undo.push(() => {
      this.dirtyCountValue = before;
    });
  }

  /** Records how to restore a node's arrays before it is changed in place. */
  private snapshot(node: IndexNode): void {
    this.structureChangeCount++;
    this.touch(node);
    if (!this.undo.recording) return;
    const keys = node.keys.slice();
    const sizeBytes = node.sizeBytes;
    if (node.kind === 'leaf') {
      const values = node.values.slice();
      this.undo.push(() => {
        node.keys = keys;
        node.values = values;
        node.sizeBytes = sizeBytes;
      });
    } else {
      const children = node.children.slice();
      this.undo.push(() => {
        node.keys = keys;
        node.children = children;
        node.sizeBytes = sizeBytes;
      });
    }
  }

  /**
   * Replaces one child of a dirty branch, recording how to put the old one back. Most changes
   * replace one slot (a child copied for writing, a child written by a flush): restoring the
   * slot is enough, where a snapshot of the whole arrays cost two copies of up to a hundred
   * entries per write. Undo runs in reverse order, so the slot is restored on whatever arrays a
   * later snapshot's undo put back, which hold the same entries as right after this change.
   */
  private replaceChild(parent: BranchNode, index: number, child: Child): void {
    this.structureChangeCount++;
    this.touch(parent);
    const before = parent.children[index] as Child;
    parent.children[index] = child;
    if (this.undo.recording) {
      this.undo.push(() => {
        parent.children[index] = before;
      });
    }
  }

  /** Replaces the value of an existing key of a dirty leaf, as `replaceChild` does a child. */
  /**
   * Inserts one entry into a dirty leaf, recording how to take it out again. The undo log is
   * unwound last change first, so at that point the leaf is as this left it and the entry is
   * still at `index`: a copy of the leaf's arrays per insert (two arrays of up to a hundred
   * entries, on every file created) is not needed.
   */
  private insertEntry(leaf: LeafNode, index: number, key: string, value: Buffer): void {
    this.touch(leaf);
    const sizeBytes = leaf.sizeBytes;
    leaf.keys.splice(index, 0, key);
    leaf.values.splice(index, 0, value);
    leaf.sizeBytes += entryBytes(key, value);
    if (this.undo.recording) {
      this.undo.push(() => {
        leaf.keys.splice(index, 1);
        leaf.values.splice(index, 1);
        leaf.sizeBytes = sizeBytes;
      });
    }
  }

  /** Removes one entry from a dirty leaf, recording how to put it back (see `insertEntry`). */
  private removeEntry(leaf: LeafNode, index: number): void {
    this.touch(leaf);
    const sizeBytes = leaf.sizeBytes;
    const key = leaf.keys[index] as string;
    const value = leaf.values[index] as Buffer;
    leaf.keys.splice(index, 1);
    leaf.values.splice(index, 1);
    leaf.sizeBytes -= entryBytes(key, value);
    if (this.undo.recording) {
      this.undo.push(() => {
        leaf.keys.splice(index, 0, key);
        leaf.values.splice(index, 0, value);
        leaf.sizeBytes = sizeBytes;
      });
    }
  }

  private replaceValue(leaf: LeafNode, index: number, value: Buffer): void {
    this.touch(leaf);
    const before = leaf.values[index] as Buffer;
    const sizeBytes = leaf.sizeBytes;
    leaf.values[index] = value;
    leaf.sizeBytes += value.length - before.length;
    if (this.undo.recording) {
      this.undo.push(() => {
        leaf.values[index] = before;
        leaf.sizeBytes = sizeBytes;
      });
    }
  }

  /** A dirty copy of a clean node, counted. */
  private copyOf(ref: PageRef, bounds: Bounds): IndexNode {
    const node = this.nodeAt(ref, bounds);
    this.setDirtyCount(this.dirtyCountValue + 1);
    if (ref.offset <= this.settledEndOffset) this.settledCopyCountValue++;
    return writableCopyOf(node);
  }

  private writableRoot(): IndexNode {
    if (isNode(this.root)) return this.root;
    const copy = this.copyOf(this.root, ROOT_BOUNDS);
    this.setRoot(copy);
    return copy;
  }

  /** The path from the root to the leaf for `key`, every node on it dirty. */
  private writablePath(key: string): WritablePath {
    const branches: BranchNode[] = [];
    const bounds: Bounds[] = [];
    const indices: number[] = [];
    let node = this.writableRoot();
    let nodeBounds = ROOT_BOUNDS;
    while (node.kind === 'branch') {
      const index = childIndexOf(node.keys, key);
      branches.push(node);
      bounds.push(nodeBounds);
      indices.push(index);
      nodeBounds = childBounds(nodeBounds, node.keys, index);
      node = this.writableChild(node, index, nodeBounds);
    }
    return { branches, bounds, indices, leaf: node };
  }

  /**
   * Splits an oversized leaf, then any branch the split made oversized, up to the root; the
   * leaf's path is `depth` branches and the child index taken in each.
   */
  private split(
    leaf: LeafNode,
    branches: readonly BranchNode[],
    indices: readonly number[],
    depth: number,
  ): void {
    let node: IndexNode = leaf;
    for (let level = depth; ; level--) {
      if (node.sizeBytes <= INDEX_PAGE_TARGET_BYTES || node.keys.length < 2) return;
      const { separators, rights } = this.splitNode(node);
      if (level === 0) {
        const newRoot: BranchNode = {
          kind: 'branch',
          keys: separators,
          children: [node, ...rights],
          sizeBytes: branchSizeOf(separators),
          changedAt: 0,
        };
        this.setDirtyCount(this.dirtyCountValue + 1);
        this.setRoot(newRoot);
        // A root of separators too long for one page is split in turn, under a new root.
        node = newRoot;
        level = 1;
        continue;
      }
      const parent = branches[level - 1] as BranchNode;
      const index = indices[level - 1] as number;
      this.snapshot(parent);
      parent.keys.splice(index, 0, ...separators);
      parent.children.splice(index + 1, 0, ...rights);
      for (const separator of separators) parent.sizeBytes += separatorBytes(separator);
      node = parent;
    }
  }

  /**
   * Splits `node` into itself and new right siblings until each holds at most a page's target
   * or a single key: one split by `splitOnce` almost always suffices, but entries of a third
   * of a page or more can leave a half over the target.
   */
  private splitNode(node: IndexNode): { separators: string[]; rights: IndexNode[] } {
    const pieces: IndexNode[] = [node];
    const separators: string[] = [];
    let index = 0;
    while (index < pieces.length) {
      const piece = pieces[index] as IndexNode;
      if (piece.sizeBytes <= INDEX_PAGE_TARGET_BYTES || piece.keys.length < 2) {
        index++;
        continue;
      }
      const { separator, right } = this.splitOnce(piece);
      pieces.splice(index + 1, 0, right);
      separators.splice(index, 0, separator);
    }
    return { separators, rights: pieces.slice(1) };
  }

  /**
   * Moves the upper half (by bytes) of `node` into a new right sibling. The half is the first
   * split point at which the entries before it hold at least half the bytes; when that leaves
   * the lower half over the page's target and the point before it does not, the point before
   * it. (Only that case differs from the first rule alone, so the pages of every journal that
   * never met it are the same as they were: see ARCHITECTURE 78.)
   */
  private splitOnce(node: IndexNode): { separator: string; right: IndexNode } {
    this.snapshot(node);
    this.setDirtyCount(this.dirtyCountValue + 1);
    if (node.kind === 'leaf') {
      const sizes = node.keys.map((key, index) => entryBytes(key, node.values[index] as Buffer));
      const at = fittingSplitIndexOf(sizes, PAGE_OVERHEAD_BYTES);
      const keys = node.keys.splice(at);
      const values = node.values.splice(at);
      node.sizeBytes = leafSizeOf(node.keys, node.values);
      const right: LeafNode = {
        kind: 'leaf',
        keys,
        values,
        sizeBytes: leafSizeOf(keys, values),
        changedAt: 0,
      };
      this.touch(right);
      return { separator: keys[0] as string, right };
    }
    const at = fittingSplitIndexOf(
      node.keys.map(separatorBytes),
      PAGE_OVERHEAD_BYTES + CHILD_REF_BYTES,
    );
    const separator = node.keys[at] as string;
    const keys = node.keys.splice(at + 1);
    node.keys.length = at;
    const children = node.children.splice(at + 1);
    node.sizeBytes = branchSizeOf(node.keys);
    const right: BranchNode = {
      kind: 'branch',
      keys,
      children,
      sizeBytes: branchSizeOf(keys),
      changedAt: 0,
    };
    this.touch(right);
    return { separator, right };
  }

  /**
   * After a delete: merges an underfull node with a sibling when both fit in one page, removes
   * empty leaves, and collapses a root branch left with a single child.
   */
  private rebalance(path: WritablePath, leaf: LeafNode): void {
    let node: IndexNode = leaf;
    for (let level = path.branches.length; level > 0; level--) {
      const parent = path.branches[level - 1] as BranchNode;
      const parentBounds = path.bounds[level - 1] as Bounds;
      const index = path.indices[level - 1] as number;
      const empty = node.keys.length === 0 && node.kind === 'leaf';
      if (!empty && node.sizeBytes >= MERGE_BELOW_BYTES) return;
      if (parent.children.length < 2) return;
      if (empty) {
        this.removeChild(parent, index);
      } else {
        const leftIndex = index + 1 < parent.children.length ? index : index - 1;
        const separator = parent.keys[leftIndex] as string;
        const leftBounds = childBounds(parentBounds, parent.keys, leftIndex);
        const rightBounds = childBounds(parentBounds, parent.keys, leftIndex + 1);
        const leftSize = this.nodeAt(parent.children[leftIndex] as Child, leftBounds).sizeBytes;
        const rightSize = this.nodeAt(
          parent.children[leftIndex + 1] as Child,
          rightBounds,
        ).sizeBytes;
        if (this.mergedSize(node.kind, leftSize, rightSize, separator) > INDEX_PAGE_TARGET_BYTES) {
          return;
        }
        const left = this.writableChild(parent, leftIndex, leftBounds);
        const right = this.writableChild(parent, leftIndex + 1, rightBounds);
        this.merge(left, right, separator);
        this.removeChild(parent, leftIndex + 1);
      }
      node = parent;
    }
    this.collapseRoot();
  }

  private writableChild(parent: BranchNode, index: number, bounds: Bounds): IndexNode {
    const child = parent.children[index] as Child;
    if (isNode(child)) return child;
    const copy = this.copyOf(child, bounds);
    this.replaceChild(parent, index, copy);
    this.touch(copy);
    return copy;
  }

  private mergedSize(
    kind: IndexNode['kind'],
    leftBytes: number,
    rightBytes: number,
    separator: string,
  ): number {
    const shared = leftBytes + rightBytes - PAGE_OVERHEAD_BYTES;
    return kind === 'leaf' ? shared : shared + separatorBytes(separator) - CHILD_REF_BYTES;
  }

  private merge(left: IndexNode, right: IndexNode, separator: string): void {
    assert(left.kind === right.kind, 'siblings are of one kind');
    this.snapshot(left);
    if (left.kind === 'leaf' && right.kind === 'leaf') {
      left.keys.push(...right.keys);
      left.values.push(...right.values);
      left.sizeBytes = leafSizeOf(left.keys, left.values);
    } else if (left.kind === 'branch' && right.kind === 'branch') {
      left.keys.push(separator, ...right.keys);
      left.children.push(...right.children);
      left.sizeBytes = branchSizeOf(left.keys);
    }
  }

  /** Removes child `index` (a dirty node) and the separator in front of it (or after it). */
  private removeChild(parent: BranchNode, index: number): void {
    this.snapshot(parent);
    const separatorIndex = index === 0 ? 0 : index - 1;
    parent.sizeBytes -= separatorBytes(parent.keys[separatorIndex] as string);
    parent.keys.splice(separatorIndex, 1);
    parent.children.splice(index, 1);
    this.setDirtyCount(this.dirtyCountValue - 1);
  }

  private collapseRoot(): void {
    for (;;) {
      const root = this.root;
      if (!isNode(root) || root.kind !== 'branch' || root.children.length !== 1) return;
      this.setDirtyCount(this.dirtyCountValue - 1);
      this.setRoot(root.children[0] as Child);
    }
  }

  /** Every node from the root, depth first (tests and verification). */
  forEachNode(visit: (node: IndexNode, depth: number) => void): void {
    const walk = (child: Child, bounds: Bounds): void => {
      const node = this.nodeAt(child, bounds);
      visit(node, bounds.depth);
      if (node.kind !== 'branch') return;
      node.children.forEach((next, index) => walk(next, childBounds(bounds, node.keys, index)));
    };
    walk(this.root, ROOT_BOUNDS);
  }
}
