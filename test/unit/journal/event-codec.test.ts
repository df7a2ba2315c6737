import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import { decodeEvent, encodeEvent, recordTypeOf } from '../../../src/journal/event-codec.js';
import type { AuditEntry, Extent, JournalEvent } from '../../../src/journal/journal-event.js';

/** How many random cases to run per property; `PROPERTY_RUNS` raises it for a soak run. */
const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '200', 10) || 200;

const EXTENTS = [
  {
    recordOffset: 8192,
    recordSequence: 1,
    blobOffset: 0,
    lengthBytes: 1_048_576,
    recordLengthBytes: 1_048_630,
  },
  {
    recordOffset: 2 ** 40,
    recordSequence: 2 ** 33,
    blobOffset: 17,
    lengthBytes: 3,
    recordLengthBytes: 64,
  },
];

/** One event of every type, with values near the edges of what each field holds. */
const EVERY_EVENT: readonly JournalEvent[] = [
  {
    type: 'genesis',
    cartridgeId: '00112233445566778899aabbccddeeff',
    createdAtMs: 1_700_000_000_000,
    capacityBlocks: 10_000,
  },
  { type: 'genesis', cartridgeId: 'ff', createdAtMs: 0, capacityBlocks: null },
  { type: 'data' },
  {
    type: 'file.created',
    path: '/docs/ré sumé.md',
    inode: 42,
    mode: 0o644,
    atMs: 1,
    sizeBytes: 1_048_579,
    extents: EXTENTS,
    previous: null,
  },
  {
    type: 'file.created',
    path: '/empty',
    inode: 2,
    mode: 0o600,
    atMs: 0,
    sizeBytes: 0,
    extents: [],
    previous: 2 ** 40,
  },
  {
    type: 'file.written',
    path: '/a',
    atMs: Number.MAX_SAFE_INTEGER,
    sizeBytes: 3,
    extents: EXTENTS.slice(1),
    previous: 8192,
  },
  {
    type: 'file.appended',
    path: '/a',
    atMs: 5,
    sizeBytes: 2 ** 31 - 1,
    extents: EXTENTS,
    previous: 0,
  },
  { type: 'entry.deleted', path: '/a/b/c', atMs: 99, previous: 4096 },
  {
    type: 'directory.created',
    path: '/日本語',
    inode: 2 ** 32 + 1,
    mode: 0o755,
    atMs: 7,
    previous: null,
  },
  { type: 'index.page' },
  {
    type: 'checkpoint',
    chainBefore: Buffer.alloc(32, 7),
    sections: {
      catalog: [8192, 3, 17, 1_000_000, 999_000],
      allocator: [2 ** 40, 5],
      timeline: [1_700_000_000_000],
      merkle: {
        size: 17,
        blockStartOffset: 2 ** 40,
        pendingLeaves: Buffer.alloc(32, 3),
        frontier: [4, Buffer.alloc(32, 4), 8192],
        unwritten: [4, 0, Buffer.alloc(32, 5), 8192],
        lastSignedOffset: null,
      },
    },
  },
  // A root with the erasure index's section (a root without it, above, is one written before
  // the section existed, and still reads).
  {
    type: 'checkpoint',
    chainBefore: Buffer.alloc(32, 8),
    sections: {
      catalog: [8192, 3, 17, 1_000_000, 999_000],
      allocator: [2 ** 40, 5],
      timeline: [1_700_000_000_000],
      merkle: {
        size: 0,
        blockStartOffset: 8192,
        pendingLeaves: Buffer.alloc(0),
        frontier: [],
        unwritten: [],
        lastSignedOffset: 2 ** 40,
      },
      erasures: [2 ** 33, 0, 1, 4096],
    },
  },
  {
    type: 'extents.consolidated',
    path: '/logs/audit.log',
    fileOffset: 2 ** 31 - 1,
    replacedCount: 1024,
  },
  { type: 'snapshot.created', name: 'before migration', atMs: 3, description: 'état ✓' },
  { type: 'snapshot.created', name: 's', atMs: 0, description: null },
  { type: 'snapshot.deleted', name: 'before migration', atMs: 4 },
  { type: 'restore.started', targetHead: 2 ** 40, snapshot: 'before migration', atMs: 5 },
  { type: 'restore.started', targetHead: 8192, snapshot: null, atMs: 5 },
  {
    type: 'entry.restored',
    path: '/a',
    atMs: 6,
    previous: null,
    kind: 'file',
    inode: 9,
    mode: 0o644,
    createdAtMs: 1,
    modifiedAtMs: 2,
    contentOffset: 8192,
    sizeBytes: 1_048_579,
    fileOffset: 0,
    extents: EXTENTS,
  },
  {
    type: 'entry.restored',
    path: '/d',
    atMs: 6,
    previous: 12,
    kind: 'directory',
    inode: 2,
    mode: 0o755,
    createdAtMs: 1,
    modifiedAtMs: 2,
    contentOffset: 0,
    sizeBytes: 0,
    fileOffset: 0,
    extents: [],
  },
  {
    type: 'audit.batch',
    entries: [
      {
        atMs: 5,
        actor: 'agent-42',
        action: 'Read',
        path: '/calls/1',
        allowed: true,
        sid: null,
        changeOffset: null,
        rolledBack: false,
      },
      {
        atMs: 6,
        actor: 'ünïcode',
        action: 'All',
        path: '/',
        allowed: false,
        sid: 'DenyAll',
        changeOffset: 8192,
        rolledBack: true,
      },
    ],
  },
  { type: 'audit.batch', entries: [] },
  { type: 'policy.set', policy: '{"Version":"2012-10-17","Statement":[]}', atMs: 9 },
  { type: 'policy.set', policy: null, atMs: 10 },
  {
    type: 'head.signed',
    sequence: 2 ** 40,
    offset: 8192,
    headHash: Buffer.alloc(32, 1),
    merkleRoot: Buffer.alloc(32, 2),
    publicKey: Buffer.alloc(32, 3),
    signature: Buffer.alloc(64, 4),
  },
];

