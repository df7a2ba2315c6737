import fc from 'fast-check';
import { compressSync } from 'lz4-napi';
import { encodeEvent, recordTypeOf } from '../../src/journal/event-codec.js';
import {
  encodeFileHeader,
  type FileHeader,
  JOURNAL_START_OFFSET,
} from '../../src/journal/file-header.js';
import { chainRootOf } from '../../src/journal/hashing.js';
import type { Extent, JournalEvent } from '../../src/journal/journal-event.js';
import { chainHashOfRecord } from '../../src/journal/journal-reader.js';
import {
  blobHashOf,
  chainHashOf,
  encodeFrameHeader,
  FLAG_COMMIT,
  FRAME_HEADER_BYTES,
  linkOf,
  payloadChecksumOf,
} from '../../src/journal/record-frame.js';
import { parentOf } from '../../src/path/canonical-path.js';
import {
  type CatalogNode,
  encodeExtent,
  encodeNode,
  entryKey,
  extentKey,
} from '../../src/projections/catalog-entry.js';
import { encodePage, type PageRef } from '../../src/projections/index/index-page.js';
import { type BuiltCartridge, headerOf, logTextOf, recordsOf } from './built-cartridge.js';
import { packAll, zstdCompress } from './fuzz-decoders.js';
import { merkleSectionFor } from '../support/merkle-section.js';

/**
 * Forged journals: records whose header checksum, payload checksum and chain links are all
 * valid, so that only the meaning of their content can be wrong. This is what a hostile file
 * can do (nothing in the format is secret). Most records are "faithful": paths and kinds are
 * repaired so that the catalog accepts them, which lets the hostile numbers (sizes, extents,
 * codecs, consolidation runs, index pages and checkpoint roots) travel deep into open, reads
 * and verify.
 */

const forgedCount = fc.oneof(
  { weight: 8, arbitrary: fc.nat(64) },
  { weight: 2, arbitrary: fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1) },
);
const forgedPath = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom('/a', '/b', '/d', '/d/x', '/d/y', '/a/b') },
  { weight: 1, arbitrary: fc.constantFrom('/', '', 'a', '/d/', '/d/../a', '/./a', '//a') },
);

/**
 * A record named by the index of a forged record ('previous': the record just before, often
 * the data record a content record continues; 'self': the record that holds the reference;
 * 'forward': a byte past the start of that record, where no earlier record can be), resolved
 * when the journal is built.
 */
type ForgedTarget = number | 'previous' | 'self' | 'forward';

const forgedTarget: fc.Arbitrary<ForgedTarget> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('previous' as const) },
  { weight: 2, arbitrary: fc.nat(12) },
  { weight: 1, arbitrary: fc.constantFrom('self' as const, 'forward' as const) },
);

/**
 * An extent of a forged record; 'whole' is the declared length of that record's blob and
 * 'true' the record's real length in the journal.
 */
interface ForgedExtent {
  readonly target: ForgedTarget;
  readonly blobOffset: number;
  readonly lengthBytes: number | 'whole';
  readonly recordLengthBytes: number | 'true';
  readonly wrongSequence: boolean;
}

const HONEST_EXTENT: ForgedExtent = {
  target: 'previous',
  blobOffset: 0,
  lengthBytes: 'whole',
  recordLengthBytes: 'true',
  wrongSequence: false,
};

const forgedExtent: fc.Arbitrary<ForgedExtent> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(HONEST_EXTENT) },
  {
    weight: 1,
    arbitrary: fc.record({
      target: forgedTarget,
      blobOffset: forgedCount,
      lengthBytes: fc.oneof(fc.constant('whole' as const), forgedCount),
      recordLengthBytes: fc.oneof(fc.constant('true' as const), forgedCount),
      wrongSequence: fc.boolean(),
    }),
  },
);

/**
 * The extents a content record lists besides its own blob (format 2 lists data records only):
 * mostly none, so that forged files can be read.
 */
const forgedExtents = fc.oneof(
  { weight: 3, arbitrary: fc.constant([] as ForgedExtent[]) },
  { weight: 2, arbitrary: fc.array(forgedExtent, { minLength: 1, maxLength: 3 }) },
);

type ContentType = 'file.created' | 'file.written' | 'file.appended';

