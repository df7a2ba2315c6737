import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INDEX_PAGE_TARGET_BYTES } from '../../src/limits.js';
import {
  CHILD_REF_BYTES,
  decodePage,
  encodePage,
  entryBytes,
  type IndexNode,
  PAGE_OVERHEAD_BYTES,
  type PageRef,
  separatorBytes,
} from '../../src/projections/index/index-page.js';
import { indexDigest } from '../../src/projections/index/index-digest.js';
import { PagedTree } from '../../src/projections/index/paged-tree.js';
import { UndoLog } from '../../src/projections/undo-log.js';
import { MemoryPages } from '../support/memory-pages.js';

/**
 * The paged tree against a reference model (a sorted map). Random operations — sets, deletes,
 * range scans, trickle flushes, full flushes, reloads from the flushed root, and transactions
 * that abort — must give the model's answers, keep the B+tree's invariants, and leave the
 * exact same pages after an abort. `PROPERTY_RUNS` and `PROPERTY_SEED` as in the other
 * property tests; the seed is printed on failure by fast-check.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '60', 10) || 60;
const SEED = process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);


type Op =
  | { kind: 'set'; key: string; valueBytes: number }
  | { kind: 'delete'; key: string }
  | { kind: 'get'; key: string }
  | { kind: 'pair'; first: string; second: string; valueBytes: number }
  | { kind: 'range'; start: string; end: string }
  | { kind: 'trickle'; count: number }
  | { kind: 'flush' }
  | { kind: 'reload' }
  | { kind: 'aborted'; ops: Op[] };

/**
 * Keys from a small alphabet with shared prefixes, so pages fill, split and merge; a few are
 * not ASCII, which pages encode through another path (see `encodePage`), among them characters
 * from U+E000-U+FFFF and astral ones, whose UTF-16 order (the tree's) differs from the order
 * of their UTF-8 bytes (the page's).
 */
const key = fc
  .tuple(
    fc.constantFrom(
      'E/a\u0000',
      'E/b\u0000',
      'E/\u0000',
      'X0000',
      'E/a/c\u0000',
      'E/\u00e9\u0000',
      'E/\u65e5\u0000',
      'E/\ue000\u0000',
      'E/\uffee\u0000',
      'E/\u{1f600}\u0000',
    ),
    fc.nat({ max: 400 }),
  )
  .map(([prefix, number]) => `${prefix}${number.toString(36).padStart(3, '0')}`);

const leafOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('set' as const), key, valueBytes: fc.nat({ max: 300 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('range' as const), start: key, end: key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trickle' as const), count: fc.integer({ min: 1, max: 5 }) }) },
);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: leafOp },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reload' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('aborted' as const), ops: fc.array(leafOp, { maxLength: 30 }) }) },
);

function valueOf(key: string, bytes: number): Buffer {
  const value = Buffer.alloc(bytes);
  for (let index = 0; index < bytes; index++) value[index] = (key.charCodeAt(index % key.length) + index) & 0xff;
  return value;
}

/** Sorted keys, separators that bound their children, sizes within the page target. */
function checkInvariants(tree: PagedTree): void {
  let previousLeafKey: string | undefined;
  let leafDepth: number | undefined;
  tree.forEachNode((node, depth) => {
    for (let index = 1; index < node.keys.length; index++) {
      expect((node.keys[index - 1] as string) < (node.keys[index] as string)).toBe(true);
    }
    if (node.keys.length > 1 || node.kind === 'branch') {
      expect(node.sizeBytes <= INDEX_PAGE_TARGET_BYTES || node.keys.length === 1).toBe(true);
    }
    if (node.kind === 'leaf') {
      leafDepth ??= depth;
      expect(depth, 'every leaf at one depth').toBe(leafDepth);
      const first = node.keys[0];
      if (first !== undefined && previousLeafKey !== undefined) expect(previousLeafKey < first).toBe(true);
      previousLeafKey = node.keys[node.keys.length - 1] ?? previousLeafKey;
    } else {
      expect(node.children.length).toBe(node.keys.length + 1);
    }
  });
}

