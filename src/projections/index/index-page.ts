import { CartridgeError } from '../../errors.js';
import { assert } from '../../assert.js';
import { INDEX_PAGE_KEYS_MAX, RECORD_MAX_BYTES } from '../../limits.js';

/**
 * The pages of the catalog index and their bytes. A page is the blob of an `index.page`
 * record, in a binary layout, deterministic for the same content (little-endian):
 *
 * - `u8 kind` (0 leaf, 1 branch), `u8 0`, `u16 keyCount`;
 * - leaf: per entry `u16 keyLength`, the key in UTF-8, `u32 valueLength`, the value;
 * - branch: per separator `u16 keyLength`, the key; then, per child (one more than the
 *   separators), `u48 offset`, `u48 sequence`, `u32 recordLengthBytes` (0: unknown). Child
 *   `i` holds the keys `k` with `separator[i - 1] <= k < separator[i]`; its record's length
 *   lets a load read it with one `pread`.
 *
 * In memory a page is a node. A node that came from disk is clean and shared (the page cache
 * may hand it to anyone), so it is never changed in place: a change copies it into a dirty
 * node that its (dirty) parent points at directly. Dirty nodes are what the next checkpoint
 * writes.
 */

/** Where a page lives in the journal: its record's offset, sequence and length (if known). */
export interface PageRef {
  readonly offset: number;
  readonly sequence: number;
  readonly lengthBytes?: number;
}

export interface LeafNode {
  readonly kind: 'leaf';
  keys: string[];
  values: Buffer[];
  /** Estimated encoded size in bytes, kept as entries come and go. */
  sizeBytes: number;
}

export interface BranchNode {
  readonly kind: 'branch';
  keys: string[];
  children: Child[];
  sizeBytes: number;
}

export type IndexNode = LeafNode | BranchNode;
/** A child is on disk (a reference) or dirty in memory (the node itself). */
export type Child = PageRef | IndexNode;

export function isNode(child: Child): child is IndexNode {
  return (child as IndexNode).kind !== undefined;
}

/** Fixed bytes of a page besides its entries, in the size estimate. */
export const PAGE_OVERHEAD_BYTES = 16;
/** Bytes a child reference costs in a branch, in the size estimate. */
export const CHILD_REF_BYTES = 18;

export function entryBytes(key: string, value: Buffer): number {
  return key.length + value.length + 4;
}

export function separatorBytes(key: string): number {
  return key.length + 2 + CHILD_REF_BYTES;
}

/** Bytes before the entries: kind, a reserved zero byte, the key count. */
const PAGE_HEADER_BYTES = 4;
/** A child reference in a branch: offset (6 bytes), sequence (6), record length (4). */
const CHILD_ENTRY_BYTES = 16;

/**
 * Encodes a page in its binary layout (see docs/FORMAT.md): read with a few fixed-width reads
 * per entry, no generic decoder, which is what a lookup that misses the cache pays for.
 */
export function encodePage(node: IndexNode): Buffer {
  const keyBytes = node.keys.map((key) => Buffer.from(key, 'utf8'));
  let sizeBytes = PAGE_HEADER_BYTES;
  for (const key of keyBytes) {
    assert(key.length <= 0xffff, 'an index key fits its length field');
    sizeBytes += 2 + key.length;
  }
  if (node.kind === 'leaf') {
    for (const value of node.values) sizeBytes += 4 + value.length;
  } else {
    sizeBytes += node.children.length * CHILD_ENTRY_BYTES;
  }
  const page = Buffer.allocUnsafe(sizeBytes);
  page.writeUInt8(node.kind === 'leaf' ? 0 : 1, 0);
  page.writeUInt8(0, 1);
  page.writeUInt16LE(node.keys.length, 2);
  let position = PAGE_HEADER_BYTES;
  keyBytes.forEach((key, index) => {
    position = page.writeUInt16LE(key.length, position);
    position += key.copy(page, position);
    if (node.kind === 'leaf') {
      const value = node.values[index] as Buffer;
      position = page.writeUInt32LE(value.length, position);
      position += value.copy(page, position);
    }
  });
  if (node.kind === 'branch') {
    for (const child of node.children) {
      assert(!isNode(child), 'a branch is encoded only once its children are written');
      position = page.writeUIntLE(child.offset, position, 6);
      position = page.writeUIntLE(child.sequence, position, 6);
      position = page.writeUInt32LE(child.lengthBytes ?? 0, position);
    }
  }
  assert(position === sizeBytes, 'an index page fills exactly its computed size');
  return page;
}