/** A reference from a forged branch page or checkpoint root to a page. */
interface ForgedRef {
  readonly target: ForgedTarget | 'previous-page';
  readonly wrongSequence: boolean;
}

const forgedRef: fc.Arbitrary<ForgedRef> = fc.record({
  target: fc.oneof(
    { weight: 6, arbitrary: fc.constant('previous-page' as const) },
    { weight: 2, arbitrary: forgedTarget },
  ),
  wrongSequence: fc.oneof(
    { weight: 6, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

/** A catalog entry inside a forged leaf page. */
type ForgedNode =
  | { readonly kind: 'directory'; readonly inode: number; readonly childCount: number | 'true' }
  | {
      readonly kind: 'file';
      readonly inode: number;
      readonly sizeBytes: number | 'sum';
      readonly recordBytes: number | 'sum';
      readonly extents: readonly ForgedExtent[];
      /** False stores the map under extent keys, whatever its length. */
      readonly inline: boolean;
      readonly extentCountLie: number;
      readonly runCount: number;
    }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array };

const forgedNode: fc.Arbitrary<ForgedNode> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('directory' as const),
      inode: forgedCount,
      childCount: fc.oneof(fc.constant('true' as const), forgedCount),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('file' as const),
      inode: forgedCount,
      sizeBytes: fc.oneof(
        { weight: 3, arbitrary: fc.constant('sum' as const) },
        { weight: 1, arbitrary: forgedCount },
      ),
      recordBytes: fc.oneof(fc.constant('sum' as const), forgedCount),
      extents: fc.array(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant({ ...HONEST_EXTENT, target: 0 }) },
          { weight: 1, arbitrary: forgedExtent },
        ),
        { maxLength: 6 },
      ),
      inline: fc.boolean(),
      extentCountLie: fc.oneof(
        { weight: 6, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -1, max: 2 }) },
      ),
      runCount: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: forgedCount },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      bytes: fc.uint8Array({ maxLength: 24 }),
    }),
  },
);

/** An index page: a leaf of catalog entries (with the root, when faithful) or a branch. */
type ForgedPage =
  | { readonly kind: 'leaf'; readonly entries: readonly (readonly [string, ForgedNode])[] }
  | {
      readonly kind: 'branch';
      readonly separators: readonly string[];
      readonly children: readonly ForgedRef[];
    }
  | { readonly kind: 'bytes'; readonly bytes: Buffer };