function expectSame(tree: PagedTree, model: Map<string, Buffer>): void {
  const entries: [string, Buffer][] = [];
  tree.range('', '\uffff', (entryKey, value) => {
    entries.push([entryKey, value]);
  });
  const expected = [...model.entries()].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
  expect(entries.map(([entryKey]) => entryKey)).toEqual(expected.map(([entryKey]) => entryKey));
  for (const [index, [, value]] of entries.entries()) expect(value.equals((expected[index] as [string, Buffer])[1])).toBe(true);
}

/**
 * A lookup gives the model's value. A key is looked up before and after each change of it,
 * and after an abort, so an answer the tree remembers (see `PagedTree.get`) is asked for again
 * once it is stale.
 */
function expectValue(tree: PagedTree, model: Map<string, Buffer>, key: string): void {
  const expected = model.get(key);
  const found = tree.get(key);
  if (expected === undefined) expect(found).toBeUndefined();
  else expect(found?.equals(expected)).toBe(true);
}

function apply(tree: PagedTree, pages: MemoryPages, model: Map<string, Buffer>, step: Op): void {
  switch (step.kind) {
    case 'set': {
      const value = valueOf(step.key, step.valueBytes);
      expectValue(tree, model, step.key);
      tree.set(step.key, value);
      model.set(step.key, value);
      expectValue(tree, model, step.key);
      return;
    }
    case 'delete':
      expectValue(tree, model, step.key);
      expect(tree.delete(step.key)).toBe(model.delete(step.key));
      expectValue(tree, model, step.key);
      return;
    case 'get':
      expectValue(tree, model, step.key);
      return;
    case 'pair': {
      // What the catalog does for a created file: two keys looked up, then both set, the second
      // right after the first (whose split or copy may move the second to another page).
      const first = valueOf(step.first, step.valueBytes);
      const second = valueOf(step.second, step.valueBytes + 7);
      tree.get(step.first);
      tree.get(step.second);
      tree.set(step.first, first);
      model.set(step.first, first);
      tree.set(step.second, second);
      model.set(step.second, second);
      expectValue(tree, model, step.first);
      expectValue(tree, model, step.second);
      return;
    }
    case 'range': {
      const seen: string[] = [];
      tree.range(step.start, step.end, (entryKey) => {
        seen.push(entryKey);
      });
      const expected = [...model.keys()].filter((entryKey) => entryKey >= step.start && entryKey < step.end).sort();
      expect(seen).toEqual(expected);
      expect(tree.get(step.start)?.equals(model.get(step.start) ?? Buffer.alloc(0)) ?? !model.has(step.start)).toBe(true);
      return;
    }
    case 'trickle': {
      const before = tree.dirtyCount;
      const written = tree.flushSome(step.count, (node) => pages.write(node));
      expect(tree.dirtyCount).toBe(before - written.length);
      // The trickle finds its pages through a queue of changes: one that stops short of what it
      // was asked for must have left nothing but the root to write.
      if (written.length < step.count) expect(tree.dirtyCount).toBeLessThanOrEqual(1);
      return;
    }
    default:
      throw new Error(`not a leaf op: ${step.kind}`);
  }
}

