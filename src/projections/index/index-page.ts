import { CartridgeError } from '../../errors.js';
import { assert } from '../../assert.js';
import { INDEX_PAGE_KEYS_MAX, RECORD_MAX_BYTES } from '../../limits.js';
import { putU16, putU32, u32At } from '../../journal/little-endian.js';
import { childIndexOf, lowerBound } from './key-search.js';
import {
  compareStoredKey,
  compareStoredKeys,
  sharedPrefixLength,
  storedKeyAt,
  storedKeyStringLength,
  storedSearch,
} from './stored-keys.js';

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
  /**
   * When a dirty node last changed, counted by its tree (the coldest is flushed first; see
   * `PagedTree.flushSome`); absent on a page read from disk, which is never changed. A field,
   * not a map beside the tree: it is set on every change and read for every dirty page at
   * every trickle, and a `WeakMap` cost several times the field at both.
   */
  changedAt?: number;
}

export interface BranchNode {
  readonly kind: 'branch';
  keys: string[];
  children: Child[];
  sizeBytes: number;
  /** As a leaf's. */
  changedAt?: number;
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
  // Keys are measured, then written straight into the page: a Buffer per key (a page holds
  // up to a hundred) was the largest source of garbage on the write path of a big catalog.
  // Nearly every key is ASCII (paths, hex numbers), whose characters are its bytes: they are
  // copied in place, without the UTF-8 encoder; the lengths measured say which keys are.
  const keys = node.keys;
  if (keyLengthScratch.length < keys.length) {
    keyLengthScratch = new Array<number>(keys.length).fill(0);
  }
  const keyLengths = keyLengthScratch;
  let sizeBytes = PAGE_HEADER_BYTES;
  for (let index = 0; index < keys.length; index++) {
    const keyLength = utf8LengthOf(keys[index] as string);
    assert(keyLength <= 0xffff, 'an index key fits its length field');
    keyLengths[index] = keyLength;
    sizeBytes += 2 + keyLength;
  }
  if (node.kind === 'leaf') {
    for (const value of node.values) sizeBytes += 4 + value.length;
  } else {
    sizeBytes += node.children.length * CHILD_ENTRY_BYTES;
  }
  const page = Buffer.allocUnsafe(sizeBytes);
  page[0] = node.kind === 'leaf' ? 0 : 1;
  page[1] = 0;
  putU16(page, 2, keys.length);
  let position = PAGE_HEADER_BYTES;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const keyLength = keyLengths[index] as number;
    putU16(page, position, keyLength);
    position += 2;
    if (keyLength === key.length) {
      for (let at = 0; at < keyLength; at++) page[position + at] = key.charCodeAt(at);
    } else {
      page.write(key, position, keyLength, 'utf8');
    }
    position += keyLength;
    if (node.kind === 'leaf') {
      const value = node.values[index] as Buffer;
      putU32(page, position, value.length);
      page.set(value, position + 4);
      position += 4 + value.length;
    }
  }
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

/** The key lengths of the page being encoded (reused: pages are encoded one at a time). */
let keyLengthScratch: number[] = new Array<number>(256).fill(0);

/**
 * The UTF-8 length of a key: counted in place for ASCII (a call into Node per key cost more
 * than the loop for keys this short), measured by Node otherwise.
 */
function utf8LengthOf(key: string): number {
  for (let at = 0; at < key.length; at++) {
    if (key.charCodeAt(at) >= 0x80) return Buffer.byteLength(key, 'utf8');
  }
  return key.length;
}

function malformed(offset: number, detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `index page ${detail}`, { offset });
}

/*
 * Decoding runs on every page a lookup misses in the cache, and right after open it runs in
 * code V8 has not optimised yet, where every call (into Node's `Buffer` methods, or to a
 * helper) and every small object is expensive. So the loops read fixed-width fields with plain
 * byte arithmetic written out in place, and what a lookup does not need stays in the page's
 * bytes until someone asks for it: the keys (compared in place, see `stored-keys.ts`), the
 * views of a leaf's values, the references of a branch's children. What is checked, and when,
 * does not change: the whole page is validated before it is returned.
 *
 * A page read from disk (or just written) is cached as long as the cache keeps it, so what it
 * holds in memory is what the young generation copies, and then promotes, for every page that
 * comes in. A copy for writing (`writableCopyOf`) decodes what it needs into arrays of its
 * own and leaves the stored page as small as it was.
 */