const forgedPage: fc.Arbitrary<ForgedPage> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('leaf' as const),
      entries: fc.array(fc.tuple(forgedPath, forgedNode), { maxLength: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.array(forgedPath, { maxLength: 3 }),
        fc.array(forgedRef, { minLength: 1, maxLength: 4 }),
      )
      .map(([paths, children]) => ({
        kind: 'branch' as const,
        // Separators in order and distinct, one fewer than the children (decodePage checks both).
        separators: [...new Set(paths.map(entryKey))].sort().slice(0, children.length - 1),
        children,
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.anything(), { maxLength: 4 })
      .map((values) => ({ kind: 'bytes' as const, bytes: packAll([[0, ...values]]) })),
  },
);

/** A checkpoint root: sections whose counters mostly agree, naming a forged page. */
interface ForgedRoot {
  readonly root: ForgedRef;
  /**
   * Which chain hash the root records as the one before it: 'commit' is the truth; a record
   * index takes the hash before that record (stale); a number takes the hash before the root
   * as well (a variant kept so the seeds of earlier runs replay).
   */
  readonly commitStart: 'commit' | { readonly recordIndex: number } | { readonly offset: number };
  readonly counters: readonly [number, number, number];
  readonly allocator: readonly [number, number];
  readonly brokenChain: boolean;
}

const forgedRoot: fc.Arbitrary<ForgedRoot> = fc.record({
  root: forgedRef,
  commitStart: fc.oneof(
    { weight: 6, arbitrary: fc.constant('commit' as const) },
    { weight: 1, arbitrary: fc.record({ recordIndex: fc.nat(12) }) },
    { weight: 1, arbitrary: fc.record({ offset: fc.oneof(forgedCount, fc.nat(20_000)) }) },
  ),
  counters: fc.tuple(forgedCount, forgedCount, forgedCount),
  allocator: fc.tuple(forgedCount, forgedCount),
  brokenChain: fc.oneof(
    { weight: 6, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

/** A consolidation; 'run' is what makes it match the trailing extents the forger believes in. */
interface ForgedConsolidation {
  readonly path: string;
  readonly fileOffset: number | 'run';
  readonly replacedCount: number | 'run';
  readonly runLength: number;
}

type ForgedBody =
  | {
      readonly kind: 'content';
      readonly type: ContentType;
      readonly path: string;
      readonly sizeBytes: number | 'sum';
      readonly extents: readonly ForgedExtent[];
    }
  | { readonly kind: 'directory'; readonly path: string; readonly inode: number }
  | { readonly kind: 'delete'; readonly path: string }
  | { readonly kind: 'data' }
  | { readonly kind: 'page'; readonly page: ForgedPage }
  | { readonly kind: 'checkpoint'; readonly root: ForgedRoot }
  | ({ readonly kind: 'consolidation' } & ForgedConsolidation)
  | { readonly kind: 'raw'; readonly type: number; readonly body: Uint8Array };

export interface ForgedRecord {
  readonly body: ForgedBody;
  readonly blob: Uint8Array;
  readonly codec: 0 | 1 | 2;
  readonly rawLengthLie: number;
  readonly commit: boolean;
  /** Paths and kinds are repaired so that the catalog accepts the record. */
  readonly faithful: boolean;
}

const contentBody = fc.record({
  kind: fc.constant('content' as const),
  type: fc.constantFrom<ContentType>(
    'file.created',
    'file.created',
    'file.written',
    'file.appended',
  ),
  path: forgedPath,
  sizeBytes: fc.oneof(
    { weight: 3, arbitrary: fc.constant('sum' as const) },
    { weight: 1, arbitrary: forgedCount },
  ),
  extents: forgedExtents,
});

const consolidationBody = fc.record({
  kind: fc.constant('consolidation' as const),
  path: forgedPath,
  fileOffset: fc.oneof(
    { weight: 3, arbitrary: fc.constant('run' as const) },
    { weight: 1, arbitrary: forgedCount },
  ),
  replacedCount: fc.oneof(
    { weight: 3, arbitrary: fc.constant('run' as const) },
    { weight: 1, arbitrary: forgedCount },
  ),
  runLength: fc.integer({ min: 1, max: 4 }),
});

const forgedBody: fc.Arbitrary<ForgedBody> = fc.oneof(
  { weight: 12, arbitrary: contentBody },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('directory' as const),
      path: forgedPath,
      inode: forgedCount,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), path: forgedPath }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'data' as const }) },
  { weight: 3, arbitrary: forgedPage.map((page) => ({ kind: 'page' as const, page })) },
  { weight: 2, arbitrary: forgedRoot.map((root) => ({ kind: 'checkpoint' as const, root })) },
  { weight: 3, arbitrary: consolidationBody },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      type: fc.nat(255),
      body: fc.uint8Array({ maxLength: 64 }),
    }),
  },
);

export const forgedRecordArbitrary: fc.Arbitrary<ForgedRecord> = fc.record({
  body: forgedBody,
  blob: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) },
    { weight: 2, arbitrary: fc.constant(logTextOf(2000, 23)) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array()) },
  ),
  codec: fc.constantFrom(0 as const, 1 as const, 2 as const),
  rawLengthLie: fc.oneof(
    { weight: 9, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) },
  ),
  commit: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  faithful: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
});

// ---- building -----------------------------------------------------------------------------------

/** A record already placed in the forged journal. */
interface PlacedRecord {
  readonly offset: number;
  readonly sequence: number;
  readonly lengthBytes: number;
  /** The blob length its header declares. */
  readonly rawBlobLength: number;
  readonly isPage: boolean;
  /** The chain hash before the record. */
  readonly hashBefore: Buffer;
}

interface ForgeState {
  readonly parts: Buffer[];
  readonly records: PlacedRecord[];
  /**
   * What the forger believes the catalog holds, to repair faithful records: each path's kind
   * and, for files, the lengths of its extents in file order.
   */
  readonly entries: Map<string, 'directory' | number[]>;
  /** Each path's last change (the version chain's head, a tombstone's after a delete). */
  readonly versions: Map<string, number>;
  length: number;
  lastHash: Buffer;
  commitIndex: number;
  firstCheckpoint: number;
}

