import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import {
  type IndexNode,
  type PageRef,
  writableCopyOf,
} from '../../../src/projections/index/index-page.js';
import { PagedTree, type PageSource } from '../../../src/projections/index/paged-tree.js';
import { UndoLog } from '../../../src/projections/undo-log.js';
import { MemoryPages } from '../../support/memory-pages.js';

/**
 * A page read from disk is checked against the range its parent gives it (its keys must lie
 * between the two separators around its reference), and a page found in place is remembered
 * with the bounds it was found in (ARCHITECTURE 82). The pages here are cached as the engine's
 * page store caches them, one object per offset, so a page found in place under its own parent
 * is the very object a damaged parent then points to: it must still be refused there.
 */

/** Decoded pages kept by offset, as `IndexPageStore` keeps them. */
class CachedPages implements PageSource {
  private readonly cache = new Map<number, IndexNode>();

  constructor(private readonly pages: MemoryPages) {}

  load(ref: PageRef): IndexNode {
    let node = this.cache.get(ref.offset);
    if (node === undefined) {
      node = this.pages.load(ref);
      this.cache.set(ref.offset, node);
    }
    return node;
  }
}

const KEYS = Array.from({ length: 400 }, (_, index) => `key-${String(index).padStart(5, '0')}`);

function flushedTree(pages: MemoryPages): PageRef {
  const tree = new PagedTree(pages, new UndoLog());
  for (const key of KEYS) tree.set(key, Buffer.alloc(40, key.charCodeAt(key.length - 1)));
  tree.flush((node) => pages.write(node));
  return tree.rootRef as PageRef;
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    if (error instanceof CartridgeError) return error.code;
    throw error;
  }
}

describe('paged tree placement checks', () => {
  it('answers from cached pages found in place, and refuses one a parent misdirects', () => {
    const pages = new MemoryPages();
    const rootRef = flushedTree(pages);
    const cached = new CachedPages(pages);
    const tree = new PagedTree(cached, new UndoLog(), rootRef);
    // Every page is loaded, found in place and remembered so; asked twice, answered twice.
    for (let pass = 0; pass < 2; pass++) {
      for (const key of KEYS) expect(tree.get(key)?.length, key).toBe(40);
    }
    const root = cached.load(rootRef);
    expect(root.kind).toBe('branch');
    // A parent whose first two references are swapped: the second child's page (found in
    // place above, under other bounds) now stands where the first belongs.
    const damaged = writableCopyOf(root);
    if (damaged.kind !== 'branch') throw new Error('the root is a branch');
    const [first, second] = damaged.children;
    damaged.children[0] = second as PageRef;
    damaged.children[1] = first as PageRef;
    const damagedRef = pages.write(damaged);
    const misdirected = new PagedTree(cached, new UndoLog(), damagedRef);
    expect(codeOf(() => misdirected.get(KEYS[0] as string))).toBe('JOURNAL_CORRUPT');
    // The same through a walk of the range.
    expect(codeOf(() => misdirected.range('key-', 'key.', () => true))).toBe('JOURNAL_CORRUPT');
    // The intact tree still answers from the same cached pages.
    for (const key of KEYS) expect(tree.get(key)?.length, key).toBe(40);
  });
});