/** What a leaf and a branch read from disk share: their bytes, and their keys left in them. */
abstract class StoredPage {
  private materialisedKeys: string[] | undefined;
  /**
   * The bounds and depth this page was last found in its place for (`placedFor`): a descent
   * through cached pages passes the same page under the same separators again and again, and
   * the check is a function of the page's bytes, which never change, and of these three.
   */
  placedLow: string | undefined = undefined;
  placedHigh: string | undefined = undefined;
  placedDepth = -1;

  constructor(
    /** The page's bytes (the cache charges by their length). */
    readonly bytes: Buffer,
    /** Where each key's bytes start in the page (its u16 length is just before). */
    readonly keyStarts: number[],
    /** The ASCII prefix every key shares (see `stored-keys.ts`). */
    readonly prefixLength: number,
  ) {}

  /** Every key decoded, kept once asked for (a walk over the page's range asks). */
  get keys(): string[] {
    this.materialisedKeys ??= this.decodedKeys();
    return this.materialisedKeys;
  }

  /**
   * Key `index`, decoded. A branch keeps the separators lookups decode: they bound the children
   * every descent under it checks (`placedFor`), so the same strings come back each time.
   */
  keyAt(index: number): string | undefined {
    const materialised = this.materialisedKeys;
    if (materialised !== undefined) return materialised[index];
    const start = this.keyStarts[index];
    return start === undefined ? undefined : storedKeyAt(this.bytes, start);
  }

  /** Every key decoded, in an array of the caller's that the page does not keep. */
  decodedKeys(): string[] {
    if (this.materialisedKeys !== undefined) return this.materialisedKeys.slice();
    const keys = new Array<string>(this.keyStarts.length);
    for (let index = 0; index < keys.length; index++) {
      keys[index] = storedKeyAt(this.bytes, this.keyStarts[index] as number);
    }
    return keys;
  }
}

/**
 * A leaf read from disk: its keys and values left in the page's bytes, with where each starts.
 * It is clean and shared, so it is never changed: a change works on a `writableCopyOf` it.
 */
class StoredLeaf extends StoredPage implements LeafNode {
  readonly kind = 'leaf' as const;
  private materialisedValues: Buffer[] | undefined;
  private estimatedBytes = -1;

  constructor(
    bytes: Buffer,
    keyStarts: number[],
    /** Where each value's bytes start in the page (its u32 length is just before). */
    private readonly valueStarts: number[],
    prefixLength: number,
  ) {
    super(bytes, keyStarts, prefixLength);
  }

  /**
   * The size estimate (as `entryBytes` sums it, with each key's string length), computed when
   * a writer first asks: a lookup never does.
   */
  get sizeBytes(): number {
    if (this.estimatedBytes < 0) {
      let sizeBytes = PAGE_OVERHEAD_BYTES;
      for (let index = 0; index < this.keyStarts.length; index++) {
        const start = this.valueStarts[index] as number;
        sizeBytes +=
          storedKeyStringLength(this.bytes, this.keyStarts[index] as number) +
          u32At(this.bytes, start - 4) +
          4;
      }
      this.estimatedBytes = sizeBytes;
    }
    return this.estimatedBytes;
  }

  get values(): Buffer[] {
    if (this.materialisedValues === undefined) {
      const values = new Array<Buffer>(this.keyStarts.length);
      for (let index = 0; index < values.length; index++) values[index] = this.valueAt(index);
      this.materialisedValues = values;
    }
    return this.materialisedValues;
  }

  /**
   * A view of every value, in an array of the caller's: the views handed out so far, and new
   * ones for the rest, which the page does not keep (a copy for writing would otherwise leave
   * a view per entry in the cached page).
   */
  valueViews(): Buffer[] {
    if (this.materialisedValues !== undefined) return this.materialisedValues.slice();
    const values = new Array<Buffer>(this.keyStarts.length);
    for (let index = 0; index < values.length; index++) {
      const start = this.valueStarts[index] as number;
      values[index] =
        this.handedOut?.[index] ?? this.bytes.subarray(start, start + u32At(this.bytes, start - 4));
    }
    return values;
  }

  /**
   * The views handed out so far: the same value is the same object on every read, which lets a
   * reader keep what it derived from it (the catalog's decoded entries) by identity.
   */
  private handedOut: (Buffer | undefined)[] | undefined;

