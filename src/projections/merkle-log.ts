import { assert } from '../assert.js';
import { CartridgeError } from '../errors.js';
import { HASH_SIZE_BYTES } from '../journal/hashing.js';
import type { JournalRecord, MerkleSection } from '../journal/journal-event.js';
import { EMPTY_TREE_ROOT, nodeHash, rootOfLeaves } from '../proof/merkle.js';
import { hexKey, isCount, packValue, unpackValue } from './index/index-values.js';
import type { PagedTree } from './index/paged-tree.js';
import type { Projection } from './projection.js';
import type { UndoLog } from './undo-log.js';

/**
 * The Merkle log: the RFC 6962 tree over every record of the journal (see `merkle.ts`), kept
 * so that a proof of one record costs O(log n) index lookups, never a pass over history.
 *
 * Leaves are grouped in blocks of BLOCK_LEAVES. Every complete subtree of a block or more is a
 * node in the catalog's index under its own prefix:
 *
 * - `M` + level (2 hex digits) + index at that level (12 hex digits) → `[hash, firstOffset]`,
 *   the subtree's root and the offset of its first record (level 6 is a block of 64 leaves).
 *
 * Leaves inside a block are not stored: a proof recomputes them from the block's 64 records at
 * most, found from the block node's `firstOffset`. That keeps the index at about 0.5 bytes per
 * record instead of 32; blocks of 16 (1.6 bytes) rewrote so many slowly filling `M` pages that a
 * log of single-commit appends went past 2 disk bytes per text byte, and blocks of 256 made each
 * checkpoint root carry up to 8 KiB of pending leaves.
 *
 * In memory the fold keeps the unfinished block's leaf hashes, the right edge of complete
 * subtrees still waiting for a right sibling (the "frontier", O(log n) hashes), and the
 * offset of the last `head.signed` record. All of it is the checkpoint section.
 *
 * Index pages and checkpoint roots are records too, and the tree covers them; but they are
 * staged while the index is being flushed, when it must not change (its new pages are not even
 * written yet). So a node completed by one of them waits in `unwritten` and is written by the
 * next record of another type, live and in replay alike, so the index changes in the same order
 * either way (verify compares the pages).
 */

export const BLOCK_LEVEL = 6;
export const BLOCK_LEAVES = 2 ** BLOCK_LEVEL;
/** Levels above this would need a tree of more than 2^53 records. */
const LEVEL_MAX = 53;

const NODE_PREFIX = 'M';

export interface MerkleNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Buffer;
  /** The offset of the subtree's first record. */
  readonly firstOffset: number;
}

/**
 * The fold's state. `pending` grows in place; `frontier` and `unwritten` are replaced when they
 * change, never edited, so that an undo step can keep the arrays it saw.
 */
interface MerkleState {
  size: number;
  blockStartOffset: number;
  pending: Buffer[];
  /** By level: the complete subtree at that level waiting for its right sibling. */
  frontier: readonly (MerkleNode | undefined)[];
  unwritten: readonly MerkleNode[];
  lastSignedOffset: number | null;
}

function emptyState(): MerkleState {
  return {
    size: 0,
    blockStartOffset: 0,
    pending: [],
    frontier: [],
    unwritten: [],
    lastSignedOffset: null,
  };
}

function corrupt(detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `Merkle log ${detail}`);
}

export function nodeKey(level: number, index: number): string {
  return NODE_PREFIX + level.toString(16).padStart(2, '0') + hexKey(index);
}

/** A node value read from the index; anything malformed is `JOURNAL_CORRUPT`. */
export function decodeNode(level: number, index: number, bytes: Buffer): MerkleNode {
  const [hash, firstOffset] = unpackValue(bytes, 'Merkle log', 2);
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE_BYTES || !isCount(firstOffset)) {
    throw corrupt('node malformed');
  }
  return { level, index, hash: Buffer.from(hash), firstOffset };
}

