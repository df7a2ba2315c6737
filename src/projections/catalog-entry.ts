import { CartridgeError } from '../errors.js';
import { hexKey, isCount, packValue, unpackValue } from './index/index-values.js';
import {
  EXTENT_FIELDS,
  extentsFromFlat,
  flattenExtents,
  writeFlatExtents,
} from '../journal/event-codec.js';
import { DirectReader, writeNumber } from '../journal/direct-msgpack.js';
import type { Extent } from '../journal/journal-event.js';
import { INLINE_EXTENTS_MAX } from '../limits.js';
import { ROOT_PATH } from '../path/canonical-path.js';

/**
 * How the catalog lays itself out in the index: the keys, and the bytes of each value.
 *
 * Keys (compared as JavaScript strings, which is what keeps listings sorted by name):
 * - `E` + parent path + NUL + name: a catalog entry (`E` alone is the root). The children of
 *   a directory are one contiguous key range, so listing walks just them; names never hold
 *   NUL, so the range holds no grandchildren.
 * - `X` + inode (12 hex digits) + file offset (12 hex digits): one extent of a file whose map
 *   outgrew its entry. A file's extents are one key range in file order.
 * - `D` + parent path + NUL + name: the tombstone of a deleted path, naming the record that
 *   deleted it, so that its version chain (see `VersionLink`) survives the deletion.
 * - `Y` + inode (12 hex digits): the marker saying that the record reference counts of a file
 *   whose map lives under `X` keys are present; `Y` + inode + record offset (12 hex digits
 *   each): how many of the file's extents lie in that record. A patch (see
 *   `patched-extents.ts`) needs them to know when a record stops being live without reading
 *   the whole map; they are built at the first patch of such a file and dropped by any other
 *   change of its map (a write, an append, a consolidation, a deletion, a restore).
 *
 * Values are msgpack arrays:
 * - directory `[1, inode, mode, createdAtMs, modifiedAtMs, versionOffset, childCount]`;
 * - file `[0, inode, mode, createdAtMs, modifiedAtMs, versionOffset, sizeBytes, recordBytes,
 *   extentCount, runStartOffset, runCount, inlineExtents | null, contentOffset]`, where
 *   `versionOffset` is the record of the entry's last change (the head of its version chain),
 *   `contentOffset` the record that produced its content (a restore copies it, so diff sees
 *   restored content as unchanged), `recordBytes` is the journal bytes
 *   of the records its extents live in, the run is the trailing run of small extents that
 *   consolidation will rewrite, and `inlineExtents` (flat, as in record bodies) holds the map
 *   when it has at most INLINE_EXTENTS_MAX extents (null: the map is under `X` keys).
 * - extent `[recordOffset, recordSequence, blobOffset, lengthBytes, recordLengthBytes]`.
 * - tombstone `[deletedAtOffset]`.
 * - reference marker `[0]`; reference count `[extentCount]` (at least 1: a count that reaches 0
 *   is deleted).
 */

export const FILE_MODE_DEFAULT = 0o644;
export const DIRECTORY_MODE_DEFAULT = 0o755;
export const ROOT_INODE = 1;

interface NodeCommon {
  readonly inode: number;
  readonly mode: number;
  readonly createdAtMs: number;
  readonly modifiedAtMs: number;
  /** The record of the entry's last change: the newest link of its version chain. */
  readonly versionOffset: number;
}

export interface FileNode extends NodeCommon {
  readonly kind: 'file';
  readonly sizeBytes: number;
  readonly recordBytes: number;
  readonly extentCount: number;
  readonly runStartOffset: number;
  readonly runCount: number;
  /** The extents when they fit in the entry; `null` when they live under extent keys. */
  readonly inlineExtents: readonly Extent[] | null;
  /** The record whose write produced the current content (kept by consolidation and restore). */
  readonly contentOffset: number;
}