describe('paged tree against a sorted map', () => {
  it('gives the model answers, keeps its invariants, and restores the exact pages on abort', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 400 }), (ops) => {
        const pages = new MemoryPages();
        let undo = new UndoLog();
        let tree = new PagedTree(pages, undo);
        const model = new Map<string, Buffer>();
        for (const step of ops) {
          if (step.kind === 'flush') {
            tree.flush((node) => pages.write(node));
            expect(tree.dirtyCount).toBe(0);
            expect(tree.rootRef).toBeDefined();
          } else if (step.kind === 'reload') {
            tree.flush((node) => pages.write(node));
            const digest = indexDigest(tree);
            undo = new UndoLog();
            tree = new PagedTree(pages, undo, tree.rootRef);
            expect(indexDigest(tree)).toBe(digest);
          } else if (step.kind === 'aborted') {
            const digest = indexDigest(tree);
            const dirtyBefore = tree.dirtyCount;
            undo.begin();
            const scratch = new Map(model);
            for (const inner of step.ops) apply(tree, pages, scratch, inner);
            undo.end(false);
            expect(indexDigest(tree), 'an abort leaves the pages it found').toBe(digest);
            // The latest first: they are the lookups the tree may still remember.
            for (const inner of [...step.ops].reverse()) {
              if ('key' in inner) expectValue(tree, model, inner.key);
            }
            expect(tree.dirtyCount).toBe(dirtyBefore);
          } else {
            undo.begin();
            apply(tree, pages, model, step);
            undo.end(true);
          }
        }
        checkInvariants(tree);
        expectSame(tree, model);
      }),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });

  it('answers and changes right after flushes, splits and aborts of the keys it just looked up', () => {
    // The tree remembers the lookups and the dirty paths of its last few keys (see
    // `PagedTree.get` and `set`). Few keys, large values and frequent trickles make a key looked
    // up, then its path flushed, split, merged or rolled back, then set or looked up again: a
    // remembered path or answer that outlived such a change puts an entry into a page the tree
    // no longer holds, and the model sees it.
    const fewKeys = fc.integer({ min: 0, max: 24 }).map((number) => `k${number.toString().padStart(2, '0')}`);
    const step: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fewKeys, valueBytes: fc.nat({ max: 1500 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fewKeys }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), key: fewKeys }) },
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant('pair' as const),
          first: fewKeys,
          second: fewKeys,
          valueBytes: fc.nat({ max: 1500 }),
        }),
      },
      // Up to every dirty page: the page of a key just looked up is written too.
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('trickle' as const), count: fc.integer({ min: 1, max: 12 }) }) },
    );
    const outer: fc.Arbitrary<Op> = fc.oneof(
      { weight: 12, arbitrary: step },
      { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('aborted' as const), ops: fc.array(step, { maxLength: 8 }) }) },
    );
    fc.assert(
      fc.property(fc.array(outer, { minLength: 1, maxLength: 300 }), (ops) => {
        const pages = new MemoryPages();
        const undo = new UndoLog();
        const tree = new PagedTree(pages, undo);
        const model = new Map<string, Buffer>();
        for (const next of ops) {
          if (next.kind === 'flush') {
            tree.flush((node) => pages.write(node));
          } else if (next.kind === 'aborted') {
            undo.begin();
            const scratch = new Map(model);
            for (const inner of next.ops) apply(tree, pages, scratch, inner);
            undo.end(false);
            for (const inner of [...next.ops].reverse()) {
              if ('key' in inner) expectValue(tree, model, inner.key);
            }
          } else {
            undo.begin();
            apply(tree, pages, model, next);
            undo.end(true);
          }
        }
        checkInvariants(tree);
        expectSame(tree, model);
      }),
      { numRuns: NUM_RUNS * 3, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });

  it('builds the same pages whatever the flushes, reloads and aborts in between', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 300 }), (ops) => {
        // One tree sees every op (with its flushes and reloads); the other only the changes
        // that were kept, all in memory. Their pages must be the same.
        const pages = new MemoryPages();
        let tree = new PagedTree(pages, new UndoLog());
        const replayed = new PagedTree(pages, new UndoLog());
        const model = new Map<string, Buffer>();
        for (const step of ops) {
          if (step.kind === 'flush' || step.kind === 'reload') {
            tree.flush((node) => pages.write(node));
            if (step.kind === 'reload') tree = new PagedTree(pages, new UndoLog(), tree.rootRef);
          } else if (step.kind === 'aborted' || step.kind === 'range') {
            continue;
          } else {
            apply(tree, pages, model, step);
            if (step.kind === 'set') replayed.set(step.key, valueOf(step.key, step.valueBytes));
            if (step.kind === 'delete') replayed.delete(step.key);
          }
        }
        expect(indexDigest(tree)).toBe(indexDigest(replayed));
      }),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });

  it('an abort puts entries inserted into and deleted from a dirty leaf back in their places', () => {
    // Entry-level undo (not a copy of the leaf) must restore order exactly, in a leaf that was
    // already dirty before the transaction, whatever mix of inserts and deletes ran in it.
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat({ max: 60 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 60 })), { minLength: 1, maxLength: 40 }),
        (initial, changes) => {
          const undo = new UndoLog();
          const tree = new PagedTree(new MemoryPages(), undo);
          const keyOf = (number: number): string => `k${number.toString().padStart(3, '0')}`;
          undo.begin();
          for (const number of initial) tree.set(keyOf(number), Buffer.alloc(3, number));
          undo.end(true);
          const digest = indexDigest(tree);
          undo.begin();
          for (const [insert, number] of changes) {
            if (insert) tree.set(keyOf(number), Buffer.alloc(5, number));
            else tree.delete(keyOf(number));
          }
          undo.end(false);
          expect(indexDigest(tree)).toBe(digest);
          checkInvariants(tree);
          const expected = new Map(initial.map((number) => [keyOf(number), Buffer.alloc(3, number)]));
          expectSame(tree, expected);
        },
      ),
      { numRuns: NUM_RUNS * 5, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });

  it('decodes a page to the node it was encoded from, size estimate included, and back', () => {
    // A page read from disk computes its size estimate only when a writer asks for it, and
    // leaves its values and children in its bytes: what it reports, and what a copy of it
    // changed and encoded again holds, must be what the node it came from would give.
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { minLength: 1, maxLength: 40 }),
        fc.nat({ max: 200 }),
        fc.boolean(),
        fc.nat(),
        (unsorted, valueBytes, branch, pick) => {
          const keys = [...unsorted].sort();
          const node: IndexNode = branch
            ? {
                kind: 'branch',
                keys,
                children: [...keys, ''].map((_, index) => ({
                  offset: index * 100,
                  sequence: index + 1,
                  lengthBytes: index * 3,
                })),
                sizeBytes: keys.reduce(
                  (total, separator) => total + separatorBytes(separator),
                  PAGE_OVERHEAD_BYTES + CHILD_REF_BYTES,
                ),
              }
            : {
                kind: 'leaf',
                keys,
                values: keys.map((entryKey, index) =>
                  valueOf(entryKey, (valueBytes + index) % 201),
                ),
                sizeBytes: 0,
              };
          if (node.kind === 'leaf') {
            node.sizeBytes = node.keys.reduce(
              (total, entryKey, index) =>
                total + entryBytes(entryKey, node.values[index] as Buffer),
              PAGE_OVERHEAD_BYTES,
            );
          }
          const bytes = encodePage(node);
          const decoded = decodePage(bytes, 1_000_000);
          expect(decoded.kind).toBe(node.kind);
          expect(decoded.keys).toEqual(node.keys);
          expect(decoded.sizeBytes).toBe(node.sizeBytes);
          if (decoded.kind === 'leaf' && node.kind === 'leaf') {
            expect(decoded.values.map((value) => value.toString('hex'))).toEqual(
              node.values.map((value) => value.toString('hex')),
            );
          }
          if (decoded.kind === 'branch' && node.kind === 'branch') {
            expect(decoded.children).toEqual(node.children);
          }
          expect(encodePage(decoded).equals(bytes)).toBe(true);
          // A copy of the decoded page, changed as the tree changes a clean page it writes to.
          const index = pick % keys.length;
          const removed = keys[index] as string;
          const kept = (entryKey: string): boolean => entryKey !== removed;
          const fresh = { ...node, keys: keys.filter(kept) } as IndexNode;
          const copied = { ...decoded, keys: decoded.keys.filter(kept) } as IndexNode;
          const others = (_: unknown, at: number): boolean => at !== index;
          if (fresh.kind === 'leaf' && copied.kind === 'leaf' && node.kind === 'leaf') {
            fresh.values = node.values.filter(others);
            copied.values = decoded.kind === 'leaf' ? decoded.values.filter(others) : [];
          } else if (
            fresh.kind === 'branch' &&
            copied.kind === 'branch' &&
            node.kind === 'branch'
          ) {
            fresh.children = node.children.filter(others);
            copied.children = decoded.kind === 'branch' ? decoded.children.filter(others) : [];
          }
          expect(encodePage(copied).equals(encodePage(fresh))).toBe(true);
        },
      ),
      { numRuns: NUM_RUNS * 5, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });

  it('refuses forged pages: a child reference that points forward, keys out of order', () => {
    const pages = new MemoryPages();
    const tree = new PagedTree(pages, new UndoLog());
    for (let index = 0; index < 200; index++) tree.set(`k${index.toString().padStart(4, '0')}`, Buffer.alloc(50, index));
    tree.flush((node) => pages.write(node));
    const root = tree.rootRef as PageRef;
    const branch = pages.load(root);
    expect(branch.kind).toBe('branch');
    // Decoding the root as if it lived before its children: a forward reference.
    expect(() => decodePage(encodePage(branch), 8192)).toThrow(expect.objectContaining({ code: 'JOURNAL_CORRUPT' }));
    const leaf = { kind: 'leaf' as const, keys: ['b', 'a'], values: [Buffer.alloc(1), Buffer.alloc(1)], sizeBytes: 30 };
    expect(() => decodePage(encodePage(leaf), 100_000)).toThrow(expect.objectContaining({ code: 'JOURNAL_CORRUPT' }));
    expect(() => decodePage(Buffer.from([0xc1]), 100_000)).toThrow(expect.objectContaining({ code: 'JOURNAL_CORRUPT' }));
  });

  it('checks the order of keys as JavaScript orders strings, not as their bytes sort', () => {
    const leafOf = (keys: string[]): Buffer =>
      encodePage({ kind: 'leaf', keys, values: keys.map(() => Buffer.alloc(2)), sizeBytes: 0 });
    const corrupt = expect.objectContaining({ code: 'JOURNAL_CORRUPT', offset: 100_000 });
    // U+E000 sorts after an astral character as a string, before it as bytes: a page in byte
    // order is out of order, and one in string order is a good page.
    expect(() => decodePage(leafOf(['a\ue000', 'a\u{1f600}']), 100_000)).toThrow(corrupt);
    const good = decodePage(leafOf(['a\u{1f600}', 'a\ue000', 'b']), 100_000);
    expect(good.keys).toEqual(['a\u{1f600}', 'a\ue000', 'b']);
    // Bytes that are not UTF-8 decode to U+FFFD, which sorts after 'é' whatever their bytes.
    const forged = Buffer.from([0, 0, 2, 0, 1, 0, 0x80, 0, 0, 0, 0, 2, 0, 0xc3, 0xa9, 0, 0, 0, 0]);
    expect(() => decodePage(forged, 100_000)).toThrow(corrupt);
    // Neighbours that first differ in an ASCII byte after the same non-ASCII ones, or where one
    // ends: ordered as bytes, and the same order as strings.
    const asciiKeys = ['\u00e9', '\u00e9a', '\u00e9b', '\u{1f600}x', '\u{1f600}y'];
    expect(decodePage(leafOf(asciiKeys), 100_000).keys).toEqual(asciiKeys);
    expect(() => decodePage(leafOf(['\u00e9b', '\u00e9a']), 100_000)).toThrow(corrupt);
    expect(() => decodePage(leafOf(['abcdefgh', 'abcdefgh']), 100_000)).toThrow(corrupt);
    expect(() => decodePage(leafOf(['abcdefghi', 'abcdefgh']), 100_000)).toThrow(corrupt);
  });

  it('finds every key of pages read from disk, whatever their characters', () => {
    // Lookups in pages read back from disk, of keys whose byte order and string order differ,
    // and of keys that are prefixes of others.
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { minLength: 1, maxLength: 300 }),
        fc.array(key, { maxLength: 50 }),
        (keys, others) => {
          const pages = new MemoryPages();
          const written = new PagedTree(pages, new UndoLog());
          for (const entryKey of keys) written.set(entryKey, valueOf(entryKey, 40));
          written.flush((node) => pages.write(node));
          const tree = new PagedTree(pages, new UndoLog(), written.rootRef);
          for (const entryKey of keys) {
            expect(tree.get(entryKey)?.equals(valueOf(entryKey, 40))).toBe(true);
          }
          for (const other of others) {
            expect(tree.get(other) !== undefined).toBe(keys.includes(other));
          }
          expect(tree.get(`${keys[0] as string}\u0000`)).toBeUndefined();
        },
      ),
      { numRuns: NUM_RUNS * 3, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
