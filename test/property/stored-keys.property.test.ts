import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  childIndexIn,
  compareKeyAt,
  decodePage,
  encodePage,
  type IndexNode,
  keyAt,
  keyCountOf,
  lowerBoundIn,
  storedNodeOf,
  writableCopyOf,
  type BranchNode,
  type LeafNode,
} from '../../src/projections/index/index-page.js';
import { childIndexOf, lowerBound } from '../../src/projections/index/key-search.js';

/**
 * A page read from disk keeps its keys as UTF-8 bytes and compares them with strings in place
 * (src/projections/index/stored-keys.ts). Its answers must be those of the sorted strings:
 * JavaScript's order (UTF-16 code units), which differs from the bytes' order where a character
 * beyond U+FFFF (a surrogate pair) meets one from U+E000 to U+FFFF. Keys mix ASCII, accents,
 * such characters and pairs. `PROPERTY_RUNS` / `PROPERTY_SEED` as elsewhere; fast-check prints
 * the seed of a failure.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '60', 10) || 60;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

const character = fc.constantFrom('a', 'b', 'z', '/', '0', 'é', 'ß', '\uE000', '\uFFFD', '\uFFFF', '😀', '𐀀');
const key = fc.array(character, { maxLength: 6 }).map((characters) => characters.join(''));

function sortedDistinct(keys: readonly string[]): string[] {
  return [...new Set(keys)].sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
}

function leafOf(keys: readonly string[]): LeafNode {
  const values = keys.map((entryKey, index) => Buffer.from(`${index}:${entryKey}`));
  const sizeBytes = keys.reduce((sum, entryKey, index) => sum + entryKey.length + (values[index] as Buffer).length + 4, 16);
  return { kind: 'leaf', keys: [...keys], values, sizeBytes };
}

function branchOf(keys: readonly string[]): BranchNode {
  const children = Array.from({ length: keys.length + 1 }, (_unused, index) => ({ offset: index + 1, sequence: index, lengthBytes: 0 }));
  return { kind: 'branch', keys: [...keys], children, sizeBytes: 0 };
}

function sign(value: number): number {
  return value < 0 ? -1 : value > 0 ? 1 : 0;
}

const options = { numRuns: NUM_RUNS, seed: SEED };

describe('keys compared in a page read from disk', () => {
  it('give the answers of the sorted strings, in a leaf and in a branch', () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 30 }), fc.array(key, { minLength: 1, maxLength: 20 }), (given, probes) => {
        const keys = sortedDistinct(given);
        const leaf = decodePage(encodePage(leafOf(keys)), 1_000_000) as LeafNode;
        const branch = decodePage(encodePage(branchOf(keys)), 1_000_000) as BranchNode;
        expect(keyCountOf(leaf)).toBe(keys.length);
        expect(keys.map((_unused, index) => keyAt(leaf, index))).toEqual(keys);
        for (const probe of [...probes, ...keys]) {
          expect(lowerBoundIn(leaf, probe)).toBe(lowerBound(keys, probe));
          expect(childIndexIn(branch, probe)).toBe(childIndexOf(keys, probe));
          keys.forEach((own, index) => {
            expect(sign(compareKeyAt(leaf, index, probe))).toBe(sign(own < probe ? -1 : own > probe ? 1 : 0));
          });
        }
      }),
      options,
    );
  });

  it('are refused out of JavaScript order, even in the order of their bytes', () => {
    // U+FFFF is EF BF BF in UTF-8, U+10000 is F0 90 80 80: greater in bytes, smaller in UTF-16.
    const inBytesOrder = leafOf(['\uFFFF', '𐀀']);
    expect(() => decodePage(encodePage(inBytesOrder), 9)).toThrow(expect.objectContaining({ code: 'JOURNAL_CORRUPT' }));
    const inStringOrder = leafOf(['𐀀', '\uFFFF']);
    expect(keyAt(decodePage(encodePage(inStringOrder), 9), 1)).toBe('\uFFFF');
    expect(() => decodePage(encodePage(leafOf(['same', 'same'])), 9)).toThrow(expect.objectContaining({ code: 'JOURNAL_CORRUPT' }));
  });

  it('give the size estimate and the entries of the node they were written from', () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 30 }), (given) => {
        const keys = sortedDistinct(given);
        const written = leafOf(keys);
        const bytes = encodePage(written);
        for (const stored of [decodePage(bytes, 1_000_000), storedNodeOf(written, bytes)]) {
          expect(stored.sizeBytes).toBe(written.sizeBytes);
          const copy = writableCopyOf(stored) as LeafNode;
          expect(copy.keys).toEqual(keys);
          expect(copy.values.map(String)).toEqual(written.values.map(String));
          // The copy is the caller's: changing it leaves the stored page as it was.
          copy.keys.push('~');
          expect(keyCountOf(stored)).toBe(keys.length);
        }
      }),
      options,
    );
  });

  it('decode a key with malformed UTF-8 as Buffer#toString does, and keep it in order', () => {
    const node: IndexNode = leafOf(['a', 'b']);
    const bytes = encodePage(node);
    // Turn the second key, 'b', into a lone continuation byte: it decodes to U+FFFD, after 'a'.
    const second = bytes.indexOf(Buffer.from('b'), 4);
    bytes[second] = 0x80;
    const stored = decodePage(bytes, 9);
    expect(keyAt(stored, 1)).toBe('\uFFFD');
    expect(lowerBoundIn(stored as LeafNode, '\uFFFD')).toBe(1);
    expect(compareKeyAt(stored, 1, '\uFFFD')).toBe(0);
  });
});
