import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import type { Extent } from '../../../src/journal/journal-event.js';
import {
  type CatalogNode,
  decodeNode,
  decodeNodeBytes,
  encodeNode,
  encodeNodeGeneral,
} from '../../../src/projections/catalog-entry.js';
import { packValue } from '../../../src/projections/index/index-values.js';

/**
 * A catalog entry is read by a direct reader on the cold read path, and by the general msgpack
 * path for anything the direct reader does not take. These tests hold the two together: every
 * entry the catalog writes reads back as written, and any bytes (damaged or forged) give the
 * same answer from `decodeNode` as from the general path alone (the same entry, or
 * JOURNAL_CORRUPT). fast-check prints the seed of a failure.
 */

/** Counts of every width msgpack has for them: fixints, 8 to 32 bits, doubles. */
const count = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xffff }),
  fc.integer({ min: 0x1_0000, max: 0xffff_ffff }),
  fc.integer({ min: 0x1_0000_0000, max: Number.MAX_SAFE_INTEGER }),
);

const extent: fc.Arbitrary<Extent> = fc.record({
  recordOffset: count,
  recordSequence: count,
  blobOffset: count,
  lengthBytes: count,
  recordLengthBytes: count,
});

const file: fc.Arbitrary<CatalogNode> = fc
  .tuple(
    fc.array(count, { minLength: 9, maxLength: 9 }),
    fc.option(fc.array(extent, { maxLength: 4 })),
  )
  .map(([numbers, inline]) => {
    const [inode, mode, created, modified, version, size, recordBytes, runStart, content] =
      numbers as number[];
    return {
      kind: 'file',
      inode: inode as number,
      mode: mode as number,
      createdAtMs: created as number,
      modifiedAtMs: modified as number,
      versionOffset: version as number,
      sizeBytes: size as number,
      recordBytes: recordBytes as number,
      extentCount: inline === null ? (runStart as number) % 1000 : inline.length,
      runStartOffset: runStart as number,
      runCount: (content as number) % 7,
      inlineExtents: inline,
      contentOffset: content as number,
    };
  });

const directory: fc.Arbitrary<CatalogNode> = fc
  .array(count, { minLength: 6, maxLength: 6 })
  .map(([inode, mode, created, modified, version, children]) => ({
    kind: 'directory',
    inode: inode as number,
    mode: mode as number,
    createdAtMs: created as number,
    modifiedAtMs: modified as number,
    versionOffset: version as number,
    childCount: children as number,
  }));

/** An answer of a decoder: the entry, or the error code. */
function answer(decode: () => CatalogNode): unknown {
  try {
    return decode();
  } catch (error) {
    if (error instanceof CartridgeError) return error.code;
    throw error;
  }
}

/** A file or directory whose numbers are any numbers msgpack writes in one of its forms. */
function nodeOf(number: fc.Arbitrary<number>): fc.Arbitrary<CatalogNode> {
  const extentOf = fc.record({
    recordOffset: number,
    recordSequence: number,
    blobOffset: number,
    lengthBytes: number,
    recordLengthBytes: number,
  });
  return fc.oneof(
    fc.record({
      kind: fc.constant('file' as const),
      inode: number,
      mode: number,
      createdAtMs: number,
      modifiedAtMs: number,
      versionOffset: number,
      sizeBytes: number,
      recordBytes: number,
      extentCount: number,
      runStartOffset: number,
      runCount: number,
      // Up to more extents than the catalog keeps inline, so the scratch buffer grows.
      inlineExtents: fc.option(fc.array(extentOf, { maxLength: 12 })),
      contentOffset: number,
    }),
    fc.record({
      kind: fc.constant('directory' as const),
      inode: number,
      mode: number,
      createdAtMs: number,
      modifiedAtMs: number,
      versionOffset: number,
      childCount: number,
    }),
  );
}