export interface DirectoryNode extends NodeCommon {
  readonly kind: 'directory';
  readonly childCount: number;
}

export type CatalogNode = FileNode | DirectoryNode;

export const ENTRY_PREFIX = 'E';
const EXTENT_PREFIX = 'X';
const TOMBSTONE_PREFIX = 'D';
const REFERENCE_PREFIX = 'Y';
/** Sorts after every hex digit: the end of a file's extent range. */
const EXTENT_RANGE_END = 'g';

export function entryKey(path: string): string {
  if (path === ROOT_PATH) return ENTRY_PREFIX;
  // `parentOf` and `nameOf` with one search for the last slash: a created file's keys are
  // built several times per record.
  const slash = path.lastIndexOf('/');
  const parent = slash <= 0 ? ROOT_PATH : path.slice(0, slash);
  return `${ENTRY_PREFIX}${parent}\u0000${path.slice(slash + 1)}`;
}

export function tombstoneKey(path: string): string {
  return tombstoneKeyOf(entryKey(path));
}

/** Every tombstone key is in `[start, end)`. */
export const TOMBSTONE_KEY_RANGE = {
  start: TOMBSTONE_PREFIX,
  end: String.fromCharCode(TOMBSTONE_PREFIX.charCodeAt(0) + 1),
} as const;

/** The tombstone key of the path whose entry key is `key`. */
export function tombstoneKeyOf(key: string): string {
  return `${TOMBSTONE_PREFIX}${key.slice(ENTRY_PREFIX.length)}`;
}

/** The canonical path of an entry key (the inverse of `entryKey`). */
export function pathOfEntryKey(key: string): string {
  if (key === ENTRY_PREFIX) return ROOT_PATH;
  const separator = key.indexOf('\u0000');
  if (separator < 0) throw corrupt('entry key malformed');
  const parent = key.slice(ENTRY_PREFIX.length, separator);
  const name = key.slice(separator + 1);
  return parent === ROOT_PATH ? `/${name}` : `${parent}/${name}`;
}

/** The key range of a directory's children: `[start, end)`. */
export function childrenRange(path: string): [string, string] {
  return [`${ENTRY_PREFIX}${path}\u0000`, `${ENTRY_PREFIX}${path}\u0001`];
}

export function extentKey(inode: number, fileOffset: number): string {
  return `${EXTENT_PREFIX}${hexKey(inode)}${hexKey(fileOffset)}`;
}

/** The key range of a file's extents from `fileOffset` on. */
export function extentRange(inode: number, fileOffset: number): [string, string] {
  return [extentKey(inode, fileOffset), `${EXTENT_PREFIX}${hexKey(inode)}${EXTENT_RANGE_END}`];
}

/** The marker of a file's record reference counts (see the key list above). */
export function referenceMarkerKey(inode: number): string {
  return `${REFERENCE_PREFIX}${hexKey(inode)}`;
}

/** The key of how many of a file's extents lie in the record at `recordOffset`. */
export function referenceKey(inode: number, recordOffset: number): string {
  return `${REFERENCE_PREFIX}${hexKey(inode)}${hexKey(recordOffset)}`;
}

/** The key range of a file's reference marker and counts. */
export function referenceRange(inode: number): [string, string] {
  return [referenceMarkerKey(inode), `${REFERENCE_PREFIX}${hexKey(inode)}${EXTENT_RANGE_END}`];
}

export const REFERENCE_MARKER: Buffer = packValue([0]);

export function encodeReferenceCount(count: number): Buffer {
  return packValue([count]);
}

export function decodeReferenceCount(bytes: Buffer): number {
  const value = unpackValue(bytes, 'catalog');
  const count = value[0];
  if (value.length !== 1 || !isCount(count) || count === 0) {
    throw corrupt('reference count malformed');
  }
  return count;
}

