import { createRequire } from 'node:module';
import fc from 'fast-check';
import { compressSync } from 'lz4-napi';
import { Packr } from 'msgpackr';
import { type Codec, decompressBlob } from '../../src/journal/compression.js';
import { decodeEvent, encodeEvent, recordTypeOf } from '../../src/journal/event-codec.js';
import {
  chooseFileHeader,
  decodeFileHeaderSlot,
  encodeFileHeader,
  type FileHeader,
  JOURNAL_START_OFFSET,
} from '../../src/journal/file-header.js';
import { checksumCrc32c } from '../../src/journal/hashing.js';
import {
  type Extent,
  type JournalEvent,
  type JournalEventType,
  RecordType,
} from '../../src/journal/journal-event.js';
import { blobOf } from '../../src/journal/journal-reader.js';
import {
  type DecodedFrameHeader,
  decodeFrameHeader,
  encodeFrameHeader,
  FLAG_CODEC_MASK,
  FLAG_SEALED,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  type FrameHeader,
  LINK_BYTES,
} from '../../src/journal/record-frame.js';
import {
  BLOB_MAX_BYTES,
  BODY_MAX_BYTES,
  INDEX_PAGE_KEYS_MAX,
  INLINE_EXTENTS_MAX,
  PATH_MAX_BYTES,
} from '../../src/limits.js';
import { SEAL_TAG_BYTES, SEALED_BODY_OVERHEAD_BYTES } from '../../src/journal/record-sealing.js';
import { canonicalPath } from '../../src/path/canonical-path.js';
import {
  type CatalogNode,
  decodeExtent,
  decodeNode,
  encodeExtent,
  entryKey,
} from '../../src/projections/catalog-entry.js';
import { decodePage, encodePage, type IndexNode } from '../../src/projections/index/index-page.js';
import { buildCartridge, logTextOf, randomBytesOf, recordsOf } from './built-cartridge.js';
import {
  defineTarget,
  mutatedFrom,
  mutationsArbitrary,
  applyMutations,
  type RunnableTarget,
} from './fuzz-target.js';

/**
 * Fuzz targets for every decoder of untrusted bytes: record frame headers, event bodies of
 * every type, compressed blobs, file header slots, index pages, catalog entries and extents
 * (what format 2 keeps of a checkpoint) and caller paths. Inputs
 * are random, structured-but-wrong, and mutated copies of real encodings (re-checksummed where
 * a checksum would otherwise stop them at the door).
 */

const LZ4 = 1 as Codec;
const ZSTD = 2 as Codec;
const HEADER_CHECKSUM_AT = 40;
const SLOT_CHECKSUM_AT = 4092;

const packer = new Packr({ useRecords: false, mapsAsObjects: false });

interface ZstdBinding {
  CCtx: new () => { compress(target: Uint8Array, source: Uint8Array, level: number): number };
  compressBound(sizeBytes: number): number;
}
const zstd = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
const zstdContext = new zstd.CCtx();

/** One zstd frame of `source` at level 1, as the journal writes them. */
export function zstdCompress(source: Uint8Array): Buffer {
  const target = Buffer.allocUnsafe(zstd.compressBound(source.length));
  return target.subarray(0, zstdContext.compress(target, source, 1));
}

/** Packs values back to back (a msgpack stream); values msgpackr cannot pack give no bytes. */
export function packAll(values: readonly unknown[]): Buffer {
  try {
    return Buffer.concat(values.map((value) => Buffer.from(packer.pack(value))));
  } catch {
    return Buffer.alloc(0);
  }
}

const count = fc.oneof(fc.nat(1000), fc.maxSafeNat(), fc.constantFrom(2 ** 32, 2 ** 53 - 1));
const uint32 = fc.oneof(
  fc.nat(1024),
  fc.constantFrom(
    BODY_MAX_BYTES,
    BODY_MAX_BYTES + 1,
    BLOB_MAX_BYTES,
    BLOB_MAX_BYTES + 1,
    0xffffffff,
  ),
  fc.nat(0xffffffff),
);
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((value) => Buffer.from(value));
const linkBytes = fc
  .uint8Array({ minLength: LINK_BYTES, maxLength: LINK_BYTES })
  .map((value) => Buffer.from(value));
const fieldValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53, -1, null, true, 1.5),
  fc.array(fc.oneof(fc.nat(), fc.integer(), fc.double()), { maxLength: 12 }),
  fc.maxSafeNat(),
);

// ---- record frame headers ----------------------------------------------------------------------

/** A decoded header must respect every limit; a header that does not must have been refused. */
function frameHeaderViolation(decoded: DecodedFrameHeader): string | undefined {
  if (!decoded.ok) return undefined;
  const { header } = decoded;
  const codec = header.flags & FLAG_CODEC_MASK;
  const sealed = (header.flags & FLAG_SEALED) !== 0;
  const bodyOverhead = sealed ? SEALED_BODY_OVERHEAD_BYTES : 0;
  const tagBytes = sealed && header.rawBlobLength > 0 ? SEAL_TAG_BYTES : 0;
  if (header.bodyLength > BODY_MAX_BYTES + bodyOverhead)
    return `accepted bodyLength ${header.bodyLength}`;
  if (sealed && header.bodyLength < SEALED_BODY_OVERHEAD_BYTES)
    return `accepted a sealed bodyLength ${header.bodyLength}`;
  if (
    header.storedBlobLength > BLOB_MAX_BYTES + (sealed ? SEAL_TAG_BYTES : 0) ||
    header.rawBlobLength > BLOB_MAX_BYTES
  ) {
    return `accepted blob lengths ${header.storedBlobLength}/${header.rawBlobLength}`;
  }
  if (codec === 3) return 'accepted codec 3';
  if (codec === 0 && header.storedBlobLength !== header.rawBlobLength + tagBytes)
    return 'accepted a plain blob of two lengths';
  if (!Number.isSafeInteger(header.sequence)) return `accepted sequence ${header.sequence}`;
  return undefined;
}

function rechecksumFrame(bytes: Buffer): void {
  bytes.writeUInt32LE(checksumCrc32c(bytes.subarray(0, HEADER_CHECKSUM_AT)), HEADER_CHECKSUM_AT);
}

const frameHeaderRandom = defineTarget({
  name: 'frame_header_random',
  arbitrary: fc.tuple(
    fc.uint8Array({ minLength: FRAME_HEADER_BYTES, maxLength: FRAME_HEADER_BYTES }),
    fc.constantFrom('raw', 'magic', 'magic-and-checksum'),
  ),
  execute: ([random, mode]) => {
    const bytes = Buffer.from(random);
    if (mode !== 'raw') bytes.writeUInt16LE(FRAME_MAGIC, 0);
    if (mode === 'magic-and-checksum') rechecksumFrame(bytes);
    return frameHeaderViolation(decodeFrameHeader(bytes));
  },
});

const frameHeaderFields: fc.Arbitrary<FrameHeader> = fc.record({
  type: fc.nat(255),
  flags: fc.oneof(fc.nat(15), fc.nat(255)),
  bodyLength: uint32,
  storedBlobLength: uint32,
  rawBlobLength: uint32,
  commitIndex: uint32,
  sequence: fc.oneof(fc.nat(100), fc.maxSafeNat()),
  link: linkBytes,
  payloadChecksum: fc.nat(0xffffffff),
});

/** Valid encodings with a few bytes changed and the checksum redone, so field checks run. */
const frameHeaderMutated = defineTarget({
  name: 'frame_header_mutated',
  arbitrary: fc.tuple(
    frameHeaderFields,
    fc.array(fc.tuple(fc.nat(HEADER_CHECKSUM_AT - 1), fc.nat(255)), { maxLength: 3 }),
  ),
  execute: ([header, changes]) => {
    const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
    encodeFrameHeader(header, bytes);
    for (const [index, value] of changes) bytes[index] = value;
    rechecksumFrame(bytes);
    return frameHeaderViolation(decodeFrameHeader(bytes));
  },
});

// ---- event bodies ------------------------------------------------------------------------------