function stateOfSection(section: MerkleSection): MerkleState {
  const pendingCount = section.size % BLOCK_LEAVES;
  if (section.pendingLeaves.length !== pendingCount * HASH_SIZE_BYTES) {
    throw corrupt('section has the wrong number of pending leaves');
  }
  const pending: Buffer[] = [];
  for (let index = 0; index < pendingCount; index++) {
    const start = index * HASH_SIZE_BYTES;
    pending.push(Buffer.from(section.pendingLeaves.subarray(start, start + HASH_SIZE_BYTES)));
  }
  const frontier: (MerkleNode | undefined)[] = [];
  const blocks = Math.floor(section.size / BLOCK_LEAVES);
  for (let item = 0; item < section.frontier.length; item += 3) {
    const [level, hash, firstOffset] = section.frontier.slice(item, item + 3);
    if (!isLevel(level) || !(hash instanceof Buffer) || !isCount(firstOffset)) {
      throw corrupt('section has a bad frontier');
    }
    const index = Math.floor(blocks / 2 ** (level - BLOCK_LEVEL)) - 1;
    if (index < 0 || index % 2 !== 0 || frontier[level] !== undefined) {
      throw corrupt('section has a frontier node out of place');
    }
    frontier[level] = { level, index, hash, firstOffset };
  }
  for (let level = BLOCK_LEVEL; level <= LEVEL_MAX; level++) {
    const bitSet = Math.floor(blocks / 2 ** (level - BLOCK_LEVEL)) % 2 === 1;
    if (bitSet !== (frontier[level] !== undefined)) {
      throw corrupt('section frontier does not match its size');
    }
  }
  const unwritten: MerkleNode[] = [];
  for (let item = 0; item < section.unwritten.length; item += 4) {
    const [level, index, hash, firstOffset] = section.unwritten.slice(item, item + 4);
    if (!isLevel(level) || !isCount(index) || !(hash instanceof Buffer) || !isCount(firstOffset)) {
      throw corrupt('section has a bad unwritten node');
    }
    unwritten.push({ level, index, hash, firstOffset });
  }
  return {
    size: section.size,
    blockStartOffset: section.blockStartOffset,
    pending,
    frontier,
    unwritten,
    lastSignedOffset: section.lastSignedOffset,
  };
}

function isLevel(value: unknown): value is number {
  return isCount(value) && value >= BLOCK_LEVEL && value <= LEVEL_MAX;
}

export class MerkleLog implements Projection {
  readonly name = 'merkle';
  private state: MerkleState;
  /**
   * The state before the first record folded with a deferred leaf (see
   * `JournalRecord.leafDeferred`): `settle` folds again from here once the leaves are final.
   */
  private beforeDeferred: MerkleState | undefined;
  private settling = false;

  constructor(
    private readonly tree: PagedTree,
    private readonly undo: UndoLog,
    section?: MerkleSection,
  ) {
    this.state = section === undefined ? emptyState() : stateOfSection(section);
  }

  /** How many records the tree holds: the sequence number of the next record. */
  get size(): number {
    return this.state.size;
  }

  /** The offset of the last `head.signed` record folded, or null. */
  get lastSignedOffset(): number | null {
    return this.state.lastSignedOffset;
  }

  /** The leaf hashes of the unfinished block (the last `size % BLOCK_LEAVES` records). */
  get pendingLeaves(): readonly Buffer[] {
    return this.state.pending;
  }

  get section(): MerkleSection {
    const { state } = this;
    const frontier: (number | Buffer)[] = [];
    for (let level = state.frontier.length - 1; level >= BLOCK_LEVEL; level--) {
      const node = state.frontier[level];
      if (node !== undefined) frontier.push(level, node.hash, node.firstOffset);
    }
    const unwritten: (number | Buffer)[] = [];
    for (const node of state.unwritten) {
      unwritten.push(node.level, node.index, node.hash, node.firstOffset);
    }
    return {
      size: state.size,
      blockStartOffset: state.blockStartOffset,
      pendingLeaves: Buffer.concat([...state.pending]),
      frontier,
      unwritten,
      lastSignedOffset: state.lastSignedOffset,
    };
  }

  /** The root of the whole tree as folded so far. */
  root(): Buffer {
    const { state } = this;
    if (state.size === 0) return EMPTY_TREE_ROOT;
    // The tree's root is the right fold of its complete subtrees, largest (leftmost) first,
    // with the unfinished block's own root as the rightmost piece (RFC 6962's split rule).
    let hash: Buffer | undefined =
      state.pending.length > 0 ? rootOfLeaves(state.pending) : undefined;
    for (let level = BLOCK_LEVEL; level < state.frontier.length; level++) {
      const node = state.frontier[level];
      if (node === undefined) continue;
      hash = hash === undefined ? node.hash : nodeHash(node.hash, hash);
    }
    assert(hash !== undefined, 'a tree with leaves has a root');
    return hash;
  }

  /** A complete node at `level` ≥ BLOCK_LEVEL, from memory or the index; undefined if absent. */
  node(level: number, index: number): MerkleNode | undefined {
    for (const node of this.state.unwritten) {
      if (node.level === level && node.index === index) return node;
    }
    const frontierNode = this.state.frontier[level];
    if (frontierNode !== undefined && frontierNode.index === index) return frontierNode;
    const bytes = this.tree.get(nodeKey(level, index));
    return bytes === undefined ? undefined : decodeNode(level, index, bytes);
  }