/** Where the record being placed will be, before its own bytes are known. */
interface Placing {
  readonly offset: number;
  readonly sequence: number;
  /** Its declared blob length (a record's own extents may name it). */
  readonly rawBlobLength: number;
}

function storedBlobOf(codec: 0 | 1 | 2, raw: Uint8Array): Buffer {
  if (codec === 1) return compressSync(Buffer.from(raw));
  if (codec === 2) return zstdCompress(raw);
  return Buffer.from(raw);
}

/** The record a target names, as an offset, sequence and lengths (self: the one being placed). */
function resolveTarget(
  state: ForgeState,
  placing: Placing,
  target: ForgedTarget | 'previous-page',
): PlacedRecord {
  const self: PlacedRecord = {
    ...placing,
    lengthBytes: FRAME_HEADER_BYTES,
    isPage: false,
    hashBefore: state.lastHash,
  };
  if (target === 'self') return self;
  if (target === 'forward') return { ...self, offset: placing.offset + 1 };
  const records = state.records;
  if (target === 'previous') return records[records.length - 1] as PlacedRecord;
  if (target === 'previous-page') {
    return [...records].reverse().find((record) => record.isPage) ?? (records[0] as PlacedRecord);
  }
  return records[target % records.length] as PlacedRecord;
}

function resolveExtents(
  state: ForgeState,
  placing: Placing,
  extents: readonly ForgedExtent[],
): Extent[] {
  return extents.map((extent) => {
    const target = resolveTarget(state, placing, extent.target);
    return {
      recordOffset: target.offset,
      recordSequence: target.sequence + (extent.wrongSequence ? 1 : 0),
      blobOffset: extent.blobOffset,
      lengthBytes: extent.lengthBytes === 'whole' ? target.rawBlobLength : extent.lengthBytes,
      recordLengthBytes:
        extent.recordLengthBytes === 'true' ? target.lengthBytes : extent.recordLengthBytes,
    };
  });
}

function resolveRef(state: ForgeState, placing: Placing, ref: ForgedRef): PageRef {
  const target = resolveTarget(state, placing, ref.target);
  return { offset: target.offset, sequence: target.sequence + (ref.wrongSequence ? 1 : 0) };
}

function canCreate(state: ForgeState, path: string): boolean {
  return (
    path !== '/' && !state.entries.has(path) && state.entries.get(parentOf(path)) === 'directory'
  );
}

function freshPath(state: ForgeState, prefix: string): string {
  return `/${prefix}${state.records.length}`;
}

/** A path and type the catalog accepts for a content record: create new, rewrite existing. */
function repairContent(
  state: ForgeState,
  type: ContentType,
  path: string,
): { type: ContentType; path: string } {
  if (Array.isArray(state.entries.get(path)))
    return { type: type === 'file.created' ? 'file.written' : type, path };
  if (canCreate(state, path)) return { type: 'file.created', path };
  return { type: 'file.created', path: freshPath(state, 'f') };
}

function isEmptyDirectoryOrFile(state: ForgeState, path: string): boolean {
  if (!state.entries.has(path) || path === '/') return false;
  return ![...state.entries.keys()].some((other) => other.startsWith(`${path}/`));
}