const pathText = fc.oneof(
  fc.constantFrom('/a', '/d/x', '/'),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
const extent = fc.record({
  recordOffset: count,
  recordSequence: count,
  blobOffset: count,
  lengthBytes: count,
  recordLengthBytes: count,
});
const extents = fc.array(extent, { maxLength: 4 });
const timeMs = fc.oneof(fc.nat(), fc.constant(Date.now()), fc.maxSafeNat());
const previous = fc.option(count, { nil: null });
const text = fc.option(fc.string(), { nil: null });

function validEvent(type: JournalEventType): fc.Arbitrary<JournalEvent> {
  switch (type) {
    case 'genesis':
      return fc.record({
        type: fc.constant(type),
        cartridgeId: fc.string(),
        createdAtMs: timeMs,
        capacityBlocks: fc.option(count, { nil: null }),
      });
    case 'data':
      return fc.constant({ type });
    case 'path.moved':
      return fc.record({
        type: fc.constant(type),
        from: pathText,
        to: pathText,
        atMs: timeMs,
        entries: fc.array(
          fc.record({
            step: fc.constantFrom(0, 1, 2),
            relativePath: fc.oneof(fc.constant(''), fc.string({ maxLength: 12 })),
            previousFrom: previous,
            previousTo: previous,
            sizeBytes: count,
          }),
          { maxLength: 4 },
        ),
      });
    case 'file.patched':
      return fc.record({
        type: fc.constant(type),
        path: pathText,
        atMs: timeMs,
        sizeBytes: count,
        ranges: fc
          .array(count, { maxLength: 6 })
          .map((values) => values.slice(0, values.length & ~1)),
        extents,
        previous,
      });
    case 'file.created':
      return fc.record({
        type: fc.constant(type),
        path: pathText,
        inode: count,
        mode: count,
        atMs: timeMs,
        sizeBytes: count,
        extents,
        previous,
      });
    case 'file.written':
    case 'file.appended':
      return fc.record({
        type: fc.constantFrom<'file.written' | 'file.appended'>(type),
        path: pathText,
        atMs: timeMs,
        sizeBytes: count,
        extents,
        previous,
      });
    case 'entry.deleted':
      return fc.record({ type: fc.constant(type), path: pathText, atMs: timeMs, previous });
    case 'directory.created':
      return fc.record({
        type: fc.constant(type),
        path: pathText,
        inode: count,
        mode: count,
        atMs: timeMs,
        previous,
      });
    case 'index.page':
      return fc.constant({ type });
    case 'checkpoint':
      return fc
        .record({
          type: fc.constant(type),
          chainBefore: bytes32,
          sections: fc.record({
            catalog: fc.array(count, { minLength: 5, maxLength: 5 }),
            allocator: fc.array(count, { minLength: 2, maxLength: 2 }),
            timeline: fc.array(count, { minLength: 1, maxLength: 1 }),
            merkle: fc.record({
              size: count,
              blockStartOffset: count,
              pendingLeaves: bytes32,
              frontier: fc.array(fc.oneof(count, bytes32)).map((items) => items.slice(0, 3)),
              unwritten: fc.array(fc.oneof(count, bytes32)).map((items) => items.slice(0, 4)),
              lastSignedOffset: fc.option(count, { nil: null }),
            }),
          }),
        })
        .filter(
          (event) =>
            event.sections.merkle.frontier.length % 3 === 0 &&
            event.sections.merkle.unwritten.length % 4 === 0,
        );
    case 'extents.consolidated':
      return fc.record({
        type: fc.constant(type),
        path: pathText,
        fileOffset: count,
        replacedCount: count,
      });
    case 'snapshot.created':
      return fc.record({
        type: fc.constant(type),
        name: fc.string(),
        atMs: timeMs,
        description: text,
      });
    case 'snapshot.deleted':
      return fc.record({ type: fc.constant(type), name: fc.string(), atMs: timeMs });
    case 'restore.started':
      return fc.record({
        type: fc.constant(type),
        targetHead: count,
        snapshot: text,
        atMs: timeMs,
      });
    case 'audit.batch':
      return fc.record({
        type: fc.constant(type),
        entries: fc.array(
          fc.record({
            atMs: timeMs,
            actor: fc.string(),
            action: fc.constantFrom('Read', 'Write', 'Create', 'Delete', 'List', 'All' as const),
            path: pathText,
            allowed: fc.boolean(),
            sid: text,
            changeOffset: previous,
            rolledBack: fc.boolean(),
          }),
          { maxLength: 4 },
        ),
      });
    case 'policy.set':
      return fc.record({ type: fc.constant(type), policy: text, atMs: timeMs });
    case 'key.rotated':
      return fc.record({
        type: fc.constant(type),
        keyId: fc.constantFrom('00000000', 'a1b2c3d4', 'ffffffff'),
        atMs: timeMs,
      });
    case 'entry.restored':
      return fc.record({
        type: fc.constant(type),
        path: pathText,
        atMs: timeMs,
        previous,
        kind: fc.constantFrom<'file' | 'directory'>('file', 'directory'),
        inode: count,
        mode: count,
        createdAtMs: timeMs,
        modifiedAtMs: timeMs,
        contentOffset: count,
        sizeBytes: count,
        fileOffset: count,
        extents,
      });
    case 'head.signed':
      return fc.record({
        type: fc.constant(type),
        sequence: count,
        offset: count,
        headHash: bytes32,
        merkleRoot: bytes32,
        publicKey: bytes32,
        signature: fc
          .uint8Array({ minLength: 64, maxLength: 64 })
          .map((value) => Buffer.from(value)),
      });
    case 'content.erased':
      return fc.record({
        type: fc.constant(type),
        kind: fc.constantFrom('redacted' as const, 'shredded' as const),
        erasures: fc.array(
          fc.record({
            recordOffset: count,
            recordSequence: count,
            storedBlobLength: count,
            bodyChecksum: count,
            blobHash: bytes32,
          }),
          { minLength: 1, maxLength: 3 },
        ),
        versions: fc.array(count, { maxLength: 3 }),
      });
    case 'subject.key':
      return fc.record({ type: fc.constant(type), subject: fc.string(), atMs: timeMs });
    case 'erasure.settled':
      return fc.record({ type: fc.constant(type), erasureOffset: count });
    case 'journal.compacted':
      return fc.record({
        type: fc.constant(type),
        previousHeadOffset: count,
        previousHeadSequence: count,
        previousHeadHash: bytes32,
        previousMerkleRoot: bytes32,
        horizonOffset: count,
        recordsDropped: count,
        atMs: timeMs,
        compactedAtMs: timeMs,
      });
  }
}

const EVENT_TYPES: readonly JournalEventType[] = [
  'genesis',
  'data',
  'file.created',
  'file.written',
  'file.appended',
  'entry.deleted',
  'directory.created',
  'index.page',
  'checkpoint',
  'extents.consolidated',
  'snapshot.created',
  'snapshot.deleted',
  'restore.started',
  'entry.restored',
  'audit.batch',
  'policy.set',
  'head.signed',
  'key.rotated',
  'journal.compacted',
  'file.patched',
  'path.moved',
  'content.erased',
  'subject.key',
  'erasure.settled',
];

/** Bodies for a type: random bytes, random msgpack, arrays of odd fields, mutated real bodies. */
function bodyArbitrary(type: JournalEventType): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((value) => Buffer.from(value)),
    fc.anything().map((value) => packAll([value])),
    fc.array(fieldValue, { maxLength: 10 }).map((value) => packAll([value])),
    validEvent(type).map(encodeEvent),
    fc
      .tuple(validEvent(type).map(encodeEvent), mutationsArbitrary)
      .map(([body, changes]) => applyMutations(body, changes)),
  );
}