  valueAt(index: number): Buffer {
    const materialised = this.materialisedValues;
    if (materialised !== undefined) return materialised[index] as Buffer;
    this.handedOut ??= new Array<Buffer | undefined>(this.keyStarts.length);
    let view = this.handedOut[index];
    if (view === undefined) {
      const start = this.valueStarts[index] as number;
      view = this.bytes.subarray(start, start + u32At(this.bytes, start - 4));
      this.handedOut[index] = view;
    }
    return view;
  }
}

/**
 * A branch read from disk: its separators and child references (checked when the page was
 * read) left in the page's bytes until asked for; a lookup follows one of them.
 */
class StoredBranch extends StoredPage implements BranchNode {
  readonly kind = 'branch' as const;
  private materialisedChildren: Child[] | undefined;

  constructor(
    bytes: Buffer,
    keyStarts: number[],
    /** Where the first child reference starts in the page. */
    private readonly childrenStart: number,
    prefixLength: number,
  ) {
    super(bytes, keyStarts, prefixLength);
  }

  /** The size estimate (as `separatorBytes` sums it), computed when a writer asks. */
  get sizeBytes(): number {
    let sizeBytes = PAGE_OVERHEAD_BYTES + CHILD_REF_BYTES;
    for (const start of this.keyStarts) {
      sizeBytes += storedKeyStringLength(this.bytes, start) + 2 + CHILD_REF_BYTES;
    }
    return sizeBytes;
  }

  get children(): Child[] {
    this.materialisedChildren ??= this.childReferences();
    return this.materialisedChildren;
  }

  private separators: (string | undefined)[] | undefined;

  override keyAt(index: number): string | undefined {
    if (index < 0 || index >= this.keyStarts.length) return undefined;
    this.separators ??= new Array<string | undefined>(this.keyStarts.length);
    let separator = this.separators[index];
    if (separator === undefined) {
      separator = super.keyAt(index) as string;
      this.separators[index] = separator;
    }
    return separator;
  }

  /** Every child reference, in an array of the caller's. */
  childReferences(): Child[] {
    const children = new Array<Child>(this.keyStarts.length + 1);
    for (let index = 0; index < children.length; index++) children[index] = this.childAt(index);
    return children;
  }

  childAt(index: number): PageRef {
    const materialised = this.materialisedChildren;
    if (materialised !== undefined) return materialised[index] as PageRef;
    // Byte arithmetic written out: in unoptimised code a helper call per field cost more than
    // the reference it builds (checked when the page was decoded).
    const bytes = this.bytes;
    const at = this.childrenStart + index * CHILD_ENTRY_BYTES;
    return {
      offset:
        ((bytes[at] as number) |
          ((bytes[at + 1] as number) << 8) |
          ((bytes[at + 2] as number) << 16)) +
        (bytes[at + 3] as number) * 0x100_0000 +
        ((bytes[at + 4] as number) | ((bytes[at + 5] as number) << 8)) * 0x1_0000_0000,
      sequence:
        ((bytes[at + 6] as number) |
          ((bytes[at + 7] as number) << 8) |
          ((bytes[at + 8] as number) << 16)) +
        (bytes[at + 9] as number) * 0x100_0000 +
        ((bytes[at + 10] as number) | ((bytes[at + 11] as number) << 8)) * 0x1_0000_0000,
      lengthBytes:
        ((bytes[at + 12] as number) |
          ((bytes[at + 13] as number) << 8) |
          ((bytes[at + 14] as number) << 16)) +
        (bytes[at + 15] as number) * 0x100_0000,
    };
  }
}

/** Value `index` of a leaf, without materialising the others of a leaf read from disk. */
export function valueAt(leaf: LeafNode, index: number): Buffer | undefined {
  return leaf instanceof StoredLeaf ? leaf.valueAt(index) : leaf.values[index];
}

/** Child `index` of a branch, without materialising the others of a branch read from disk. */
export function childAt(branch: BranchNode, index: number): Child | undefined {
  return branch instanceof StoredBranch ? branch.childAt(index) : branch.children[index];
}

/** How many keys a node holds, without decoding them. */
export function keyCountOf(node: IndexNode): number {
  return node instanceof StoredPage ? node.keyStarts.length : node.keys.length;
}

/** Key `index` of a node, decoding only that one of a page read from disk. */
export function keyAt(node: IndexNode, index: number): string | undefined {
  return node instanceof StoredPage ? node.keyAt(index) : node.keys[index];
}