describe('catalog entry encoding', () => {
  it('writes the bytes msgpackr writes, byte for byte', () => {
    // Counts of every width (what the catalog stores), and beyond them any integer and any
    // double, so the direct encoder is the general one for every number, not just the usual.
    const number = fc.oneof(count, fc.integer(), fc.maxSafeInteger(), fc.double());
    fc.assert(
      fc.property(nodeOf(number), (node) => {
        expect(encodeNode(node).equals(encodeNodeGeneral(node))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('gives a value of its own, untouched by the entries encoded after it', () => {
    // Entries are views of a shared slab: hundreds of them fill several slabs, and each must
    // keep its bytes, and decode to its node, after all the others were written.
    fc.assert(
      fc.property(fc.array(nodeOf(count), { minLength: 1, maxLength: 400 }), (nodes) => {
        const encoded = nodes.map((node) => encodeNode(node));
        const copies = encoded.map((bytes) => Buffer.from(bytes));
        for (const [index, bytes] of encoded.entries()) {
          expect(bytes.equals(copies[index] as Buffer)).toBe(true);
          expect(bytes.equals(encodeNodeGeneral(nodes[index] as CatalogNode))).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('catalog entry decoding', () => {
  it('reads back every entry the catalog writes', () => {
    fc.assert(
      fc.property(fc.oneof(file, directory), (node) => {
        expect(decodeNode(encodeNode(node))).toEqual(node);
      }),
    );
  });

  it('answers as the general path for damaged bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(file, directory),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.integer({ min: -2, max: 2 }),
        (node, flips, lengthChange) => {
          const encoded = encodeNode(node);
          const bytes = Buffer.alloc(Math.max(0, encoded.length + lengthChange));
          encoded.copy(bytes);
          for (const [at, byte] of flips) {
            if (bytes.length > 0) bytes[at % bytes.length] = byte;
          }
          expect(answer(() => decodeNode(bytes))).toEqual(answer(() => decodeNodeBytes(bytes)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('answers as the general path for values of other shapes', () => {
    const shapes = fc.array(
      fc.oneof(
        count,
        fc.constant(null),
        fc.integer({ min: -5, max: -1 }),
        fc.double(),
        fc.array(count, { maxLength: 21 }),
      ),
      { maxLength: 14 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), shapes, (kind, rest) => {
        const bytes = packValue([kind, ...rest]);
        expect(answer(() => decodeNode(bytes))).toEqual(answer(() => decodeNodeBytes(bytes)));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an entry whose inline extents disagree with its count', () => {
    const node = {
      kind: 'file' as const,
      inode: 2,
      mode: 0o644,
      createdAtMs: 1,
      modifiedAtMs: 1,
      versionOffset: 100,
      sizeBytes: 10,
      recordBytes: 80,
      extentCount: 2,
      runStartOffset: 0,
      runCount: 1,
      inlineExtents: [
        {
          recordOffset: 100,
          recordSequence: 3,
          blobOffset: 0,
          lengthBytes: 10,
          recordLengthBytes: 80,
        },
      ],
      contentOffset: 100,
    };
    expect(answer(() => decodeNode(encodeNode(node)))).toBe('JOURNAL_CORRUPT');
  });
});

describe('the decoded entry kept on its value', () => {
  it('is decoded once per value, and each value answers for its own bytes', () => {
    const directory: CatalogNode = {
      kind: 'directory',
      inode: 7,
      mode: 0o755,
      createdAtMs: 1,
      modifiedAtMs: 2,
      versionOffset: 8192,
      childCount: 3,
    };
    const bytes = Buffer.from(encodeNode(directory));
    const first = decodeNode(bytes);
    expect(first).toEqual(directory);
    // The same value: the same node, not decoded again.
    expect(decodeNode(bytes)).toBe(first);
    // Another value with the same bytes decodes to an equal node of its own.
    const twin = Buffer.from(bytes);
    expect(decodeNode(twin)).toEqual(directory);
    expect(decodeNode(twin)).not.toBe(first);
    // Views of one page: each value is its own, whatever it shares with its neighbours.
    const changed = encodeNode({ ...directory, childCount: 4 });
    const page = Buffer.concat([bytes, changed]);
    const left = page.subarray(0, bytes.length);
    const right = page.subarray(bytes.length);
    expect(decodeNode(left)).toEqual(directory);
    expect(decodeNode(right)).toEqual({ ...directory, childCount: 4 });
    expect(decodeNode(left)).not.toBe(decodeNode(right));
  });
});