/**
 * Encodes an entry for the index. The entry is not kept on its value here (see `decodeNode`):
 * the node is the writer's own object, and what a lookup finds must be what the bytes say, so
 * the first lookup decodes it.
 *
 * Creating a file encodes two entries (the file's and its parent's), and msgpackr's general
 * encoder (an array built to hold the fields, the spread of the common ones, the flat extents,
 * a call per item) was a tenth of the catalog's fold. The fields are written straight into a
 * scratch buffer with the writers that give msgpackr's bytes (`direct-msgpack.ts`); a property
 * test holds the two encodings byte for byte together (`encodeNodeGeneral`).
 */
export function encodeNode(node: CatalogNode): Buffer {
  const inline = node.kind === 'file' ? node.inlineExtents : null;
  // Every number takes at most 9 bytes and an array header at most 5.
  const boundBytes = 5 + 13 * 9 + (inline === null ? 0 : 5 + inline.length * EXTENT_FIELDS * 9);
  if (entrySlab.length - entrySlabOffset < boundBytes) {
    entrySlab = Buffer.allocUnsafeSlow(Math.max(ENTRY_SLAB_BYTES, boundBytes));
    entrySlabOffset = 0;
  }
  const target = entrySlab;
  const start = entrySlabOffset;
  let position: number;
  if (node.kind === 'directory') {
    target[start] = FIXARRAY_TAG + DIRECTORY_FIELDS;
    target[start + 1] = 1;
    position = writeCommon(target, start, node);
    position = writeNumber(target, position, node.childCount);
  } else {
    target[start] = FIXARRAY_TAG + FILE_FIELDS;
    target[start + 1] = 0;
    position = writeCommon(target, start, node);
    position = writeNumber(target, position, node.sizeBytes);
    position = writeNumber(target, position, node.recordBytes);
    position = writeNumber(target, position, node.extentCount);
    position = writeNumber(target, position, node.runStartOffset);
    position = writeNumber(target, position, node.runCount);
    if (inline === null) {
      target[position++] = MSGPACK_NIL;
    } else {
      position = writeFlatExtents(target, position, inline);
    }
    position = writeNumber(target, position, node.contentOffset);
  }
  // The entry is a view of the slab, which later entries never overwrite: what `Buffer.from`
  // of a small buffer gives too (a view of Node's pool), without the copy.
  entrySlabOffset = position;
  return target.subarray(start, position);
}

/**
 * Where `encodeNode` writes its entries, one after the other (encoding is not reentrant): a
 * slab as large as Node's own pool for small buffers, so an entry kept holds no more memory
 * than a copy of it did.
 */
const ENTRY_SLAB_BYTES = 8192;
let entrySlab = Buffer.allocUnsafeSlow(ENTRY_SLAB_BYTES);
let entrySlabOffset = 0;

/** Msgpack's nil, what an entry without inline extents holds in their place. */
const MSGPACK_NIL = 0xc0;

/** The fields every entry starts with, after its kind (2 bytes after `start`). */
function writeCommon(target: Buffer, start: number, node: CatalogNode): number {
  let position = writeNumber(target, start + 2, node.inode);
  position = writeNumber(target, position, node.mode);
  position = writeNumber(target, position, node.createdAtMs);
  position = writeNumber(target, position, node.modifiedAtMs);
  return writeNumber(target, position, node.versionOffset);
}

/** The entry through msgpackr's general encoder: what `encodeNode` must equal, byte for byte. */
export function encodeNodeGeneral(node: CatalogNode): Buffer {
  const common = [node.inode, node.mode, node.createdAtMs, node.modifiedAtMs, node.versionOffset];
  if (node.kind === 'directory') return packValue([1, ...common, node.childCount]);
  return packValue([
    0,
    ...common,
    node.sizeBytes,
    node.recordBytes,
    node.extentCount,
    node.runStartOffset,
    node.runCount,
    node.inlineExtents === null ? null : flattenExtents(node.inlineExtents),
    node.contentOffset,
  ]);
}