function eventTarget(type: JournalEventType): RunnableTarget {
  const typeNumber: number = recordTypeOf({ type } as JournalEvent);
  return defineTarget({
    name: `decode_event_${type.replace('.', '_')}`,
    arbitrary: bodyArbitrary(type),
    execute: (body) => {
      decodeEvent(typeNumber, body);
      return undefined;
    },
  });
}

/**
 * The record types there are. It was a range up to the highest type while types were
 * contiguous: the range once ended at `ExtentsConsolidated` (10) while types up to 19 existed,
 * so the target fed real types to the decoder as unknown ones, until a genesis-shaped body
 * decoded as a `snapshot.created` (seed 740941836). The known ones are now listed from the
 * event types, so a new type cannot be left out of the range.
 */
const KNOWN_RECORD_TYPES = new Set<number>(
  EVENT_TYPES.map((type) => recordTypeOf({ type } as JournalEvent)),
);

/** Types no record may have: the decoder must refuse them, whatever the body. */
const unknownEventType = defineTarget({
  name: 'decode_event_unknown_type',
  arbitrary: fc.tuple(
    fc.nat(255).filter((type) => !KNOWN_RECORD_TYPES.has(type)),
    bodyArbitrary('genesis'),
  ),
  execute: ([type, body]) => {
    const event = decodeEvent(type, body);
    return `type ${type} decoded as ${event.type}`;
  },
});

