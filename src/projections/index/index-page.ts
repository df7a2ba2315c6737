import { Packr } from 'msgpackr';
import { CartridgeError } from '../../errors.js';
import { assert } from '../../assert.js';
import { INDEX_PAGE_KEYS_MAX, RECORD_MAX_BYTES } from '../../limits.js';

/**
 * The pages of the catalog index and their bytes. A page is the blob of an `index.page`
 * record: a msgpack array, deterministic for the same content.
 *
 * - leaf: `[0, [key, ...], [value, ...]]`, values msgpack-encoded bytes (`bin`);
 * - branch: `[1, [separator, ...], [childOffset, ...], [childSequence, ...],
 *   [childLengthBytes, ...]]` with one more child than separators; child `i` holds the keys
 *   `k` with `separator[i - 1] <= k < separator[i]`; its record's length lets a load read it
 *   with one `pread` (0: unknown, read the header first).
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

const packer = new Packr({ useRecords: false, mapsAsObjects: false, variableMapSize: true });

export function encodePage(node: IndexNode): Buffer {
  if (node.kind === 'leaf') return Buffer.from(packer.pack([0, node.keys, node.values]));
  const offsets: number[] = [];
  const sequences: number[] = [];
  const lengths: number[] = [];
  for (const child of node.children) {
    assert(!isNode(child), 'a branch is encoded only once its children are written');
    offsets.push(child.offset);
    sequences.push(child.sequence);
    lengths.push(child.lengthBytes ?? 0);
  }
  return Buffer.from(packer.pack([1, node.keys, offsets, sequences, lengths]));
}

function malformed(offset: number, detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `index page ${detail}`, { offset });
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function stringsOf(value: unknown, offset: number): string[] {
  if (!Array.isArray(value) || value.length > INDEX_PAGE_KEYS_MAX) {
    throw malformed(offset, 'keys malformed');
  }
  for (let index = 0; index < value.length; index++) {
    if (typeof value[index] !== 'string') throw malformed(offset, 'key is not text');
    // Keys are sorted and distinct: the tree's descent relies on it.
    if (index > 0 && !((value[index - 1] as string) < (value[index] as string))) {
      throw malformed(offset, 'keys out of order');
    }
  }
  return value as string[];
}

/** Decodes a page from untrusted bytes; anything malformed is `JOURNAL_CORRUPT` at `offset`. */
export function decodePage(bytes: Buffer, offset: number): IndexNode {
  let value: unknown;
  try {
    value = packer.unpack(bytes);
  } catch (error) {
    throw new CartridgeError('JOURNAL_CORRUPT', 'index page is not msgpack', {
      offset,
      cause: error,
    });
  }
  if (!Array.isArray(value) || (value[0] !== 0 && value[0] !== 1)) {
    throw malformed(offset, 'kind malformed');
  }
  const keys = stringsOf(value[1], offset);
  if (value[0] === 0) {
    const values = value[2];
    if (value.length !== 3 || !Array.isArray(values) || values.length !== keys.length) {
      throw malformed(offset, 'leaf malformed');
    }
    let sizeBytes = PAGE_OVERHEAD_BYTES;
    const buffers: Buffer[] = new Array<Buffer>(values.length);
    for (let index = 0; index < values.length; index++) {
      const entry = values[index] as unknown;
      if (!(entry instanceof Uint8Array)) throw malformed(offset, 'value is not bytes');
      const buffer = Buffer.isBuffer(entry) ? entry : Buffer.from(entry);
      buffers[index] = buffer;
      sizeBytes += entryBytes(keys[index] as string, buffer);
    }
    return { kind: 'leaf', keys, values: buffers, sizeBytes };
  }
  const [, , offsets, sequences, lengths] = value as unknown[];
  if (
    value.length !== 5 ||
    !Array.isArray(offsets) ||
    !Array.isArray(sequences) ||
    !Array.isArray(lengths) ||
    offsets.length !== keys.length + 1 ||
    sequences.length !== offsets.length ||
    lengths.length !== offsets.length
  ) {
    throw malformed(offset, 'branch malformed');
  }
  const children: Child[] = new Array<Child>(offsets.length);
  let sizeBytes = PAGE_OVERHEAD_BYTES + CHILD_REF_BYTES;
  for (let index = 0; index < offsets.length; index++) {
    const childOffset = offsets[index] as unknown;
    const childSequence = sequences[index] as unknown;
    const childLength = lengths[index] as unknown;
    // A child is written before its parent: a reference forward is a forged page, and would
    // let a cycle make a lookup loop forever. Its length is checked before anyone reads by it.
    if (
      !isCount(childOffset) ||
      !isCount(childSequence) ||
      !isCount(childLength) ||
      childLength > RECORD_MAX_BYTES ||
      childOffset >= offset
    ) {
      throw malformed(offset, 'child reference malformed');
    }
    children[index] = { offset: childOffset, sequence: childSequence, lengthBytes: childLength };
  }
  for (const key of keys) sizeBytes += separatorBytes(key);
  return { kind: 'branch', keys, children, sizeBytes };
}
