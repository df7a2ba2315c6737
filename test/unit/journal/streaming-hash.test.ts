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

  it('tells apart pieces that join to different bytes', () => {
    const bytes = randomBytes(64);
    const joined = hashPieces([bytes.subarray(0, 32), bytes.subarray(32)]);
    expect(joined.equals(hashPieces([bytes.subarray(32), bytes.subarray(0, 32)]))).toBe(false);
  });
});