// ---- compressed blobs --------------------------------------------------------------------------

interface Frame {
  readonly stored: Buffer;
  readonly rawLength: number;
}

function sampleContents(): Buffer[] {
  return [
    logTextOf(1000, 1),
    logTextOf(70_000, 2),
    Buffer.alloc(65_536),
    randomBytesOf(2000, 3),
    Buffer.alloc(1),
  ];
}

const declaredLength = fc.oneof(
  fc.nat(70_000),
  fc.nat(BLOB_MAX_BYTES),
  fc.constantFrom(0, BLOB_MAX_BYTES, BLOB_MAX_BYTES + 1, 0xffffffff),
);

interface BlobInput {
  readonly stored: Buffer;
  readonly declared: number;
}

function blobInputs(frames: readonly Frame[]): fc.Arbitrary<BlobInput> {
  const frame = fc.constantFrom(...frames);
  return fc.oneof(
    fc
      .tuple(fc.uint8Array({ maxLength: 2048 }), declaredLength)
      .map(([stored, declared]) => ({ stored: Buffer.from(stored), declared })),
    fc
      .tuple(frame, mutationsArbitrary, fc.option(declaredLength, { nil: undefined }))
      .map(([real, changes, declared]) => ({
        stored: applyMutations(real.stored, changes),
        declared: declared ?? real.rawLength,
      })),
    fc.tuple(frame, declaredLength).map(([real, declared]) => ({ stored: real.stored, declared })),
  );
}

function blobViolation(codec: Codec, input: BlobInput): string | undefined {
  const output = decompressBlob(codec, input.stored, input.declared);
  return output.length === input.declared
    ? undefined
    : `decoded ${output.length} bytes, ${input.declared} declared`;
}

function compressionTargets(): RunnableTarget[] {
  const contents = sampleContents();
  const zstdFrames = contents.map((content) => ({
    stored: zstdCompress(content),
    rawLength: content.length,
  }));
  const lz4Frames = contents.map((content) => ({
    stored: compressSync(content),
    rawLength: content.length,
  }));
  return [
    defineTarget({
      name: 'decompress_zstd',
      arbitrary: blobInputs(zstdFrames),
      execute: (input) => blobViolation(ZSTD, input),
    }),
    defineTarget({
      name: 'decompress_lz4',
      // Half the inputs get a size prefix equal to the declared length, so the codec runs.
      arbitrary: fc
        .tuple(blobInputs(lz4Frames), fc.boolean())
        .map(([input, agree]) => withLz4Prefix(input, agree)),
      execute: (input) => blobViolation(LZ4, input),
    }),
  ];
}

function withLz4Prefix(input: BlobInput, agree: boolean): BlobInput {
  if (!agree || input.stored.length < 4 || input.declared > 0xffffffff) return input;
  const stored = Buffer.from(input.stored);
  stored.writeUInt32LE(input.declared, 0);
  return { stored, declared: input.declared };
}

// ---- file header slots -------------------------------------------------------------------------

const fileHeaderFields: fc.Arbitrary<FileHeader> = fc.record({
  generation: count,
  cartridgeId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((value) => Buffer.from(value)),
  createdAtMs: timeMs,
  capacityBlocks: fc.option(count, { nil: null }),
  syncedLength: count,
  checkpointOffset: count,
  compressionCodec: fc.nat(2),
  cipherCode: fc.nat(2),
  keyId: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((value) => Buffer.from(value)),
  auditRetain: fc.boolean(),
});

