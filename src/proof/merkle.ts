import { assert } from '../assert.js';
import { HASH_SIZE_BYTES, hashBytes, hashParts } from '../journal/hashing.js';

/**
 * The Merkle tree over the journal's records, laid out as Certificate Transparency lays out
 * its log (RFC 6962 §2.1, with BLAKE3 in place of SHA-256): leaf hash = H(0x00 ‖ entry), node
 * hash = H(0x01 ‖ left ‖ right), and the tree of n leaves splits at the largest power of two
 * below n. The two prefixes keep a leaf from passing for a node. The chain alone proves a
 * record only by rehashing everything before it; the tree proves it with log2(n) hashes.
 *
 * A record's entry is `type (1 byte) ‖ sequence (8 bytes, little-endian) ‖ offset (8 bytes,
 * little-endian) ‖ BLAKE3(stored blob) ‖ body`: what the record says and where it stands, not
 * how it was framed (flags, lengths and the link are covered by the chain hash, which a signed
 * head commits to as well).
 */

const LEAF_PREFIX = Buffer.from([0x00]);
const ENTRY_FIXED_BYTES = 1 + 8 + 8 + HASH_SIZE_BYTES;

/** The root of the empty tree: the hash of no bytes, as RFC 6962 defines it. */
export const EMPTY_TREE_ROOT = hashBytes(Buffer.alloc(0));

/** A proof's audit path never needs more hashes than a tree of 2^64 leaves has levels. */
export const AUDIT_PATH_MAX_HASHES = 64;

/** Where a record stands and what it holds: the parts of its Merkle entry. */
export interface LeafParts {
  readonly type: number;
  readonly sequence: number;
  readonly offset: number;
  readonly blobHash: Buffer;
  readonly body: Uint8Array;
}

/** One scratch buffer for leaf inputs: no allocation per record for small bodies. */
let leafScratch = Buffer.allocUnsafe(64 * 1024);

/** Writes a non-negative safe integer as 8 little-endian bytes, without a BigInt. */
function writeU64(target: Buffer, value: number, position: number): void {
  target.writeUInt32LE(value % 0x1_0000_0000, position);
  target.writeUInt32LE(Math.floor(value / 0x1_0000_0000), position + 4);
}

/**
 * The leaf hash of a record: H(0x00 ‖ entry), the entry laid out as above. One one-shot hash
 * over a reused buffer, as the chain hash is computed: it runs for every record written or
 * replayed.
 */
export function recordLeafHash(parts: LeafParts): Buffer {
  assert(parts.blobHash.length === HASH_SIZE_BYTES, 'blob hash has the wrong size');
  const length = 1 + ENTRY_FIXED_BYTES + parts.body.length;
  if (length > leafScratch.length) leafScratch = Buffer.allocUnsafe(length);
  leafScratch[0] = 0x00;
  leafScratch[1] = parts.type;
  writeU64(leafScratch, parts.sequence, 2);
  writeU64(leafScratch, parts.offset, 10);
  parts.blobHash.copy(leafScratch, 18);
  leafScratch.set(parts.body, 1 + ENTRY_FIXED_BYTES);
  return hashBytes(leafScratch.subarray(0, length));
}

/** The hash of a leaf whose entry is `entry` (tests and reference implementations use it). */
export function leafHashOfEntry(entry: Uint8Array): Buffer {
  return hashParts([LEAF_PREFIX, entry]);
}

const nodeScratch = Buffer.allocUnsafe(1 + 2 * HASH_SIZE_BYTES);

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  assert(left.length === HASH_SIZE_BYTES && right.length === HASH_SIZE_BYTES, 'node hash inputs');
  nodeScratch[0] = 0x01;
  left.copy(nodeScratch, 1);
  right.copy(nodeScratch, 1 + HASH_SIZE_BYTES);
  return hashBytes(nodeScratch);
}

/** The largest power of two strictly below `count` (count ≥ 2). */
export function splitPoint(count: number): number {
  assert(count >= 2, 'only a tree of two leaves or more splits');
  let split = 1;
  while (split * 2 < count) split *= 2;
  return split;
}

