import fc from 'fast-check';
import { compressSync } from 'lz4-napi';
import { encodeEvent, recordTypeOf } from '../../src/journal/event-codec.js';
import {
  encodeFileHeader,
  type FileHeader,
  JOURNAL_START_OFFSET,
} from '../../src/journal/file-header.js';
import { checksumCrc32c } from '../../src/journal/hashing.js';
import type { Extent, JournalEvent } from '../../src/journal/journal-event.js';
import {
  blobHashOf,
  chainHashOf,
  encodeFrameHeader,
  FLAG_COMMIT,
  FRAME_HEADER_BYTES,
} from '../../src/journal/record-frame.js';
import { parentOf } from '../../src/path/canonical-path.js';
import { type BuiltCartridge, headerOf, logTextOf, recordsOf } from './built-cartridge.js';
import { packAll, zstdCompress } from './fuzz-decoders.js';

/**
 * Forged journals: records whose header checksum, body checksum, blob hash and chain links are
 * all valid, so that only the meaning of their content can be wrong. This is what a hostile
 * file can do (nothing in the format is secret). Most records are "faithful": paths and kinds
 * are repaired so that the catalog accepts them, which lets the hostile numbers (sizes,
 * extents, codecs, checkpoint spans) travel deep into open, reads and verify.
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
 * An extent named by the index of a forged record, or 'self' for the record that holds it,
 * resolved when the journal is built; 'whole' is the length of that record's own blob.
 */
interface ForgedExtent {
  readonly recordIndex: number | 'self';
  readonly blobOffset: number;
  readonly lengthBytes: number | 'whole';
  readonly wrongSequence: boolean;
}

const HONEST_EXTENT: ForgedExtent = {
  recordIndex: 'self',
  blobOffset: 0,
  lengthBytes: 'whole',
  wrongSequence: false,
};

/** Mostly the honest extent (all of the record's own blob), so that forged files can be read. */
const forgedExtents = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(HONEST_EXTENT) },
    {
      weight: 1,
      arbitrary: fc.record({
        recordIndex: fc.oneof(fc.constant('self' as const), fc.nat(12)),
        blobOffset: forgedCount,
        lengthBytes: fc.oneof(fc.constant('whole' as const), forgedCount),
        wrongSequence: fc.boolean(),
      }),
    },
  ),
  { maxLength: 3 },
);

type ContentType = 'file.created' | 'file.written' | 'file.appended';

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
  | { readonly kind: 'checkpoint'; readonly state: Buffer }
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

const spanOffset = fc.oneof(fc.constantFrom(8192, 8296, 5e9, 2 ** 40, 2 ** 53 - 1), fc.nat(20_000));
const checkpointExtent = fc.tuple(spanOffset, forgedCount, forgedCount, forgedCount);

/** Checkpoint state streams whose counts mostly agree, so that the loader gets past them. */
const forgedCheckpointState = fc
  .record({
    nextInode: forgedCount,
    spans: fc.array(fc.tuple(spanOffset, forgedCount), { maxLength: 3 }),
    entries: fc.array(
      fc.tuple(
        forgedPath,
        fc.nat(1),
        forgedCount,
        forgedCount,
        fc.array(checkpointExtent, { maxLength: 2 }),
      ),
      { maxLength: 4 },
    ),
    countLie: fc.oneof(
      { weight: 4, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.nat(2) },
    ),
  })
  .map(({ nextInode, spans, entries, countLie }) => {
    const root = ['/', 1, 1, 0o755, 0, 0, 0, []];
    const rows = entries.map(([path, kind, inode, sizeBytes, extents]) => [
      path,
      kind,
      inode,
      0o644,
      0,
      0,
      sizeBytes,
      extents.flat(),
    ]);
    const header = [1, nextInode, rows.length + 1 + countLie, spans.length];
    return packAll([header, ['spans', spans.flat()], root, ...rows]);
  });

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
  { weight: 1, arbitrary: fc.constant({ kind: 'data' as const }) },
  {
    weight: 2,
    arbitrary: forgedCheckpointState.map((state) => ({ kind: 'checkpoint' as const, state })),
  },
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

interface ForgeState {
  readonly parts: Buffer[];
  readonly records: { readonly offset: number; readonly sequence: number }[];
  /** What the forger believes the catalog holds, to repair faithful records. */
  readonly entries: Map<string, 'file' | 'directory'>;
  length: number;
  lastHash: Buffer;
  commitIndex: number;
  firstCheckpoint: number;
}

function storedBlobOf(codec: 0 | 1 | 2, raw: Uint8Array): Buffer {
  if (codec === 1) return compressSync(Buffer.from(raw));
  if (codec === 2) return zstdCompress(raw);
  return Buffer.from(raw);
}

function resolveExtents(
  state: ForgeState,
  extents: readonly ForgedExtent[],
  blobBytes: number,
): Extent[] {
  const self = state.records.length - 1;
  return extents.map((extent) => {
    const index = extent.recordIndex === 'self' ? self : extent.recordIndex % state.records.length;
    const target = state.records[index] as { offset: number; sequence: number };
    return {
      recordOffset: target.offset,
      recordSequence: target.sequence + (extent.wrongSequence ? 1 : 0),
      blobOffset: extent.blobOffset,
      lengthBytes: extent.lengthBytes === 'whole' ? blobBytes : extent.lengthBytes,
    };
  });
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
  if (state.entries.get(path) === 'file')
    return { type: type === 'file.created' ? 'file.written' : type, path };
  if (canCreate(state, path)) return { type: 'file.created', path };
  return { type: 'file.created', path: freshPath(state, 'f') };
}