function sumOf(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** The event of a faithful or unfaithful content body, keeping `state.entries` up to date. */
function contentEventOf(
  state: ForgeState,
  record: ForgedRecord,
  body: Extract<ForgedBody, { kind: 'content' }>,
  placing: Placing,
): JournalEvent {
  const { type, path } = record.faithful ? repairContent(state, body.type, body.path) : body;
  const extents = resolveExtents(state, placing, body.extents);
  // The record's own blob is the file's last extent, implied.
  const lengths = extents.map((extent) => extent.lengthBytes);
  if (placing.rawBlobLength > 0) lengths.push(placing.rawBlobLength);
  const common = {
    path,
    atMs: 0,
    sizeBytes: body.sizeBytes === 'sum' ? sumOf(lengths) : body.sizeBytes,
    extents,
    previous: linkVersion(state, path, placing.offset),
  };
  const before = state.entries.get(path);
  state.entries.set(
    path,
    type === 'file.appended' && Array.isArray(before) ? [...before, ...lengths] : lengths,
  );
  const inode = 100 + state.records.length;
  return type === 'file.created' ? { type, inode, mode: 0o644, ...common } : { type, ...common };
}

/** A consolidation of the trailing run the forger believes in, or of forged numbers. */
function consolidationOf(
  state: ForgeState,
  record: ForgedRecord,
  body: Extract<ForgedBody, { kind: 'consolidation' }>,
): { event: JournalEvent; blob: Uint8Array } {
  let path = body.path;
  if (record.faithful) {
    const files = [...state.entries].filter(
      (entry): entry is [string, number[]] => Array.isArray(entry[1]) && entry[1].length >= 2,
    );
    path = (files.find(([candidate]) => candidate === body.path) ?? files[0])?.[0] ?? body.path;
  }
  const lengths = state.entries.get(path);
  const extents = Array.isArray(lengths) ? lengths : [];
  const runLength = Math.max(2, Math.min(body.runLength, extents.length));
  const run = extents.slice(extents.length - runLength);
  const fileOffset = body.fileOffset === 'run' ? sumOf(extents) - sumOf(run) : body.fileOffset;
  const replacedCount = body.replacedCount === 'run' ? run.length : body.replacedCount;
  // The blob holds as many bytes as the run (the bytes themselves are not what is checked).
  const blob = Buffer.alloc(Math.min(sumOf(run), 64 * 1024), 0x61);
  if (Array.isArray(lengths) && body.fileOffset === 'run' && body.replacedCount === 'run') {
    state.entries.set(path, [...extents.slice(0, extents.length - run.length), blob.length]);
  }
  return {
    event: { type: 'extents.consolidated', path, fileOffset, replacedCount },
    blob,
  };
}

/** The catalog node of a forged entry, and the extent keys it needs when not inline. */
function nodeOf(
  state: ForgeState,
  placing: Placing,
  node: Exclude<ForgedNode, { kind: 'bytes' }>,
  childCount: number,
): { node: CatalogNode; extents: Extent[] } {
  const common = { inode: node.inode, mode: 0o644, createdAtMs: 0, modifiedAtMs: 0, versionOffset: 0 };
  if (node.kind === 'directory') {
    return {
      node: {
        kind: 'directory',
        ...common,
        childCount: node.childCount === 'true' ? childCount : node.childCount,
      },
      extents: [],
    };
  }
  const extents = resolveExtents(state, placing, node.extents);
  const sizeBytes = sumOf(extents.map((extent) => extent.lengthBytes));
  const recordBytes = sumOf(extents.map((extent) => extent.recordLengthBytes));
  return {
    node: {
      kind: 'file',
      ...common,
      sizeBytes: node.sizeBytes === 'sum' ? sizeBytes : node.sizeBytes,
      recordBytes: node.recordBytes === 'sum' ? recordBytes : node.recordBytes,
      extentCount: Math.max(0, extents.length + node.extentCountLie),
      runStartOffset: sizeBytes,
      runCount: node.runCount,
      inlineExtents: node.inline ? extents : null,
      contentOffset: 0,
    },
    extents,
  };
}

/** The bytes of a forged page placed at `placing`. */
function pageBytesOf(
  state: ForgeState,
  record: ForgedRecord,
  page: ForgedPage,
  placing: Placing,
): Buffer {
  if (page.kind === 'bytes') return page.bytes;
  if (page.kind === 'branch') {
    const children = page.children
      .slice(0, page.separators.length + 1)
      .map((child) => resolveRef(state, placing, child));
    return encodePage({ kind: 'branch', keys: [...page.separators], children, sizeBytes: 0 });
  }
  const rows = new Map<string, Buffer>();
  const entries = record.faithful
    ? ([['/', { kind: 'directory', inode: 1, childCount: 'true' }], ...page.entries] as const)
    : page.entries;
  const paths = entries.map(([path]) => path);
  for (const [path, forged] of entries) {
    if (rows.has(entryKey(path))) continue;
    if (forged.kind === 'bytes') {
      rows.set(entryKey(path), Buffer.from(forged.bytes));
      continue;
    }
    const childCount = paths.filter((other) => other !== path && parentOf(other) === path).length;
    const { node, extents } = nodeOf(state, placing, forged, childCount);
    rows.set(entryKey(path), encodeNode(node));
    if (node.kind === 'file' && node.inlineExtents === null) {
      let fileOffset = 0;
      for (const extent of extents) {
        rows.set(extentKey(node.inode, fileOffset), encodeExtent(extent));
        fileOffset += extent.lengthBytes;
      }
    }
  }
  const keys = [...rows.keys()].sort();
  return encodePage({
    kind: 'leaf',
    keys,
    values: keys.map((key) => rows.get(key) as Buffer),
    sizeBytes: 0,
  });
}

/** The commit offset and the chain hash before it that a forged root records. */
function commitStartOf(
  state: ForgeState,
  commitStart: ForgedRoot['commitStart'],
): { offset: number; hashBefore: Buffer } {
  if (commitStart === 'commit') {
    // The records of the open commit are the last `commitIndex` ones; the root's own commit
    // starts at the first of them, or at the root itself.
    const first = state.records[state.records.length - state.commitIndex];
    if (state.commitIndex > 0 && first !== undefined) return first;
    return { offset: state.length, hashBefore: state.lastHash };
  }
  if ('recordIndex' in commitStart) {
    return state.records[commitStart.recordIndex % state.records.length] as PlacedRecord;
  }
  return { offset: commitStart.offset, hashBefore: state.lastHash };
}

/** The path's last change as the forger believes it, and the record at `offset` as its next. */
function linkVersion(state: ForgeState, path: string, offset: number): number | null {
  const previous = state.versions.get(path) ?? null;
  state.versions.set(path, offset);
  return previous;
}

/** The event and the raw blob of a forged record placed at the state's end. */
function eventAndBlobOf(
  state: ForgeState,
  record: ForgedRecord,
  placing: (rawBlobLength: number) => Placing,
): { type: number; body: Buffer; rawBlob: Uint8Array } {
  const forged = record.body;
  const encoded = (event: JournalEvent, rawBlob: Uint8Array) => ({
    type: recordTypeOf(event),
    body: encodeEvent(event),
    rawBlob,
  });
  if (forged.kind === 'raw') {
    return { type: forged.type, body: Buffer.from(forged.body), rawBlob: record.blob };
  }
  if (forged.kind === 'page') {
    const page = pageBytesOf(state, record, forged.page, placing(0));
    return encoded({ type: 'index.page' }, page);
  }
  if (forged.kind === 'checkpoint') {
    const { root, commitStart, counters, allocator, brokenChain } = forged.root;
    const place = placing(0);
    const ref = resolveRef(state, place, root);
    // The root records the chain hash of the record before it: the truth, the hash before an
    // earlier record (a stale one), or garbage.
    const chainBefore =
      commitStart === 'commit' ? state.lastHash : commitStartOf(state, commitStart).hashBefore;
    const event: JournalEvent = {
      type: 'checkpoint',
      chainBefore: brokenChain ? Buffer.alloc(32, 0xab) : chainBefore,
      sections: {
        catalog: [ref.offset, ref.sequence, ...counters],
        allocator: [...allocator],
        timeline: [0],
        merkle: merkleSectionFor(place.sequence),
      },
    };
    return encoded(event, new Uint8Array());
  }
  if (forged.kind === 'consolidation') {
    const { event, blob } = consolidationOf(state, record, forged);
    return encoded(event, blob);
  }
  const declared = Math.max(0, record.blob.length + record.rawLengthLie);
  if (forged.kind === 'content') {
    return encoded(contentEventOf(state, record, forged, placing(declared)), record.blob);
  }
  if (forged.kind === 'directory') {
    const path =
      !record.faithful || canCreate(state, forged.path) ? forged.path : freshPath(state, 'd');
    state.entries.set(path, 'directory');
    const event: JournalEvent = {
      type: 'directory.created',
      path,
      inode: forged.inode,
      mode: 0o755,
      atMs: 0,
      previous: linkVersion(state, path, placing(0).offset),
    };
    return encoded(event, new Uint8Array());
  }
  if (forged.kind === 'delete') {
    const fallback = [...state.entries.keys()].find((path) => isEmptyDirectoryOrFile(state, path));
    const path =
      !record.faithful || isEmptyDirectoryOrFile(state, forged.path) ? forged.path : fallback;
    if (path === undefined) return encoded({ type: 'data' }, record.blob);
    state.entries.delete(path);
    const previous = linkVersion(state, path, placing(0).offset);
    return encoded({ type: 'entry.deleted', path, atMs: 0, previous }, new Uint8Array());
  }
  return encoded({ type: 'data' }, record.blob);
}

/** Appends one record with a valid header checksum, payload checksum and chain link. */
function appendForged(state: ForgeState, record: ForgedRecord): void {
  const offset = state.length;
  const sequence = (state.records[state.records.length - 1]?.sequence ?? -1) + 1;
  const { type, body, rawBlob } = eventAndBlobOf(state, record, (rawBlobLength) => ({
    offset,
    sequence,
    rawBlobLength,
  }));
  const stored = storedBlobOf(record.codec, rawBlob);
  const rawBlobLength = Math.max(0, rawBlob.length + record.rawLengthLie);
  const headerBytes = Buffer.alloc(FRAME_HEADER_BYTES);
  encodeFrameHeader(
    {
      type,
      flags: record.codec | (record.commit ? FLAG_COMMIT : 0),
      bodyLength: body.length,
      storedBlobLength: stored.length,
      rawBlobLength,
      commitIndex: state.commitIndex,
      sequence,
      link: linkOf(state.lastHash),
      payloadChecksum: payloadChecksumOf(body, stored),
    },
    headerBytes,
  );
  if (record.body.kind === 'checkpoint' && state.firstCheckpoint === 0)
    state.firstCheckpoint = offset;
  const lengthBytes = headerBytes.length + body.length + stored.length;
  state.records.push({
    offset,
    sequence,
    lengthBytes,
    rawBlobLength,
    isPage: record.body.kind === 'page',
    hashBefore: state.lastHash,
  });
  state.parts.push(headerBytes, body, stored);
  state.length += lengthBytes;
  state.lastHash = chainHashOf(state.lastHash, headerBytes, body, blobHashOf(stored));
  state.commitIndex = record.commit ? 0 : state.commitIndex + 1;
}

/** The chain hash after the last record of an intact cartridge file, from its genesis on. */
export function chainHashAfter(bytes: Buffer): Buffer {
  let hash = chainRootOf(headerOf(bytes).cartridgeId);
  for (const raw of recordsOf(bytes)) hash = chainHashOfRecord(hash, raw);
  return hash;
}

/** Both header slots for `header`, the newer generation in slot 1. */
export function headerSlots(header: FileHeader): Buffer {
  return Buffer.concat([
    encodeFileHeader({ ...header, generation: 10 }),
    encodeFileHeader({ ...header, generation: 11 }),
  ]);
}

export interface ForgedJournal {
  readonly records: readonly ForgedRecord[];
  /** The header vouches for every forged record (damage is then corruption, not a torn tail). */
  readonly syncedToEnd: boolean;
  /** The header points at the first forged checkpoint root, so open starts from it. */
  readonly useCheckpoint: boolean;
}

/** The whole file: the base cartridge's header and genesis record, then the forged records. */
export function forgeFile(base: BuiltCartridge, journal: ForgedJournal): Buffer {
  const genesis = recordsOf(base.bytes)[0];
  if (genesis === undefined) throw new Error('the base cartridge has no genesis record');
  const genesisEnd = base.heads[0] as number;
  const header = headerOf(base.bytes);
  const state: ForgeState = {
    parts: [base.bytes.subarray(JOURNAL_START_OFFSET, genesisEnd)],
    records: [
      {
        offset: genesis.offset,
        sequence: genesis.header.sequence,
        lengthBytes: genesisEnd - genesis.offset,
        rawBlobLength: genesis.header.rawBlobLength,
        isPage: false,
        hashBefore: chainRootOf(header.cartridgeId),
      },
    ],
    entries: new Map([['/', 'directory']]),
    versions: new Map([['/', genesis.offset]]),
    length: genesisEnd,
    lastHash: chainHashOfRecord(chainRootOf(header.cartridgeId), genesis),
    commitIndex: 0,
    firstCheckpoint: 0,
  };
  for (const record of journal.records) appendForged(state, record);
  const slots = headerSlots({
    ...header,
    syncedLength: journal.syncedToEnd ? state.length : genesisEnd,
    checkpointOffset: journal.useCheckpoint ? state.firstCheckpoint : 0,
  });
  return Buffer.concat([slots, ...state.parts]);
}