function corrupt(detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `catalog ${detail}`);
}

/**
 * An entry decoded once is kept on the very value the index holds, under this symbol. Index
 * values are never changed in place (a change stores a new value) and decoded nodes are
 * read-only, so a node found there is the decoding of those bytes; an entry read again and
 * again (a hot file, a directory on every path below it) is decoded once while its page stays
 * cached, and an evicted page's values take their nodes with them.
 *
 * It was a `WeakMap` keyed by the value: the same lifetime, but V8 gives an object an identity
 * hash and an ephemeron entry on first use, 0.55 µs for a value seen once (every cold read, and
 * a directory's entry after each child created), against 0.02 µs for a property. The values are
 * the engine's own buffers (page views and entry slabs), never handed to callers.
 */
const DECODED = Symbol('decoded catalog entry');

type DecodedValue = Buffer & { [DECODED]?: CatalogNode };

/** Decodes an entry from index bytes (untrusted: malformed is `JOURNAL_CORRUPT`). */
export function decodeNode(bytes: Buffer): CatalogNode {
  const value = bytes as DecodedValue;
  const known = value[DECODED];
  if (known !== undefined) return known;
  const node = readNodeDirect(bytes) ?? decodeNodeBytes(bytes);
  value[DECODED] = node;
  return node;
}

/*
 * Every read of a file decodes its entry, most of them right after open, in code V8 has not
 * optimised: msgpack's general path (an array of items, then a check per item, then a
 * `Fields` walk for the inline extents) was a tenth of a cold read. `readNodeDirect` reads
 * the shape the catalog writes (a fixed-length array of counts, the inline extents as a short
 * array of counts or nil) straight into the entry, accepting exactly what the general path
 * accepts; for anything else it returns undefined and the general path decides (so damaged
 * bytes are reported as before).
 */

/** The reader of `readNodeDirect`, reset for each entry (decoding is never reentrant). */
const reader = new DirectReader();

/** Msgpack's tag of a fixed array of `count` items (up to 15). */
const FIXARRAY_TAG = 0x90;
const DIRECTORY_FIELDS = 7;
const FILE_FIELDS = 13;

/** An entry in the shape the catalog writes it, or undefined for the general path to decide. */
function readNodeDirect(bytes: Buffer): CatalogNode | undefined {
  const fieldCount = (bytes[0] as number) - FIXARRAY_TAG;
  if (fieldCount !== FILE_FIELDS && fieldCount !== DIRECTORY_FIELDS) return undefined;
  reader.reset(bytes, 1);
  const kind = reader.count();
  if (kind !== (fieldCount === FILE_FIELDS ? 0 : 1)) return undefined;
  const inode = reader.count();
  const mode = reader.count();
  const createdAtMs = reader.count();
  const modifiedAtMs = reader.count();
  const versionOffset = reader.count();
  if (inode < 0 || mode < 0 || createdAtMs < 0 || modifiedAtMs < 0 || versionOffset < 0) {
    return undefined;
  }
  if (kind === 1) {
    const childCount = reader.count();
    if (childCount < 0 || !reader.atEnd) return undefined;
    return { kind: 'directory', inode, mode, createdAtMs, modifiedAtMs, versionOffset, childCount };
  }
  const sizeBytes = reader.count();
  const recordBytes = reader.count();
  const extentCount = reader.count();
  const runStartOffset = reader.count();
  const runCount = reader.count();
  if (sizeBytes < 0 || recordBytes < 0 || extentCount < 0 || runStartOffset < 0 || runCount < 0) {
    return undefined;
  }
  let inlineExtents: Extent[] | null = null;
  if (!reader.nil()) {
    const flatCount = (reader.peek() ?? 0) - FIXARRAY_TAG;
    if (flatCount < 0 || flatCount > 15 || flatCount !== extentCount * EXTENT_FIELDS) {
      return undefined;
    }
    if (flatCount > INLINE_EXTENTS_MAX * EXTENT_FIELDS) return undefined;
    reader.position++;
    inlineExtents = new Array<Extent>(extentCount);
    for (let index = 0; index < extentCount; index++) {
      const recordOffset = reader.count();
      const recordSequence = reader.count();
      const blobOffset = reader.count();
      const lengthBytes = reader.count();
      const recordLengthBytes = reader.count();
      if (
        recordOffset < 0 ||
        recordSequence < 0 ||
        blobOffset < 0 ||
        lengthBytes < 0 ||
        recordLengthBytes < 0
      ) {
        return undefined;
      }
      inlineExtents[index] = {
        recordOffset,
        recordSequence,
        blobOffset,
        lengthBytes,
        recordLengthBytes,
      };
    }
  }
  const contentOffset = reader.count();
  if (contentOffset < 0 || !reader.atEnd) return undefined;
  return {
    kind: 'file',
    inode,
    mode,
    createdAtMs,
    modifiedAtMs,
    versionOffset,
    sizeBytes,
    recordBytes,
    extentCount,
    runStartOffset,
    runCount,
    inlineExtents,
    contentOffset,
  };
}