/** Bodies encoded before any hostile input was decoded, to compare against afterwards. */
const BODIES_BEFORE_FUZZING = EVERY_EVENT.map((event) => Buffer.from(encodeEvent(event)));

/** Decodes and classifies: the event, or the code of the `CartridgeError` it threw. */
function decodeOutcome(type: number, body: Uint8Array): 'decoded' | 'JOURNAL_CORRUPT' {
  try {
    decodeEvent(type, body);
    return 'decoded';
  } catch (error) {
    // Anything other than a typed JOURNAL_CORRUPT (a TypeError, a RangeError, an
    // AssertionError) means untrusted bytes reached code that trusted them.
    if (!(error instanceof CartridgeError)) throw error;
    expect(error.code).toBe('JOURNAL_CORRUPT');
    return 'JOURNAL_CORRUPT';
  }
}

describe('event codec round trip', () => {
  it('decodes every event type back to the event it encoded', () => {
    const typesSeen = new Set<string>();
    for (const event of EVERY_EVENT) {
      const body = encodeEvent(event);
      expect(decodeEvent(recordTypeOf(event), body)).toEqual(event);
      typesSeen.add(event.type);
    }
    expect(typesSeen.size).toBe(17);
  });

  it('encodes deterministically (the hash chain depends on it) and into independent buffers', () => {
    for (const event of EVERY_EVENT) {
      const first = encodeEvent(event);
      const copy = Buffer.from(first);
      const second = encodeEvent(event);
      // Encoding another event must not overwrite the first body (msgpackr reuses its buffer).
      encodeEvent(EVERY_EVENT[3] as JournalEvent);
      expect(first.equals(second)).toBe(true);
      expect(first.equals(copy)).toBe(true);
    }
  });

  it('gives every event type its own record type', () => {
    const types = new Set(EVERY_EVENT.map((event) => recordTypeOf(event)));
    expect(types.size).toBe(17);
  });

  it('round-trips generated file events', () => {
    const extent = fc.record({
      recordOffset: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      recordSequence: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      blobOffset: fc.nat(),
      lengthBytes: fc.nat(),
      recordLengthBytes: fc.nat(),
    });
    const event = fc.record({
      type: fc.constant('file.created' as const),
      path: fc.string({ unit: 'binary', maxLength: 40 }),
      inode: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      mode: fc.nat({ max: 0o7777 }),
      atMs: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      sizeBytes: fc.nat({ max: 2 ** 31 - 1 }),
      extents: fc.array(extent, { maxLength: 5 }),
      previous: fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: null }),
    });
    fc.assert(
      fc.property(event, (generated) => {
        expect(decodeEvent(recordTypeOf(generated), encodeEvent(generated))).toEqual(generated);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('direct encoder of content events', () => {
  /** The general encoder the direct one must agree with, byte for byte. */
  const packer = new Packr({ useRecords: false, mapsAsObjects: false });
  const flat = (extents: readonly Extent[]) =>
    extents.flatMap((extent) => [
      extent.recordOffset,
      extent.recordSequence,
      extent.blobOffset,
      extent.lengthBytes,
      extent.recordLengthBytes,
    ]);
  /** Numbers at every msgpack size boundary, negative ones and fractions included. */
  const edgyNumber = fc.oneof(
    fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32),
    fc.constantFrom(-1, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -0, 0.5),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  );
  const extent = fc.record({
    recordOffset: edgyNumber,
    recordSequence: edgyNumber,
    blobOffset: edgyNumber,
    lengthBytes: edgyNumber,
    recordLengthBytes: edgyNumber,
  });
  const event = fc.record({
    type: fc.constantFrom('file.appended' as const, 'file.written' as const),
    // Lone surrogates included: both encoders write U+FFFD for them.
    path: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', minLength: 20, maxLength: 300 }),
      fc.string({ unit: 'binary-ascii', minLength: 250, maxLength: 1100 }),
    ),
    atMs: edgyNumber,
    sizeBytes: edgyNumber,
    extents: fc.array(extent, { maxLength: 20 }),
    previous: fc.option(edgyNumber, { nil: null }),
  });

  const created = fc.record({
    type: fc.constant('file.created' as const),
    path: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      // ASCII around the 32-byte line between a fixstr and a str 8, and the 64 units past
      // which the writer no longer tries a byte per unit.
      fc.string({ unit: 'binary-ascii', minLength: 28, maxLength: 70 }),
      fc.string({ unit: 'grapheme', minLength: 20, maxLength: 300 }),
    ),
    inode: edgyNumber,
    mode: edgyNumber,
    atMs: edgyNumber,
    sizeBytes: edgyNumber,
    extents: fc.array(extent, { maxLength: 20 }),
    previous: fc.option(edgyNumber, { nil: null }),
  });

  it('writes exactly the bytes msgpackr writes, at every size boundary', () => {
    fc.assert(
      fc.property(fc.oneof(event, created), (generated) => {
        // `fieldsOf`'s order: a created file's inode and mode follow its path.
        const identity = generated.type === 'file.created' ? [generated.inode, generated.mode] : [];
        const expected = Buffer.from(
          packer.pack([
            generated.path,
            ...identity,
            generated.atMs,
            generated.sizeBytes,
            flat(generated.extents),
            generated.previous,
          ]),
        );
        expect(encodeEvent(generated).toString('hex')).toBe(expected.toString('hex'));
      }),
      { numRuns: NUM_RUNS * 10 },
    );
  });
});

describe('direct encoder of audit batches', () => {
  /** The general encoder the direct one must agree with, byte for byte. */
  const packer = new Packr({ useRecords: false, mapsAsObjects: false });
  const actions = ['Read', 'Write', 'Create', 'Delete', 'List', 'All'] as const;
  const count = fc.oneof(
    fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 2 ** 32 - 1, 2 ** 32),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  );
  // Lone surrogates included: both encoders write U+FFFD for them.
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', minLength: 20, maxLength: 300 }),
    fc.string({ unit: 'binary-ascii', minLength: 250, maxLength: 1100 }),
  );
  const entry = fc.record({
    atMs: count,
    actor: text,
    action: fc.constantFrom(...actions),
    path: text,
    allowed: fc.boolean(),
    sid: fc.option(text, { nil: null }),
    changeOffset: fc.option(count, { nil: null }),
    rolledBack: fc.boolean(),
  });
  const generalBody = (entries: readonly AuditEntry[]): string =>
    Buffer.from(
      packer.pack([
        entries.flatMap((item) => [
          item.atMs,
          item.actor,
          actions.indexOf(item.action),
          item.path,
          item.allowed ? 1 : 0,
          item.sid,
          item.changeOffset,
          item.rolledBack ? 1 : 0,
        ]),
      ]),
    ).toString('hex');

  it('writes exactly the bytes msgpackr writes, for batches of every size', () => {
    // Up to 3 000 entries: the flat list's header passes from fixarray to array 16 at 16 items,
    // and the scratch grows past what it keeps (long texts make a batch large).
    const batch = fc.oneof(
      fc.array(entry, { maxLength: 4 }),
      fc.array(entry, { minLength: 100, maxLength: 400 }),
      fc
        .integer({ min: 1, max: 3_000 })
        .chain((length) => fc.array(entry, { minLength: length, maxLength: length })),
    );
    fc.assert(
      fc.property(batch, (entries) => {
        const encoded = encodeEvent({ type: 'audit.batch', entries });
        expect(encoded.toString('hex')).toBe(generalBody(entries));
        expect(decodeEvent(recordTypeOf({ type: 'audit.batch', entries }), encoded)).toEqual({
          type: 'audit.batch',
          entries: entries.map((item) => ({
            ...item,
            actor: Buffer.from(item.actor).toString(),
            path: Buffer.from(item.path).toString(),
            sid: item.sid === null ? null : Buffer.from(item.sid).toString(),
          })),
        });
      }),
      // Batches are large: a tenth of the runs covers the boundaries many times over.
      { numRuns: Math.max(20, Math.floor(NUM_RUNS / 10)) },
    );
  });

  it('gives each batch its own bytes, not a view of a shared scratch', () => {
    const first = encodeEvent({
      type: 'audit.batch',
      entries: [
        {
          atMs: 1,
          actor: 'a',
          action: 'Read',
          path: '/x',
          allowed: true,
          sid: null,
          changeOffset: null,
          rolledBack: false,
        },
      ],
    });
    const kept = Buffer.from(first);
    encodeEvent({
      type: 'audit.batch',
      entries: [
        {
          atMs: 2,
          actor: 'b',
          action: 'Write',
          path: '/y',
          allowed: false,
          sid: 's',
          changeOffset: 9,
          rolledBack: true,
        },
      ],
    });
    expect(first.equals(kept)).toBe(true);
  });
});