/**
 * Whether `node` is a page read from disk that was found in its place before with exactly these
 * bounds and depth (see `rememberPlacement`); a node in memory is never taken as placed.
 */
export function placedFor(
  node: IndexNode,
  low: string | undefined,
  high: string | undefined,
  depth: number,
): boolean {
  return (
    node instanceof StoredPage &&
    node.placedDepth === depth &&
    node.placedLow === low &&
    node.placedHigh === high
  );
}

/** Remembers that a page read from disk was found in its place for these bounds and depth. */
export function rememberPlacement(
  node: IndexNode,
  low: string | undefined,
  high: string | undefined,
  depth: number,
): void {
  if (!(node instanceof StoredPage)) return;
  node.placedLow = low;
  node.placedHigh = high;
  node.placedDepth = depth;
}

/** Key `index` of a node (which must exist) against `key`: negative, zero or positive. */
export function compareKeyAt(node: IndexNode, index: number, key: string): number {
  if (node instanceof StoredPage) {
    return compareStoredKey(node.bytes, node.keyStarts[index] as number, key);
  }
  const own = node.keys[index] as string;
  return own < key ? -1 : own > key ? 1 : 0;
}

/** The first index of a leaf whose key is >= `key`, comparing a stored page's keys in place. */
export function lowerBoundIn(leaf: LeafNode, key: string): number {
  return leaf instanceof StoredLeaf
    ? storedSearch(leaf.bytes, leaf.keyStarts, leaf.prefixLength, key, false)
    : lowerBound(leaf.keys, key);
}

/** The child of a branch that holds `key`, comparing a stored page's separators in place. */
export function childIndexIn(branch: BranchNode, key: string): number {
  return branch instanceof StoredBranch
    ? storedSearch(branch.bytes, branch.keyStarts, branch.prefixLength, key, true)
    : childIndexOf(branch.keys, key);
}

/**
 * A dirty copy of a node, to be changed: arrays of its own, whatever the node keeps. A page read
 * from disk is decoded into the copy, not into itself, so the cached page stays as small as it
 * was; the copy lives only until the trickle or a checkpoint writes it.
 */
export function writableCopyOf(node: IndexNode): IndexNode {
  const keys = node instanceof StoredPage ? node.decodedKeys() : node.keys.slice();
  if (node.kind === 'leaf') {
    const values = node instanceof StoredLeaf ? node.valueViews() : node.values.slice();
    return { kind: 'leaf', keys, values, sizeBytes: node.sizeBytes, changedAt: 0 };
  }
  const children = node instanceof StoredBranch ? node.childReferences() : node.children.slice();
  return { kind: 'branch', keys, children, sizeBytes: node.sizeBytes, changedAt: 0 };
}

/**
 * The page `bytes` (just encoded from `node` by `encodePage`, so trusted) as a page read from
 * disk: what the cache keeps of a page just written, instead of the dirty node's arrays.
 */
export function storedNodeOf(node: IndexNode, bytes: Buffer): IndexNode {
  const count = node.keys.length;
  const keyStarts = new Array<number>(count);
  let position = PAGE_HEADER_BYTES;
  if (node.kind === 'branch') {
    for (let index = 0; index < count; index++) {
      keyStarts[index] = position + 2;
      position += 2 + ((bytes[position] as number) | ((bytes[position + 1] as number) << 8));
    }
    return new StoredBranch(bytes, keyStarts, position, prefixLengthOf(bytes, keyStarts));
  }
  const valueStarts = new Array<number>(count);
  for (let index = 0; index < count; index++) {
    keyStarts[index] = position + 2;
    position += 2 + ((bytes[position] as number) | ((bytes[position + 1] as number) << 8));
    valueStarts[index] = position + 4;
    position += 4 + u32At(bytes, position);
  }
  return new StoredLeaf(bytes, keyStarts, valueStarts, prefixLengthOf(bytes, keyStarts));
}

function prefixLengthOf(bytes: Buffer, keyStarts: readonly number[]): number {
  const count = keyStarts.length;
  return count === 0
    ? 0
    : sharedPrefixLength(bytes, keyStarts[0] as number, keyStarts[count - 1] as number);
}

/**
 * The bytes a node holds in memory, for the page cache's budget: a page read from disk is
 * charged by its encoded length (what it holds, besides its keys), a node just written by its
 * size estimate; decoded pages take about twice their encoded size.
 */
