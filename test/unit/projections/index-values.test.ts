import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import type { Extent } from '../../../src/journal/journal-event.js';
import { decodeExtent, encodeExtent } from '../../../src/projections/catalog-entry.js';
import { packValue, unpackValue } from '../../../src/projections/index/index-values.js';
import { expectCode } from '../../support/expect-code.js';

/**
 * Index values that are arrays of numbers (with nulls and nested arrays) are read by a direct
 * decoder, not msgpackr, on the cold read path. These tests hold it to msgpackr: the same
 * array for every value such a fold writes, and the same answer (an array, or
 * JOURNAL_CORRUPT) for damaged bytes. fast-check prints the seed of a failure.
 */

const packer = new Packr({ useRecords: false, mapsAsObjects: false });

/** What msgpackr answers, under the same rules as `unpackValue`. */
function reference(bytes: Buffer): unknown {
  let value: unknown;
  try {
    value = packer.unpack(bytes);
  } catch {
    return 'JOURNAL_CORRUPT';
  }
  return Array.isArray(value) ? value : 'JOURNAL_CORRUPT';
}

function unpacked(bytes: Buffer): unknown {
  try {
    return unpackValue(bytes, 'test');
  } catch (error) {
    if (error instanceof CartridgeError) return error.code;
    throw error;
  }
}

/** Numbers of every width msgpack has for them: fixints, 8 to 32 bits, doubles. */
const number = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: -32, max: -1 }),
  fc.integer({ min: 0x80, max: 0xffff_ffff }),
  fc.integer({ min: -0x8000_0000, max: -33 }),
  fc.integer({ min: 0x1_0000_0000, max: Number.MAX_SAFE_INTEGER }),
  // msgpack stores -0 as the integer 0: not a value that reads back as written.
  fc.double({ noNaN: true }).filter((item) => !Object.is(item, -0)),
);

/** The shape of catalog entries: numbers, nulls, and arrays of numbers, up to 20 items. */
const value = fc.array(
  fc.oneof(number, fc.constant(null), fc.array(number, { maxLength: 20 })),
  { maxLength: 20 },
);

describe('unpackValue', () => {
  it('reads back every array of numbers, nulls and number arrays as msgpackr does', () => {
    fc.assert(
      fc.property(value, (written) => {
        const bytes = packValue(written);
        expect(unpacked(bytes)).toEqual(reference(bytes));
        expect(unpacked(bytes)).toEqual(written);
      }),
      { numRuns: 2000 },
    );
  });

  it('answers damaged values as msgpackr does', () => {
    const damage = fc.tuple(
      value,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      fc.integer({ min: -3, max: 3 }),
    );
    fc.assert(
      fc.property(damage, ([written, edits, lengthChange]) => {
        const bytes = Buffer.from(packValue(written));
        for (const [at, byte] of edits) bytes[at % bytes.length] = byte;
        const damaged =
          lengthChange < 0
            ? bytes.subarray(0, Math.max(0, bytes.length + lengthChange))
            : Buffer.concat([bytes, Buffer.alloc(lengthChange)]);
        expect(unpacked(damaged)).toEqual(reference(damaged));
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves other values (strings, binary, maps, deeper arrays) to msgpackr', () => {
    const written = [1, 'text', Buffer.from([1, 2]), [[3]], null];
    expect(unpackValue(packValue(written), 'test')).toEqual(written);
  });
});

describe('decodeExtent', () => {
  const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  it('reads back every extent the catalog writes', () => {
    const extent = fc.record({
      recordOffset: count,
      recordSequence: count,
      blobOffset: count,
      lengthBytes: count,
      recordLengthBytes: count,
    }) as fc.Arbitrary<Extent>;
    fc.assert(
      fc.property(extent, (written) => {
        expect(decodeExtent(encodeExtent(written))).toEqual(written);
      }),
    );
  });

  it('refuses a negative or fractional field with JOURNAL_CORRUPT', () => {
    for (const bad of [-1, 1.5]) {
      expectCode(() => decodeExtent(packValue([bad, 1, 0, 10, 60])), 'JOURNAL_CORRUPT');
    }
  });
});