function rechecksumSlot(slot: Buffer): void {
  slot.writeUInt32LE(checksumCrc32c(slot.subarray(0, SLOT_CHECKSUM_AT)), SLOT_CHECKSUM_AT);
}

const slotBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 4200 }).map((value) => Buffer.from(value)),
  fc.uint8Array({ minLength: 4096, maxLength: 4096 }).map((value) => {
    const slot = Buffer.from(value);
    slot.write('CARTRIDG', 0, 'latin1');
    rechecksumSlot(slot);
    return slot;
  }),
  fileHeaderFields.map(encodeFileHeader),
  fc
    .tuple(
      fileHeaderFields.map(encodeFileHeader),
      fc.array(fc.tuple(fc.nat(SLOT_CHECKSUM_AT - 1), fc.nat(255)), { maxLength: 3 }),
      fc.boolean(),
    )
    .map(([slot, changes, recheck]) => {
      for (const [index, value] of changes) slot[index] = value;
      if (recheck) rechecksumSlot(slot);
      return slot;
    }),
);

const fileHeaderSlot = defineTarget({
  name: 'file_header_slot',
  arbitrary: slotBytes,
  execute: (slot) => {
    const verdict = decodeFileHeaderSlot(slot);
    if (verdict.kind !== 'valid') return undefined;
    const { header } = verdict;
    const fields = [
      header.generation,
      header.syncedLength,
      header.checkpointOffset,
      header.createdAtMs,
    ];
    return fields.every(Number.isSafeInteger) ? undefined : 'a valid slot holds an unsafe number';
  },
});

const chooseHeader = defineTarget({
  name: 'choose_file_header',
  arbitrary: fc.tuple(slotBytes, slotBytes),
  execute: ([first, second]) => {
    chooseFileHeader([first, second]);
    return undefined;
  },
});

// ---- index pages, catalog entries and extents ---------------------------------------------------

/**
 * The pages, entries and extents of a small real cartridge's checkpoints: a directory, files
 * with inline maps and one whose map outgrew its entry (extent keys), a delete, two checkpoints.
 */
function realIndex(): { pages: Buffer[]; nodes: Buffer[]; extents: Buffer[] } {
  const built = buildCartridge({
    name: 'fuzz-index',
    options: { compression: 'zstd' },
    close: true,
    operations: [
      { kind: 'create', path: '/a/b.txt', bytes: logTextOf(3000, 4) },
      { kind: 'mkdir', path: '/empty' },
      { kind: 'create', path: '/c', bytes: Buffer.from('c') },
      ...Array.from({ length: INLINE_EXTENTS_MAX + 2 }, (_, index) => ({
        kind: 'append' as const,
        path: '/c',
        bytes: randomBytesOf(100 + index, 5 + index),
      })),
      { kind: 'checkpoint' },
      { kind: 'delete', path: '/a/b.txt' },
      { kind: 'checkpoint' },
    ],
  });
  const pages = recordsOf(built.bytes)
    .filter((record) => record.header.type === RecordType.IndexPage)
    .map((record) => ({ bytes: blobOf(record, undefined), offset: record.offset }));
  const nodes: Buffer[] = [];
  const extents: Buffer[] = [];
  for (const { bytes, offset } of pages) {
    const page = decodePage(bytes, offset);
    if (page.kind !== 'leaf') continue;
    page.keys.forEach((key, index) => {
      (key.startsWith('X') ? extents : nodes).push(page.values[index] as Buffer);
    });
  }
  if (extents.length === 0) throw new Error('the real cartridge has no extent keys');
  return { pages: pages.map((page) => page.bytes), nodes, extents };
}

const flatExtent = fc.array(count, { minLength: 5, maxLength: 5 });

/** Catalog entries: the right shape with hostile numbers, or a wrong shape. */
const structuredNode: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(fc.constantFrom(0, 1, 2), count, count, timeMs, timeMs, count)
    .map((fields) => packAll([fields])),
  fc
    .tuple(
      fc.tuple(fc.constantFrom(0, 1), count, count, timeMs, timeMs),
      fc.tuple(count, count, fc.nat(8), count, count),
      fc.oneof(
        fc.constant(null),
        fc.array(flatExtent, { maxLength: INLINE_EXTENTS_MAX + 1 }).map((list) => list.flat()),
        fc.array(fieldValue, { maxLength: 12 }),
      ),
    )
    .map(([common, file, inline]) => packAll([[...common, ...file, inline]])),
  fc.array(fieldValue, { maxLength: 12 }).map((fields) => packAll([fields])),
);