  /**
   * Folds again, with their final leaf hashes, the records of `records` folded with deferred
   * leaves. In an encrypted cartridge a leaf hashes the sealed record, which exists only once
   * the record is sealed at commit time (or, for the pages of a checkpoint, when the root's
   * chain hash is computed): records are folded as they are staged with a placeholder leaf
   * filled in place later, and every block and node hash computed from placeholders since is
   * recomputed here. The same nodes are written under the same keys, with values of the same
   * length, so the index pages come out as a replay of the stored records makes them.
   * `records` must include every record folded since the first deferred one, in order.
   */
  settle(records: readonly JournalRecord[]): void {
    const start = this.beforeDeferred;
    if (start === undefined) return;
    this.beforeDeferred = undefined;
    // A placeholder leaf is the record's own `leafHash` buffer, filled in place once sealed,
    // and the unfinished block holds that very buffer. So while no block was completed since
    // the first deferred leaf, the state already holds the final leaves and nothing hashed a
    // placeholder: folding again would rebuild the same state. Only a block completed in
    // between (its root, its nodes, the frontier) needs the second fold.
    const folded = this.state.size - start.size;
    if (this.state.pending.length - start.pending.length === folded) return;
    this.state = { ...start, pending: [...start.pending] };
    this.settling = true;
    try {
      for (const record of records) {
        if (record.sequence >= start.size) this.evolve(record);
      }
    } finally {
      this.settling = false;
    }
  }

  evolve(record: JournalRecord): void {
    const leaf = record.leafHash;
    assert(leaf.length === HASH_SIZE_BYTES, 'a folded record carries its leaf hash');
    if (record.leafDeferred === true && !this.settling && this.beforeDeferred === undefined) {
      this.beforeDeferred = { ...this.state, pending: [...this.state.pending] };
      // Undone past this point (a failed commit, a rolled-back savepoint), the state is the one
      // before the snapshot again: the next deferred record takes a new one.
      if (this.undo.recording) {
        this.undo.push(() => {
          this.beforeDeferred = undefined;
        });
      }
    }
    const state = this.state;
    if (record.sequence !== state.size) {
      throw corrupt(`expected record ${state.size}, got ${record.sequence}`);
    }
    // Every record passes here, so the common step (a leaf added to the unfinished block)
    // changes the state in place; the undo step is made only inside a transaction.
    if (this.undo.recording) this.recordUndo();
    // Pages and checkpoint roots are staged while the index is flushed and before its new
    // pages are written: the index must not change under them.
    const holdsIndex = record.event.type === 'index.page' || record.event.type === 'checkpoint';
    if (!holdsIndex && state.unwritten.length > 0) {
      for (const node of state.unwritten) this.writeNode(node);
      state.unwritten = [];
    }
    if (state.pending.length === 0) state.blockStartOffset = record.offset;
    if (record.event.type === 'head.signed') state.lastSignedOffset = record.offset;
    state.pending.push(leaf);
    state.size++;
    if (state.pending.length < BLOCK_LEAVES) return;
    const completed = this.completeBlock(state.pending, state.blockStartOffset, state.size);
    // The full block's array is left as it is (an undo shortens it again); a new one starts.
    state.pending = [];
    state.frontier = completed.frontier;
    if (holdsIndex) state.unwritten = [...state.unwritten, ...completed.nodes];
    else for (const node of completed.nodes) this.writeNode(node);
  }

  /** Remembers how to put the state back as it is now (arrays are replaced, never edited). */
  private recordUndo(): void {
    const state = this.state;
    const { size, blockStartOffset, pending, frontier, unwritten, lastSignedOffset } = state;
    const pendingLength = pending.length;
    this.undo.push(() => {
      pending.length = pendingLength;
      this.state = { size, blockStartOffset, pending, frontier, unwritten, lastSignedOffset };
    });
  }

  /** The nodes a full block completes, from the block up, and the new right edge. */
  private completeBlock(
    leaves: readonly Buffer[],
    firstOffset: number,
    size: number,
  ): { nodes: MerkleNode[]; frontier: (MerkleNode | undefined)[] } {
    const frontier = [...this.state.frontier];
    const nodes: MerkleNode[] = [];
    let node: MerkleNode = {
      level: BLOCK_LEVEL,
      index: size / BLOCK_LEAVES - 1,
      hash: rootOfLeaves(leaves),
      firstOffset,
    };
    nodes.push(node);
    while (node.index % 2 === 1) {
      const left = frontier[node.level];
      assert(left !== undefined && left.index === node.index - 1, 'a right child has a left one');
      frontier[node.level] = undefined;
      node = {
        level: node.level + 1,
        index: (node.index - 1) / 2,
        hash: nodeHash(left.hash, node.hash),
        firstOffset: left.firstOffset,
      };
      nodes.push(node);
    }
    frontier[node.level] = node;
    while (frontier.length > 0 && frontier[frontier.length - 1] === undefined) frontier.pop();
    return { nodes, frontier };
  }

  private writeNode(node: MerkleNode): void {
    this.tree.set(nodeKey(node.level, node.index), packValue([node.hash, node.firstOffset]));
  }
}