function malformed(offset: number, detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `index page ${detail}`, { offset });
}

/**
 * Decodes a page from untrusted bytes; anything malformed is `JOURNAL_CORRUPT` at `offset`.
 * Every length is checked against what is left before it is used; keys must be sorted and
 * distinct (the descent relies on it); a child must lie before its parent (no cycles); the
 * page must end exactly where its entries do. Leaf values are views into `bytes`.
 */
export function decodePage(bytes: Buffer, offset: number): IndexNode {
  if (bytes.length < PAGE_HEADER_BYTES) throw malformed(offset, 'is cut short');
  const kind = bytes.readUInt8(0);
  const count = bytes.readUInt16LE(2);
  if ((kind !== 0 && kind !== 1) || bytes.readUInt8(1) !== 0)
    throw malformed(offset, 'kind malformed');
  if (count > INDEX_PAGE_KEYS_MAX) throw malformed(offset, 'has too many keys');
  const leaf = kind === 0;
  const keys = new Array<string>(count);
  const values: Buffer[] = leaf ? new Array<Buffer>(count) : [];
  let position = PAGE_HEADER_BYTES;
  let sizeBytes = PAGE_OVERHEAD_BYTES + (leaf ? 0 : CHILD_REF_BYTES);
  let previous: string | undefined;
  for (let index = 0; index < count; index++) {
    if (position + 2 > bytes.length) throw malformed(offset, 'is cut short');
    const keyLength = bytes.readUInt16LE(position);
    position += 2;
    if (position + keyLength > bytes.length) throw malformed(offset, 'is cut short');
    const key = bytes.toString('utf8', position, position + keyLength);
    position += keyLength;
    if (previous !== undefined && !(previous < key)) throw malformed(offset, 'keys out of order');
    previous = key;
    keys[index] = key;
    if (leaf) {
      if (position + 4 > bytes.length) throw malformed(offset, 'is cut short');
      const valueLength = bytes.readUInt32LE(position);
      position += 4;
      if (position + valueLength > bytes.length) throw malformed(offset, 'is cut short');
      const value = bytes.subarray(position, position + valueLength);
      position += valueLength;
      values[index] = value;
      sizeBytes += entryBytes(key, value);
    } else {
      sizeBytes += separatorBytes(key);
    }
  }
  if (leaf) {
    if (position !== bytes.length) throw malformed(offset, 'has bytes after its entries');
    return { kind: 'leaf', keys, values, sizeBytes };
  }
  const childCount = count + 1;
  if (position + childCount * CHILD_ENTRY_BYTES !== bytes.length) {
    throw malformed(offset, 'children malformed');
  }
  const children: Child[] = new Array<Child>(childCount);
  for (let index = 0; index < childCount; index++) {
    const childOffset = bytes.readUIntLE(position, 6);
    const childSequence = bytes.readUIntLE(position + 6, 6);
    const childLength = bytes.readUInt32LE(position + 12);
    position += CHILD_ENTRY_BYTES;
    // A child is written before its parent: a reference forward is a forged page, and would
    // let a cycle make a lookup loop forever. Its length is checked before anyone reads by it.
    if (childOffset >= offset || childLength > RECORD_MAX_BYTES) {
      throw malformed(offset, 'child reference malformed');
    }
    children[index] = { offset: childOffset, sequence: childSequence, lengthBytes: childLength };
  }
  return { kind: 'branch', keys, children, sizeBytes };
}