/** Index pages: leaves and branches of the right shape whose keys, values and children lie. */
const structuredPage: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(
      fc.array(fc.oneof(pathText.map(entryKey), fc.string(), fc.constantFrom('E', 'X')), {
        maxLength: 6,
      }),
      fc.array(fc.oneof(structuredNode, fc.uint8Array({ maxLength: 16 })), { maxLength: 6 }),
      fc.boolean(),
    )
    .map(([keys, values, sorted]) =>
      packAll([[0, sorted ? [...new Set(keys)].sort() : keys, values]]),
    ),
  fc
    .tuple(
      fc.array(fc.string({ maxLength: 8 }), { maxLength: 5 }),
      fc.array(fc.oneof(count, fc.integer(), fc.double()), { maxLength: 6 }),
      fc.array(fc.oneof(count, fc.integer()), { maxLength: 6 }),
      fc.boolean(),
    )
    .map(([keys, offsets, sequences, sorted]) =>
      packAll([[1, sorted ? [...new Set(keys)].sort() : keys, offsets, sequences]]),
    ),
  // A page of many keys, around the limit on keys per page.
  fc
    .constantFrom(INDEX_PAGE_KEYS_MAX, INDEX_PAGE_KEYS_MAX + 1)
    .map((length) =>
      packAll([
        [0, Array.from({ length }, (_, index) => `E${index}`), new Array(length).fill(null)],
      ]),
    ),
  // Real encodings of leaves and branches, built by the page encoder.
  fc
    .tuple(fc.array(fc.tuple(pathText, fc.nat(64)), { maxLength: 5 }), fc.boolean())
    .map(([entries, branch]) => {
      const keys = [...new Set(entries.map(([path]) => entryKey(path)))].sort();
      const node: IndexNode = branch
        ? {
            kind: 'branch',
            keys,
            children: [...keys, ''].map((_, index) => ({ offset: index * 100, sequence: index })),
            sizeBytes: 0,
          }
        : {
            kind: 'leaf',
            keys,
            values: keys.map((key) => encodeExtent(extentOf(key.length))),
            sizeBytes: 0,
          };
      return encodePage(node);
    }),
);