/** The general path of `decodeNode` (exported for the test that compares the two paths). */
export function decodeNodeBytes(bytes: Buffer): CatalogNode {
  const value = unpackValue(bytes, 'catalog');
  const [kind, inode, mode, createdAtMs, modifiedAtMs, versionOffset] = value;
  if (
    !isCount(inode) ||
    !isCount(mode) ||
    !isCount(createdAtMs) ||
    !isCount(modifiedAtMs) ||
    !isCount(versionOffset)
  ) {
    throw corrupt('entry malformed');
  }
  if (kind === 1) {
    const childCount = value[6];
    if (value.length !== 7 || !isCount(childCount)) throw corrupt('directory malformed');
    return { kind: 'directory', inode, mode, createdAtMs, modifiedAtMs, versionOffset, childCount };
  }
  const [, , , , , , sizeBytes, recordBytes, extentCount, runStartOffset, runCount, inline] = value;
  const contentOffset = value[12];
  const countsValid =
    kind === 0 &&
    value.length === 13 &&
    isCount(contentOffset) &&
    isCount(sizeBytes) &&
    isCount(recordBytes) &&
    isCount(extentCount) &&
    isCount(runStartOffset) &&
    isCount(runCount);
  if (!countsValid) throw corrupt('file malformed');
  let inlineExtents: Extent[] | null = null;
  if (inline !== null) {
    if (!Array.isArray(inline) || inline.length > INLINE_EXTENTS_MAX * EXTENT_FIELDS) {
      throw corrupt('inline extents malformed');
    }
    inlineExtents = extentsFromFlat(inline);
    if (inlineExtents.length !== extentCount) throw corrupt('extent count disagrees');
  }
  return {
    kind: 'file',
    inode,
    mode,
    createdAtMs,
    modifiedAtMs,
    versionOffset,
    sizeBytes,
    recordBytes,
    extentCount,
    runStartOffset,
    runCount,
    inlineExtents,
    contentOffset,
  };
}

export function encodeExtent(extent: Extent): Buffer {
  return packValue(flattenExtents([extent]));
}

export function decodeExtent(bytes: Buffer): Extent {
  const value = unpackValue(bytes, 'catalog');
  if (value.length !== EXTENT_FIELDS) throw corrupt('extent malformed');
  return extentsFromFlat(value)[0] as Extent;
}

export function encodeTombstone(deletedAtOffset: number): Buffer {
  return packValue([deletedAtOffset]);
}

export function decodeTombstone(bytes: Buffer): number {
  const value = unpackValue(bytes, 'catalog');
  const offset = value[0];
  if (value.length !== 1 || !isCount(offset)) throw corrupt('tombstone malformed');
  return offset;
}
