import { describe, expect, it } from 'vitest';
import { indexDigest } from '../../../src/projections/index/index-digest.js';
import { PagedTree } from '../../../src/projections/index/paged-tree.js';
import { UndoLog } from '../../../src/projections/undo-log.js';
import { MemoryPages } from '../../support/memory-pages.js';

/**
 * The trickle (`PagedTree.flushSome`): which dirty pages it writes, in what order, and what it
 * lets the engine know about copy-on-write (`takeSettledCopyCount`). It finds its pages through
 * a queue of changes (src/projections/index/flush-queue.ts), so these tests check that nothing
 * is lost from that queue: every dirty page but the root can be trickled, also after an abort.
 */

function keyOf(index: number): string {
  return `/calls/${String(index).padStart(6, '0')}.json`;
}

/** A tree of `count` entries of 40 bytes, flushed: three levels, every page clean. */
function cleanTree(count: number): { tree: PagedTree; pages: MemoryPages; undo: UndoLog } {
  const pages = new MemoryPages();
  const undo = new UndoLog();
  const tree = new PagedTree(pages, undo);
  for (let index = 0; index < count; index++) tree.set(keyOf(index), Buffer.alloc(40, index));
  tree.flush((node) => pages.write(node));
  return { tree, pages, undo };
}

function depthOf(tree: PagedTree): number {
  let depth = 0;
  tree.forEachNode((_node, nodeDepth) => {
    depth = Math.max(depth, nodeDepth);
  });
  return depth;
}

describe('the trickle', () => {
  it('writes the page changed first first, and a changed page again goes last', () => {
    const { tree, pages } = cleanTree(20_000);
    // Three keys far apart, so in three different leaves.
    const [first, second, third] = [keyOf(15_000), keyOf(2_000), keyOf(9_000)];
    tree.set(first, Buffer.from('a'));
    tree.set(second, Buffer.from('b'));
    tree.set(third, Buffer.from('c'));
    tree.set(first, Buffer.from('a again'));
    const order = [1, 2, 3].map(() => {
      const [written] = tree.flushSome(1, (node) => pages.write(node));
      return written?.node.keys;
    });
    expect(order[0]).toContain(second);
    expect(order[1]).toContain(third);
    expect(order[2]).toContain(first);
  });

  it('writes every dirty page but the root, children before their parents', () => {
    const { tree, pages } = cleanTree(20_000);
    expect(depthOf(tree)).toBeGreaterThanOrEqual(2);
    for (let index = 0; index < 20_000; index += 97) tree.set(keyOf(index), Buffer.from('new'));
    const digest = indexDigest(tree);
    // Writing a branch whose child is still dirty would fail in `encodePage`.
    const written = tree.flushSome(100_000, (node) => pages.write(node));
    expect(written.length).toBeGreaterThan(200);
    expect(tree.dirtyCount).toBe(1);
    expect(tree.flushSome(10, (node) => pages.write(node))).toEqual([]);
    tree.flush((node) => pages.write(node));
    expect(indexDigest(tree)).toBe(digest);
  });

  it('loses no page to an aborted commit that trickled', () => {
    const { tree, pages, undo } = cleanTree(20_000);
    for (let index = 0; index < 20_000; index += 501) tree.set(keyOf(index), Buffer.from('new'));
    const dirty = tree.dirtyCount;
    undo.begin();
    expect(tree.flushSome(20, (node) => pages.write(node))).toHaveLength(20);
    undo.end(false);
    expect(tree.dirtyCount).toBe(dirty);
    expect(tree.flushSome(100_000, (node) => pages.write(node))).toHaveLength(dirty - 1);
    expect(tree.dirtyCount).toBe(1);
  });

  it('still finds every dirty page after many changes with no trickle between them', () => {
    const { tree, pages } = cleanTree(2_000);
    // Pages changed over and over: the queue drops its stale entries on the way (compaction),
    // and must not drop a live one.
    for (let round = 0; round < 200_000; round++) {
      tree.set(keyOf((round * 7) % 2_000), Buffer.alloc(40, round));
    }
    const written = tree.flushSome(100_000, (node) => pages.write(node));
    expect(tree.dirtyCount).toBe(1);
    expect(written.length).toBeGreaterThan(0);
  });
});

describe('settled copies', () => {
  it('counts the pages copied that were clean at the last flush, not those trickled since', () => {
    const { tree, pages } = cleanTree(20_000);
    const depth = depthOf(tree);
    tree.set(keyOf(100), Buffer.from('x'));
    // The whole path was copied: the root, the branches, the leaf.
    expect(tree.takeSettledCopyCount()).toBe(depth + 1);
    expect(tree.takeSettledCopyCount()).toBe(0);
    // The trickle writes the leaf; changing it again copies a page written since the flush.
    expect(tree.flushSome(1, (node) => pages.write(node))).toHaveLength(1);
    tree.set(keyOf(101), Buffer.from('y'));
    expect(tree.takeSettledCopyCount()).toBe(0);
    // After a full flush every page is settled again.
    tree.flush((node) => pages.write(node));
    tree.set(keyOf(102), Buffer.from('z'));
    expect(tree.takeSettledCopyCount()).toBe(depth + 1);
  });

  it('counts the pages of a tree opened at a root as settled', () => {
    const { tree, pages, undo } = cleanTree(20_000);
    const reopened = new PagedTree(pages, undo, tree.rootRef);
    reopened.set(keyOf(5), Buffer.from('x'));
    expect(reopened.takeSettledCopyCount()).toBe(depthOf(reopened) + 1);
  });
});