/** An extent whose every field derives from `value` (a real encoding with varied sizes). */
function extentOf(value: number): Extent {
  return {
    recordOffset: value,
    recordSequence: value,
    blobOffset: 0,
    lengthBytes: value,
    recordLengthBytes: value + FRAME_HEADER_BYTES,
  };
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** A decoded page must be one the tree can walk without looping: sorted keys, children before. */
function pageViolation(page: IndexNode, offset: number): string | undefined {
  for (let index = 1; index < page.keys.length; index++) {
    if (!((page.keys[index - 1] as string) < (page.keys[index] as string))) {
      return 'accepted keys out of order';
    }
  }
  if (page.keys.length > INDEX_PAGE_KEYS_MAX) return `accepted ${page.keys.length} keys`;
  if (page.kind === 'leaf') {
    return page.values.length === page.keys.length ? undefined : 'accepted a leaf of two lengths';
  }
  if (page.children.length !== page.keys.length + 1) return 'accepted a branch of two lengths';
  for (const child of page.children) {
    if ('kind' in child) return 'decoded a child as a node';
    if (!isCount(child.offset) || !isCount(child.sequence))
      return 'accepted a child that is no count';
    if (child.offset >= offset) return `accepted child ${child.offset} of a page at ${offset}`;
  }
  return undefined;
}

/** A decoded entry holds counts only, and an inline map that agrees with its count. */
function nodeViolation(node: CatalogNode): string | undefined {
  const counts = [node.inode, node.mode, node.createdAtMs, node.modifiedAtMs];
  if (node.kind === 'directory') counts.push(node.childCount);
  else {
    counts.push(
      node.sizeBytes,
      node.recordBytes,
      node.extentCount,
      node.runStartOffset,
      node.runCount,
    );
    if (node.inlineExtents !== null) {
      if (node.inlineExtents.length !== node.extentCount) return 'accepted a map of another count';
      if (node.inlineExtents.length > INLINE_EXTENTS_MAX) return 'accepted an oversized inline map';
      for (const extent of node.inlineExtents) counts.push(...Object.values(extent));
    }
  }
  return counts.every(isCount) ? undefined : 'accepted a field that is not a count';
}

function indexTargets(): RunnableTarget[] {
  const real = realIndex();
  // Where the page sits bounds its children: a late one lets every backward reference through.
  const pageOffset = fc.oneof(fc.constant(JOURNAL_START_OFFSET), fc.nat(2 ** 40), fc.maxSafeNat());
  return [
    defineTarget({
      name: 'index_page',
      arbitrary: fc.tuple(
        fc.oneof(
          fc.anything().map((value) => packAll([value])),
          fc.array(fc.anything(), { maxLength: 6 }).map(packAll),
          structuredPage,
          mutatedFrom(real.pages),
        ),
        pageOffset,
      ),
      execute: ([encoded, offset]) => pageViolation(decodePage(encoded, offset), offset),
    }),
    defineTarget({
      name: 'catalog_entry',
      arbitrary: fc.oneof(
        fc.anything().map((value) => packAll([value])),
        structuredNode,
        mutatedFrom(real.nodes),
      ),
      execute: (encoded) => nodeViolation(decodeNode(encoded)),
    }),
    defineTarget({
      name: 'catalog_extent',
      arbitrary: fc.oneof(
        fc.anything().map((value) => packAll([value])),
        fc.array(fc.oneof(count, fieldValue), { maxLength: 7 }).map((fields) => packAll([fields])),
        mutatedFrom(real.extents),
      ),
      execute: (encoded) => {
        const extent = decodeExtent(encoded);
        return Object.values(extent).every(isCount)
          ? undefined
          : 'accepted an extent field that is no count';
      },
    }),
  ];
}

// ---- caller paths ------------------------------------------------------------------------------

const segment = fc.oneof(
  fc.constantFrom(
    '',
    '.',
    '..',
    '\0',
    'a',
    'é',
    '\u{1F4BE}',
    '\uD800',
    '\uDC00',
    'x'.repeat(255),
    'é'.repeat(128),
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const pathInput = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.array(segment, { maxLength: 300 }).map((segments) => segments.join('/')),
  fc
    .tuple(
      fc.constantFrom('a/', '/', '../', 'é', '\u{1F4BE}/', `${'x'.repeat(255)}/`, '\0'),
      fc.nat(40_000),
    )
    .map(([unit, times]) => unit.repeat(times)),
  fc.anything(),
);

/** A canonical path is absolute, has no empty, `.` or `..` segment, fits, and is stable. */
function pathViolation(path: string): string | undefined {
  if (!path.startsWith('/')) return 'not absolute';
  if (path !== '/' && (path.endsWith('/') || path.includes('//'))) return 'has an empty segment';
  if (path.split('/').some((name) => name === '.' || name === '..')) return 'has a dot segment';
  if (path.includes('\0')) return 'has a NUL';
  if (Buffer.byteLength(path) > PATH_MAX_BYTES) return 'is too long';
  // The journal stores paths as UTF-8: a path that does not survive it names another file later.
  if (Buffer.from(path, 'utf8').toString('utf8') !== path) return 'does not survive UTF-8';
  if (canonicalPath(path) !== path) return 'is not stable';
  return undefined;
}

const canonicalPathTarget = defineTarget({
  name: 'canonical_path',
  arbitrary: pathInput,
  execute: (input) => pathViolation(canonicalPath(input)),
});

export function decoderTargets(): RunnableTarget[] {
  return [
    frameHeaderRandom,
    frameHeaderMutated,
    ...EVENT_TYPES.map(eventTarget),
    unknownEventType,
    ...compressionTargets(),
    fileHeaderSlot,
    chooseHeader,
    ...indexTargets(),
    canonicalPathTarget,
  ];
}