function isEmptyDirectoryOrFile(state: ForgeState, path: string): boolean {
  if (!state.entries.has(path) || path === '/') return false;
  return ![...state.entries.keys()].some((other) => other.startsWith(`${path}/`));
}

/** The event of a faithful or unfaithful body, keeping `state.entries` up to date. */
function eventOf(state: ForgeState, record: ForgedRecord, blobBytes: number): JournalEvent {
  const body = record.body;
  const inode = 100 + state.records.length;
  if (body.kind === 'directory') {
    const path =
      !record.faithful || canCreate(state, body.path) ? body.path : freshPath(state, 'd');
    state.entries.set(path, 'directory');
    return { type: 'directory.created', path, inode: body.inode, mode: 0o755, atMs: 0 };
  }
  if (body.kind === 'delete') {
    const fallback = [...state.entries.keys()].find((path) => isEmptyDirectoryOrFile(state, path));
    const path =
      !record.faithful || isEmptyDirectoryOrFile(state, body.path) ? body.path : fallback;
    if (path === undefined) return { type: 'data' };
    state.entries.delete(path);
    return { type: 'entry.deleted', path, atMs: 0 };
  }
  if (body.kind !== 'content') return { type: 'data' };
  const { type, path } = record.faithful ? repairContent(state, body.type, body.path) : body;
  const extents = resolveExtents(state, body.extents, blobBytes);
  const sum = extents.reduce((total, extent) => total + extent.lengthBytes, 0);
  const common = {
    path,
    atMs: 0,
    sizeBytes: body.sizeBytes === 'sum' ? sum : body.sizeBytes,
    extents,
  };
  state.entries.set(path, 'file');
  return type === 'file.created' ? { type, inode, mode: 0o644, ...common } : { type, ...common };
}

/** The record type and body bytes of a forged record placed at the state's end. */
function encodeForgedBody(
  state: ForgeState,
  record: ForgedRecord,
  blobBytes: number,
): { type: number; bytes: Buffer } {
  const body = record.body;
  if (body.kind === 'raw') return { type: body.type, bytes: Buffer.from(body.body) };
  if (body.kind === 'checkpoint') {
    const event: JournalEvent = {
      type: 'checkpoint',
      part: 0,
      partCount: 1,
      stateSizeBytes: body.state.length,
    };
    return { type: recordTypeOf(event), bytes: encodeEvent(event) };
  }
  const event = eventOf(state, record, blobBytes);
  return { type: recordTypeOf(event), bytes: encodeEvent(event) };
}

/** Appends one record with a valid header checksum, body checksum, blob hash and chain link. */
function appendForged(state: ForgeState, record: ForgedRecord): void {
  const offset = state.length;
  const sequence = (state.records[state.records.length - 1]?.sequence ?? -1) + 1;
  // A record's own extents may name it, so it is listed before its body is encoded.
  state.records.push({ offset, sequence });
  const rawBlob = record.body.kind === 'checkpoint' ? record.body.state : record.blob;
  const stored = storedBlobOf(record.codec, rawBlob);
  const { type, bytes: body } = encodeForgedBody(state, record, rawBlob.length);
  const headerBytes = Buffer.alloc(FRAME_HEADER_BYTES);
  encodeFrameHeader(
    {
      type,
      flags: record.codec | (record.commit ? FLAG_COMMIT : 0),
      bodyLength: body.length,
      storedBlobLength: stored.length,
      rawBlobLength: Math.max(0, rawBlob.length + record.rawLengthLie),
      commitIndex: state.commitIndex,
      sequence,
      previousHash: state.lastHash,
      blobHash: blobHashOf(stored),
      bodyChecksum: checksumCrc32c(body),
    },
    headerBytes,
  );
  if (record.body.kind === 'checkpoint' && state.firstCheckpoint === 0)
    state.firstCheckpoint = offset;
  state.parts.push(headerBytes, body, stored);
  state.length += headerBytes.length + body.length + stored.length;
  state.lastHash = chainHashOf(headerBytes, body);
  state.commitIndex = record.commit ? 0 : state.commitIndex + 1;
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
  /** The header points at the first forged checkpoint, so open starts from it. */
  readonly useCheckpoint: boolean;
}

/** The whole file: the base cartridge's header and genesis record, then the forged records. */
export function forgeFile(base: BuiltCartridge, journal: ForgedJournal): Buffer {
  const genesis = recordsOf(base.bytes)[0];
  if (genesis === undefined) throw new Error('the base cartridge has no genesis record');
  const genesisEnd = base.heads[0] as number;
  const state: ForgeState = {
    parts: [base.bytes.subarray(JOURNAL_START_OFFSET, genesisEnd)],
    records: [{ offset: genesis.offset, sequence: genesis.header.sequence }],
    entries: new Map([['/', 'directory']]),
    length: genesisEnd,
    lastHash: chainHashOf(genesis.headerBytes, genesis.body),
    commitIndex: 0,
    firstCheckpoint: 0,
  };
  for (const record of journal.records) appendForged(state, record);
  const slots = headerSlots({
    ...headerOf(base.bytes),
    syncedLength: journal.syncedToEnd ? state.length : genesisEnd,
    checkpointOffset: journal.useCheckpoint ? state.firstCheckpoint : 0,
  });
  return Buffer.concat([slots, ...state.parts]);
}