describe('event codec on untrusted bytes', () => {
  it('refuses the wrong shapes for each type with JOURNAL_CORRUPT', () => {
    const packer = new Packr({ useRecords: false, mapsAsObjects: false });
    const fileCreated = recordTypeOf(EVERY_EVENT[3] as JournalEvent);
    const deleted = recordTypeOf(EVERY_EVENT[7] as JournalEvent);
    const cases: [string, number, Uint8Array][] = [
      ['data with a body', 2, Buffer.from([0x90])],
      ['not msgpack', deleted, Buffer.from([0xc1])],
      ['empty body', deleted, Buffer.alloc(0)],
      ['not an array', deleted, packer.pack({ path: '/a', atMs: 1 })],
      ['too few fields', deleted, packer.pack(['/a'])],
      ['too many fields', deleted, packer.pack(['/a', 1, 2, 3])],
      ['path not text', deleted, packer.pack([7, 1, null])],
      ['negative count', deleted, packer.pack(['/a', -1, null])],
      ['fractional count', deleted, packer.pack(['/a', 1.5, null])],
      ['unsafe count', deleted, packer.pack(['/a', 2 ** 53, null])],
      ['previous not a count', deleted, packer.pack(['/a', 1, 'x'])],
      ['unknown entry kind', 14, packer.pack(['/a', 1, null, 2, 1, 0o644, 1, 1, 0, 0, 0, []])],
      ['snapshot description not text', 11, packer.pack(['s', 1, 7])],
      ['extents not a multiple of 3', fileCreated, packer.pack(['/a', 2, 0o644, 1, 1, [1, 2]])],
      ['extents not counts', fileCreated, packer.pack(['/a', 2, 0o644, 1, 1, [1, 2, 'x']])],
      ['extents not an array', fileCreated, packer.pack(['/a', 2, 0o644, 1, 1, 'x'])],
      ['unknown type 0', 0, packer.pack([])],
      ['unknown type 9', 9, packer.pack(['/a', 1])],
      ['unknown type 17', 17, packer.pack([])],
      ['audit action out of range', 15, packer.pack([[1, 'a', 9, '/', 1, null, null, 0]])],
      ['audit flag not 0 or 1', 15, packer.pack([[1, 'a', 0, '/', 2, null, null, 0]])],
      ['unknown type 255', 255, packer.pack([])],
    ];
    for (const [what, type, body] of cases) {
      expect(decodeOutcome(type, body), what).toBe('JOURNAL_CORRUPT');
    }
  });

  it('never throws anything but JOURNAL_CORRUPT for arbitrary bytes, for every type 0..255', () => {
    const runsPerType = Math.max(20, Math.floor(NUM_RUNS / 4));
    let decoded = 0;
    for (let type = 0; type <= 255; type++) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
          if (decodeOutcome(type, bytes) === 'decoded') decoded++;
        }),
        { numRuns: runsPerType, seed: type },
      );
    }
    // Arbitrary bytes are almost never a valid body; data with an empty body is the exception.
    expect(decoded).toBeLessThan(256 * runsPerType);
  });

  it('never throws anything but JOURNAL_CORRUPT for well-formed msgpack of the wrong shape', () => {
    // Random bytes rarely get past the msgpack parser; packed random arrays reach the field
    // checks of every type.
    const packer = new Packr({ useRecords: false, mapsAsObjects: false });
    const leaf = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.integer(),
      fc.double(),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.constant(null),
      fc.boolean(),
      fc.uint8Array({ maxLength: 8 }),
      fc.array(fc.oneof(fc.nat(), fc.string({ maxLength: 3 }), fc.constant(null)), {
        maxLength: 7,
      }),
    );
    const body = fc.oneof(fc.array(leaf, { maxLength: 8 }), leaf);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), body, (type, value) => {
        decodeOutcome(type, packer.pack(value));
      }),
      { numRuns: NUM_RUNS * 20 },
    );
  });

  it('never throws anything but JOURNAL_CORRUPT for single-byte damage of valid bodies', () => {
    let outcomes = 0;
    for (const event of EVERY_EVENT) {
      const body = encodeEvent(event);
      for (let offset = 0; offset < body.length; offset++) {
        for (const value of [
          0x00,
          0xff,
          0xc1,
          0xdd,
          0xdf,
          0xc7,
          0xd4,
          (body[offset] as number) ^ 1,
        ]) {
          const damaged = Buffer.from(body);
          damaged[offset] = value;
          for (let type = 0; type <= 9; type++) {
            decodeOutcome(type, damaged);
            outcomes++;
          }
        }
      }
    }
    expect(outcomes).toBeGreaterThan(1000);
  });

  it('still round-trips after the fuzzing (decoding hostile bytes leaves no state behind)', () => {
    // msgpackr keeps shared state (record structures, buffers); hostile input must not
    // change how later bodies encode or decode.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        decodeOutcome(3, bytes);
      }),
      { numRuns: NUM_RUNS * 5 },
    );
    EVERY_EVENT.forEach((event, index) => {
      const body = encodeEvent(event);
      expect(body.equals(BODIES_BEFORE_FUZZING[index] as Buffer)).toBe(true);
      expect(decodeEvent(recordTypeOf(event), body)).toEqual(event);
    });
  });
});
