import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashBytes } from '../../../src/journal/hashing.js';
import { hashPieces } from '../../../src/journal/streaming-hash.js';

/**
 * `hashPieces` streams a sealed blob's ciphertext and tag through one hasher: its digest must be
 * the one of the joined bytes (what a reader hashes, from the file), call after call (the hasher
 * is reused), whatever the pieces' sizes and views.
 */

describe('hashPieces', () => {
  it('gives the digest of the joined pieces, call after call', () => {
    const cases: Uint8Array[][] = [
      [randomBytes(64 * 1024), randomBytes(16)],
      [randomBytes(5), randomBytes(3000), randomBytes(16)],
      [Buffer.alloc(0), randomBytes(16)],
      [randomBytes(100)],
      [new Uint8Array(randomBytes(40).buffer, 8, 20), randomBytes(16).subarray(1, 9)],
    ];
    for (let round = 0; round < 3; round++) {
      for (const pieces of cases) {
        expect(hashPieces(pieces).equals(hashBytes(Buffer.concat(pieces)))).toBe(true);
      }
    }
  });

  it('gives the same digest for views of one buffer, side by side, apart, or out of order', () => {
    const whole = randomBytes(70_000);
    const cases: Uint8Array[][] = [
      // Side by side, as the addon seals a blob: hashed as one view.
      [whole.subarray(0, 65_536), whole.subarray(65_536, 65_552)],
      [whole.subarray(10, 20), whole.subarray(20, 5000), whole.subarray(5000, 70_000)],
      // A gap between them, or the second before the first: streamed piece by piece.
      [whole.subarray(0, 1000), whole.subarray(1001, 2000)],
      [whole.subarray(1000, 2000), whole.subarray(0, 1000)],
      [whole.subarray(0, 10), new Uint8Array(whole.buffer, whole.byteOffset + 10, 30)],
    ];
    for (const pieces of cases) {
      expect(hashPieces(pieces).equals(hashBytes(Buffer.concat(pieces)))).toBe(true);
    }
  });

  it('tells apart pieces that join to different bytes', () => {
    const bytes = randomBytes(64);
    const joined = hashPieces([bytes.subarray(0, 32), bytes.subarray(32)]);
    expect(joined.equals(hashPieces([bytes.subarray(32), bytes.subarray(0, 32)]))).toBe(false);
  });
});
