import { createHash } from 'node:crypto';
import { blake3 } from '@napi-rs/blake-hash';
import { describe, expect, it } from 'vitest';
import {
  auditPath,
  EMPTY_TREE_ROOT,
  leafHashOfEntry,
  nodeHash,
  recordLeafHash,
  rootFromAuditPath,
  rootOfLeaves,
} from '../../../src/proof/merkle.js';
import { naiveAuditPath, naiveRoot, leavesOf } from './naive-merkle.js';

/**
 * The Merkle tree against a naive reading of RFC 6962 §2.1 (see `naive-merkle.ts`): roots and
 * audit paths for every tree size up to 70 and every leaf in it, and the verification
 * algorithm of RFC 9162 §2.1.3.2 accepting exactly the right paths.
 */

describe('merkle', () => {
  it('hashes the empty tree as the hash of no bytes', () => {
    expect(EMPTY_TREE_ROOT.equals(blake3(Buffer.alloc(0)))).toBe(true);
    expect(rootOfLeaves([]).equals(EMPTY_TREE_ROOT)).toBe(true);
  });

  it('separates leaves from nodes with the 0x00 and 0x01 prefixes', () => {
    const entry = Buffer.from('an entry');
    expect(leafHashOfEntry(entry).equals(blake3(Buffer.concat([Buffer.from([0]), entry])))).toBe(
      true,
    );
    const left = Buffer.alloc(32, 1);
    const right = Buffer.alloc(32, 2);
    const expected = blake3(Buffer.concat([Buffer.from([1]), left, right]));
    expect(nodeHash(left, right).equals(expected)).toBe(true);
  });

  it('hashes a record entry as type, sequence, offset, blob hash and body', () => {
    const blobHash = createHash('sha256').update('blob').digest();
    const body = Buffer.from('body bytes');
    const entry = Buffer.alloc(1 + 8 + 8 + 32);
    entry[0] = 15;
    entry.writeBigUInt64LE(123n, 1);
    entry.writeBigUInt64LE(8192n, 9);
    blobHash.copy(entry, 17);
    const leaf = recordLeafHash({ type: 15, sequence: 123, offset: 8192, blobHash, body });
    expect(leaf.equals(leafHashOfEntry(Buffer.concat([entry, body])))).toBe(true);
  });

  it('gives the reference root for every tree size up to 70', () => {
    for (let size = 1; size <= 70; size++) {
      const leaves = leavesOf(size);
      expect(rootOfLeaves(leaves).equals(naiveRoot(leaves)), `size ${size}`).toBe(true);
    }
  });

  it('gives the reference audit path for every leaf of every tree up to 70, and it verifies', () => {
    for (let size = 1; size <= 70; size++) {
      const leaves = leavesOf(size);
      const root = naiveRoot(leaves);
      const rangeHash = (start: number, end: number) => naiveRoot(leaves.slice(start, end));
      for (let index = 0; index < size; index++) {
        const path = auditPath(index, size, rangeHash);
        const reference = naiveAuditPath(index, leaves);
        expect(path.map((hash) => hash.toString('hex'))).toEqual(
          reference.map((hash) => hash.toString('hex')),
        );
        const leaf = leaves[index] as Buffer;
        expect(rootFromAuditPath(index, size, leaf, path)?.equals(root)).toBe(true);
      }
    }
  });

  it('refuses a path for another leaf, another size, or of the wrong length', () => {
    const leaves = leavesOf(21);
    const rangeHash = (start: number, end: number) => naiveRoot(leaves.slice(start, end));
    const root = naiveRoot(leaves);
    const path = auditPath(5, 21, rangeHash);
    const leaf = leaves[5] as Buffer;
    expect(rootFromAuditPath(4, 21, leaf, path)?.equals(root) ?? false).toBe(false);
    // A size that changes the path's shape is refused. (Sizes of the same shape give the same
    // root: the size is bound by the signature over the head, which names it.)
    expect(rootFromAuditPath(5, 40, leaf, path)).toBeUndefined();
    expect(rootFromAuditPath(5, 16, leaf, path)).toBeUndefined();
    expect(rootFromAuditPath(5, 21, leaf, path.slice(1))).toBeUndefined();
    expect(rootFromAuditPath(5, 21, leaf, [...path, Buffer.alloc(32)])).toBeUndefined();
    expect(rootFromAuditPath(21, 21, leaf, path)).toBeUndefined();
    expect(rootFromAuditPath(5, 21, leaf, new Array(65).fill(Buffer.alloc(32)))).toBeUndefined();
  });
});
