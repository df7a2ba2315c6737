import { blake3 } from '@noble/hashes/blake3.js';
import { describe, expect, it } from 'vitest';
import { hashBytes, hashParts } from '../../../src/journal/hashing.js';

/**
 * `hashBytes` picks an implementation by input size (WebAssembly for small inputs once it has
 * compiled, the native binding for large ones): whatever it picks, the digest must be BLAKE3's.
 * The reference is the pure JavaScript implementation, used directly.
 */
const SIZES = [0, 1, 31, 63, 64, 65, 1023, 1024, 1025, 2047, 2048, 2049, 4096, 65_537];

function patterned(sizeBytes: number): Buffer {
  const bytes = Buffer.allocUnsafe(sizeBytes);
  for (let index = 0; index < sizeBytes; index++) bytes[index] = (index * 131 + 7) & 0xff;
  return bytes;
}

describe('hashBytes', () => {
  it('gives BLAKE3 digests before the WebAssembly hasher is ready', () => {
    for (const sizeBytes of SIZES) {
      const bytes = patterned(sizeBytes);
      expect(hashBytes(bytes).equals(Buffer.from(blake3(bytes)))).toBe(true);
    }
  });

  it('gives BLAKE3 digests at every size once the event loop has turned', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const sizeBytes of SIZES) {
      const bytes = patterned(sizeBytes);
      const expected = Buffer.from(blake3(bytes));
      expect(hashBytes(bytes).equals(expected)).toBe(true);
      // A view into a larger buffer hashes only its own bytes.
      const framed = Buffer.concat([Buffer.from([9, 9]), bytes, Buffer.from([9])]);
      expect(hashBytes(framed.subarray(2, 2 + sizeBytes)).equals(expected)).toBe(true);
      expect(hashParts([bytes.subarray(0, sizeBytes >> 1), bytes.subarray(sizeBytes >> 1)]))
        .toEqual(expected);
    }
  });

  it('returns digests that later calls do not overwrite', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const first = hashBytes(patterned(10));
    const copy = Buffer.from(first);
    hashBytes(patterned(20));
    expect(first.equals(copy)).toBe(true);
  });
});