/** The root of a tree over `leaves` (leaf hashes), by the RFC's recursive definition. */
export function rootOfLeaves(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_TREE_ROOT;
  return rangeRoot(leaves, 0, leaves.length);
}

function rangeRoot(leaves: readonly Buffer[], start: number, end: number): Buffer {
  if (end - start === 1) return leaves[start] as Buffer;
  const split = splitPoint(end - start);
  return nodeHash(rangeRoot(leaves, start, start + split), rangeRoot(leaves, start + split, end));
}

/**
 * The audit path of leaf `leafIndex` in the tree of `treeSize` leaves (RFC 6962 §2.1.1),
 * deepest sibling first. `rangeHash(start, end)` gives the root of the leaves [start, end); the
 * ranges asked for are the O(log n) siblings on the way up, each aligned as the tree is.
 */
export function auditPath(
  leafIndex: number,
  treeSize: number,
  rangeHash: (start: number, end: number) => Buffer,
): Buffer[] {
  assert(leafIndex >= 0 && leafIndex < treeSize, 'leaf outside the tree');
  const path: Buffer[] = [];
  let start = 0;
  let end = treeSize;
  // Walks down from the root, collecting the sibling at each split; reversed at the end.
  while (end - start > 1) {
    const split = start + splitPoint(end - start);
    if (leafIndex < split) {
      path.push(rangeHash(split, end));
      end = split;
    } else {
      path.push(rangeHash(start, split));
      start = split;
    }
  }
  return path.reverse();
}

/**
 * The root that an audit path leads to from `leafHash` (RFC 9162 §2.1.3.2), or undefined when
 * the path's length does not fit the leaf's place in a tree of `treeSize` leaves. The caller
 * compares the result with the root it trusts.
 */
export function rootFromAuditPath(
  leafIndex: number,
  treeSize: number,
  leafHash: Buffer,
  path: readonly Buffer[],
): Buffer | undefined {
  if (leafIndex < 0 || leafIndex >= treeSize || path.length > AUDIT_PATH_MAX_HASHES) {
    return undefined;
  }
  // Numbers above 2^32 lose nothing here: indexes stay below 2^53 and are halved, not masked.
  let index = leafIndex;
  let last = treeSize - 1;
  let hash = leafHash;
  for (const sibling of path) {
    if (last === 0) return undefined;
    if (index % 2 === 1 || index === last) {
      hash = nodeHash(sibling, hash);
      if (index % 2 === 0) {
        while (index % 2 === 0 && index !== 0) {
          index = Math.floor(index / 2);
          last = Math.floor(last / 2);
        }
      }
    } else {
      hash = nodeHash(hash, sibling);
    }
    index = Math.floor(index / 2);
    last = Math.floor(last / 2);
  }
  return last === 0 ? hash : undefined;
}

/**
 * The root of a growing tree, kept as the right edge of its complete subtrees (O(log n)
 * hashes): what a check that folds every record but keeps no index needs (`verifyStored`).
 */
export class MerkleAccumulator {
  /** By level: the complete subtree of 2^level leaves waiting for its right sibling. */
  private readonly edge: (Buffer | undefined)[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(leaf: Buffer): void {
    assert(leaf.length === HASH_SIZE_BYTES, 'a leaf hash has the hash size');
    let hash = leaf;
    let level = 0;
    for (let left = this.edge[level]; left !== undefined; left = this.edge[level]) {
      hash = nodeHash(left, hash);
      this.edge[level] = undefined;
      level++;
    }
    this.edge[level] = hash;
    this.count++;
  }

  /** RFC 6962's root: the right fold of the complete subtrees, smallest (rightmost) first. */
  root(): Buffer {
    let hash: Buffer | undefined;
    for (const node of this.edge) {
      if (node === undefined) continue;
      hash = hash === undefined ? node : nodeHash(node, hash);
    }
    return hash ?? EMPTY_TREE_ROOT;
  }
}
