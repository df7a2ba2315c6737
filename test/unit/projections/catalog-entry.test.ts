import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import type { Extent } from '../../../src/journal/journal-event.js';
import { decodeExtent, encodeExtent } from '../../../src/projections/catalog-entry.js';

/**
 * Extent values are read by a direct decoder (no msgpackr) on the read path of files of many
 * extents. These tests hold it to the general decoder: the same extents for every value the
 * catalog writes, and the same answer (an extent, or JOURNAL_CORRUPT) for damaged bytes.
 * fast-check prints the seed of a failure.
 */

const packer = new Packr({ useRecords: false, mapsAsObjects: false });

/** What the general decoder answers: an extent, or the code of what it threw. */
function reference(bytes: Buffer): Extent | string {
  let value: unknown;
  try {
    value = packer.unpack(bytes);
  } catch {
    return 'JOURNAL_CORRUPT';
  }
  const isCount = (item: unknown) =>
    typeof item === 'number' && Number.isSafeInteger(item) && item >= 0;
  if (!Array.isArray(value) || value.length !== 5 || !value.every(isCount)) {
    return 'JOURNAL_CORRUPT';
  }
  const [recordOffset, recordSequence, blobOffset, lengthBytes, recordLengthBytes] =
    value as number[];
  return { recordOffset, recordSequence, blobOffset, lengthBytes, recordLengthBytes } as Extent;
}

function decoded(bytes: Buffer): Extent | string {
  try {
    return decodeExtent(bytes);
  } catch (error) {
    if (error instanceof CartridgeError) return error.code;
    throw error;
  }
}

/** Counts of every width msgpackr writes: fixint, 8, 16, 32 bits, and doubles above. */
const count = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xffff }),
  fc.integer({ min: 0x1_0000, max: 0xffff_ffff }),
  fc.integer({ min: 0x1_0000_0000, max: Number.MAX_SAFE_INTEGER }),
);

const extent = fc.record({
  recordOffset: count,
  recordSequence: count,
  blobOffset: count,
  lengthBytes: count,
  recordLengthBytes: count,
}) as fc.Arbitrary<Extent>;

describe('decodeExtent', () => {
  it('reads back every extent the catalog writes', () => {
    fc.assert(
      fc.property(extent, (written) => {
        expect(decodeExtent(encodeExtent(written))).toEqual(written);
      }),
      { numRuns: 2000 },
    );
  });

  it('answers damaged values as the general decoder does', () => {
    const damage = fc.tuple(
      extent,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      fc.integer({ min: -3, max: 3 }),
    );
    fc.assert(
      fc.property(damage, ([written, edits, lengthChange]) => {
        const bytes = Buffer.from(encodeExtent(written));
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        const damaged =
          lengthChange < 0
            ? bytes.subarray(0, Math.max(0, bytes.length + lengthChange))
            : Buffer.concat([bytes, Buffer.alloc(lengthChange)]);
        expect(decoded(damaged)).toEqual(reference(damaged));
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses a negative or fractional count, which the direct decoder leaves to msgpackr', () => {
    for (const value of [-1, 1.5, 2 ** 60]) {
      const bytes = Buffer.from(packer.pack([value, 1, 0, 10, 60]));
      expect(decoded(bytes)).toBe('JOURNAL_CORRUPT');
    }
  });
});
