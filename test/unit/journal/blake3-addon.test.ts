import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { blake3 } from '@noble/hashes/blake3.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashBytes, SMALL_INPUT_HASH_IMPLEMENTATION } from '../../../src/journal/hashing.js';
import { loadNativeAddon } from '../../../src/journal/native-addon.js';

/**
 * The BLAKE3 addon (`native/cartridge-blake3.c`, written from the specification) must give
 * the digests of an independent implementation (`@noble/hashes`) for every length: one block,
 * one chunk, and trees of chunks several levels deep. It writes 32 bytes where it is told and
 * nowhere else, and refuses bad arguments instead of touching memory it does not own. Where it
 * was built (`npm install` builds it), it must be the one hashing small inputs.
 */

interface Binding {
  hashInto(input: Uint8Array, target: Uint8Array, offset: number): void;
}

const ADDON = join(process.cwd(), 'native', 'build', 'Release', 'cartridge_blake3.node');
const binding = loadNativeAddon<Binding>('cartridge_blake3.node', false);

function reference(input: Uint8Array): Buffer {
  return Buffer.from(blake3(input));
}

/** The specification's test input: byte i is i mod 251. */
function testInput(length: number): Buffer {
  const input = Buffer.alloc(length);
  for (let index = 0; index < length; index++) input[index] = index % 251;
  return input;
}

// The lengths of the specification's test vectors: the edges of blocks, chunks and subtrees.
const VECTOR_LENGTHS = [
  0, 1, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097, 5120,
  5121, 6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744, 102400,
];

describe('the BLAKE3 addon', () => {
  it.skipIf(!existsSync(ADDON) || process.env['CARTRIDGE_PORTABLE_HASH'] === '1')(
    'hashes small inputs where it was built',
    () => {
      expect(binding).not.toBeNull();
      expect(SMALL_INPUT_HASH_IMPLEMENTATION).toBe('addon');
    },
  );

  it.skipIf(binding === null)('gives the digests of the test vector inputs', () => {
    const subject = binding as Binding;
    for (const length of VECTOR_LENGTHS) {
      const input = testInput(length);
      const digest = Buffer.alloc(32);
      subject.hashInto(input, digest, 0);
      expect(digest.toString('hex'), `length ${length}`).toBe(reference(input).toString('hex'));
    }
  });

  it.skipIf(binding === null)(
    'agrees with an independent implementation on random inputs, writing only its digest',
    () => {
      const subject = binding as Binding;
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            fc.uint8Array({ minLength: 900, maxLength: 5000 }),
            fc.integer({ min: 60_000, max: 300_000 }).map((length) => randomBytes(length)),
          ),
          fc.nat({ max: 40 }),
          fc.nat({ max: 16 }),
          (bytes, offset, inputOffset) => {
            // The input as a view into a larger buffer, as the journal's slabs hand them out.
            const backing = Buffer.alloc(inputOffset + bytes.length + 3, 0x5a);
            backing.set(bytes, inputOffset);
            const input = backing.subarray(inputOffset, inputOffset + bytes.length);
            const target = Buffer.alloc(offset + 32 + 5, 0xee);
            subject.hashInto(input, target, offset);
            expect(target.subarray(offset, offset + 32).equals(reference(bytes))).toBe(true);
            expect(target.subarray(0, offset).every((byte) => byte === 0xee)).toBe(true);
            expect(target.subarray(offset + 32).every((byte) => byte === 0xee)).toBe(true);
          },
        ),
        { numRuns: 300 },
      );
    },
  );

  it.skipIf(binding === null)('refuses bad arguments', () => {
    const subject = binding as Binding;
    const input = Buffer.from('abc');
    expect(() => subject.hashInto(input, Buffer.alloc(31), 0)).toThrow(RangeError);
    expect(() => subject.hashInto(input, Buffer.alloc(40), 9)).toThrow(RangeError);
    expect(() => subject.hashInto(input, Buffer.alloc(40), 4_000_000_000)).toThrow(RangeError);
    expect(() => subject.hashInto('abc' as unknown as Uint8Array, Buffer.alloc(32), 0)).toThrow(
      TypeError,
    );
    expect(() =>
      subject.hashInto(input, new Uint16Array(16) as unknown as Uint8Array, 0),
    ).toThrow(TypeError);
    expect(() => subject.hashInto(input, Buffer.alloc(32), -1)).toThrow();
  });
});

describe('hashBytes', () => {
  it('gives the digests of an independent implementation at every size it routes', () => {
    for (const length of [...VECTOR_LENGTHS, 2047, 2050, 1 << 20]) {
      const input = testInput(length);
      expect(hashBytes(input).equals(reference(input)), `length ${length}`).toBe(true);
    }
  });

  it('hands out digests that later digests do not overwrite', () => {
    const first = hashBytes(Buffer.from('first'));
    const copy = Buffer.from(first);
    for (let index = 0; index < 1000; index++) hashBytes(Buffer.from(`more ${index}`));
    expect(first.equals(copy)).toBe(true);
  });
});