export function cachedBytesOf(node: IndexNode): number {
  const encodedBytes = node instanceof StoredPage ? node.bytes.length : node.sizeBytes;
  return encodedBytes * 2;
}

/**
 * Decodes a page from untrusted bytes; anything malformed is `JOURNAL_CORRUPT` at `offset`.
 * Every length is checked against what is left before it is used; keys must be sorted and
 * distinct (the descent relies on it); a child must lie before its parent (no cycles); the
 * page must end exactly where its entries do. Keys and values stay in `bytes`.
 */
export function decodePage(bytes: Buffer, offset: number): IndexNode {
  const length = bytes.length;
  if (length < PAGE_HEADER_BYTES) throw malformed(offset, 'is cut short');
  const kind = bytes[0] as number;
  const count = (bytes[2] as number) | ((bytes[3] as number) << 8);
  if ((kind !== 0 && kind !== 1) || bytes[1] !== 0) throw malformed(offset, 'kind malformed');
  if (count > INDEX_PAGE_KEYS_MAX) throw malformed(offset, 'has too many keys');
  const keyStarts = new Array<number>(count);
  let position = PAGE_HEADER_BYTES;
  if (kind === 1) {
    for (let index = 0; index < count; index++) {
      const keyStart = position + 2;
      if (keyStart > length) throw malformed(offset, 'is cut short');
      position = keyStart + ((bytes[position] as number) | ((bytes[position + 1] as number) << 8));
      if (position > length) throw malformed(offset, 'is cut short');
      if (index > 0 && compareStoredKeys(bytes, keyStarts[index - 1] as number, keyStart) >= 0) {
        throw malformed(offset, 'keys out of order');
      }
      keyStarts[index] = keyStart;
    }
    if (position + (count + 1) * CHILD_ENTRY_BYTES !== length) {
      throw malformed(offset, 'children malformed');
    }
    checkChildren(bytes, position, offset);
    return new StoredBranch(bytes, keyStarts, position, prefixLengthOf(bytes, keyStarts));
  }
  const valueStarts = new Array<number>(count);
  for (let index = 0; index < count; index++) {
    const keyStart = position + 2;
    if (keyStart > length) throw malformed(offset, 'is cut short');
    position = keyStart + ((bytes[position] as number) | ((bytes[position + 1] as number) << 8));
    // The value's length field must fit too: one check for both.
    if (position + 4 > length) throw malformed(offset, 'is cut short');
    if (index > 0 && compareStoredKeys(bytes, keyStarts[index - 1] as number, keyStart) >= 0) {
      throw malformed(offset, 'keys out of order');
    }
    keyStarts[index] = keyStart;
    const valueStart = position + 4;
    position =
      valueStart +
      ((bytes[position] as number) |
        ((bytes[position + 1] as number) << 8) |
        ((bytes[position + 2] as number) << 16)) +
      (bytes[position + 3] as number) * 0x100_0000;
    if (position > length) throw malformed(offset, 'is cut short');
    valueStarts[index] = valueStart;
  }
  if (position !== length) throw malformed(offset, 'has bytes after its entries');
  return new StoredLeaf(bytes, keyStarts, valueStarts, prefixLengthOf(bytes, keyStarts));
}

/**
 * Checks a branch's child references: a child is written before its parent, so a reference
 * forward is a forged page, and would let a cycle make a lookup loop forever; a child's length
 * is bounded before anyone reads by it.
 */
function checkChildren(bytes: Buffer, childrenStart: number, offset: number): void {
  for (let child = childrenStart; child < bytes.length; child += CHILD_ENTRY_BYTES) {
    const childOffset =
      ((bytes[child] as number) |
        ((bytes[child + 1] as number) << 8) |
        ((bytes[child + 2] as number) << 16)) +
      (bytes[child + 3] as number) * 0x100_0000 +
      ((bytes[child + 4] as number) | ((bytes[child + 5] as number) << 8)) * 0x1_0000_0000;
    const childLength =
      ((bytes[child + 12] as number) |
        ((bytes[child + 13] as number) << 8) |
        ((bytes[child + 14] as number) << 16)) +
      (bytes[child + 15] as number) * 0x100_0000;
    if (childOffset >= offset || childLength > RECORD_MAX_BYTES) {
      throw malformed(offset, 'child reference malformed');
    }
  }
}
