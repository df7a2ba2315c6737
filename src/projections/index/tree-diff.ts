import { CartridgeError } from '../../errors.js';
import type { Child, IndexNode } from './index-page.js';
import { isNode } from './index-page.js';
import { childIndexOf, lowerBound } from './key-search.js';
import type { PagedTree } from './paged-tree.js';

/**
 * The entries that differ between two trees in a key range, found without reading the pages
 * the trees share. Both trees are copy-on-write versions of one index: a page unchanged
 * between them is the same record (the same offset) in both, so when both walks stand before
 * the same page, both skip it whole. A small change in a large index therefore costs the
 * pages on the paths to the change, not the index.
 *
 * Each side is walked by a cursor whose next item is either an entry or a subtree not yet
 * opened. A subtree is opened only when it comes first in key order and the other side is not
 * standing before the same page.
 */

type Item =
  | { readonly kind: 'entry'; readonly key: string; readonly value: Buffer }
  | { readonly kind: 'subtree'; readonly child: Child; readonly low: string };

interface Frame {
  readonly node: IndexNode;
  readonly low: string | undefined;
  readonly high: string | undefined;
  readonly depth: number;
  index: number;
}

class TreeCursor {
  private readonly stack: Frame[];

  constructor(
    private readonly tree: PagedTree,
    private readonly start: string,
    private readonly end: string,
  ) {
    // A frame holding just the root, so the root is the first subtree item.
    const holder: IndexNode = {
      kind: 'branch',
      keys: [],
      children: [tree.rootChild],
      sizeBytes: 0,
    };
    this.stack = [{ node: holder, low: undefined, high: undefined, depth: -1, index: 0 }];
  }

  peek(): Item | undefined {
    while (this.stack.length > 0) {
      const frame = this.stack[this.stack.length - 1] as Frame;
      const { node, index } = frame;
      if (node.kind === 'leaf') {
        const key = node.keys[index];
        if (key !== undefined && key < this.end) {
          return { kind: 'entry', key, value: node.values[index] as Buffer };
        }
      } else if (index < node.children.length) {
        const low = index === 0 ? frame.low : node.keys[index - 1];
        if (low !== undefined && low >= this.end) {
          this.stack.length = 0;
          return undefined;
        }
        return { kind: 'subtree', child: node.children[index] as Child, low: low ?? '' };
      }
      this.stack.pop();
    }
    return undefined;
  }

  /** Moves past the current item (an entry, or a subtree left unopened). */
  skip(): void {
    (this.stack[this.stack.length - 1] as Frame).index++;
  }

  /** Opens the current item, a subtree: its entries or children become the next items. */
  open(): void {
    const frame = this.stack[this.stack.length - 1] as Frame;
    const { node, index } = frame;
    if (node.kind !== 'branch') return;
    frame.index++;
    const low = index === 0 ? frame.low : node.keys[index - 1];
    const high = index === node.keys.length ? frame.high : node.keys[index];
    const depth = frame.depth + 1;
    const child = this.tree.loadChild(node.children[index] as Child, low, high, depth);
    // Only the walk's first descent can meet keys before `start`; later ones start at 0.
    const first =
      child.kind === 'leaf'
        ? lowerBound(child.keys, this.start)
        : childIndexOf(child.keys, this.start);
    this.stack.push({ node: child, low, high, depth, index: first });
  }
}

function sameChild(left: Child, right: Child): boolean {
  if (isNode(left) || isNode(right)) return left === right;
  return left.offset === right.offset && left.sequence === right.sequence;
}

function positionOf(item: Item): string {
  return item.kind === 'entry' ? item.key : item.low;
}

/**
 * Visits, in key order, every key in `[start, end)` whose value differs between `before` and
 * `after` (undefined where a side has no such key).
 */
export function diffTrees(
  before: PagedTree,
  after: PagedTree,
  start: string,
  end: string,
  visit: (key: string, beforeValue: Buffer | undefined, afterValue: Buffer | undefined) => void,
): void {
  const left = new TreeCursor(before, start, end);
  const right = new TreeCursor(after, start, end);
  // Trees of two journals (a view of another cartridge) may name different pages by the same
  // offset and sequence, and different contents by the same record: skipping those made such
  // a diff report nothing, and no entry of one can be compared with the other's.
  if (!before.sharesPagesWith(after)) {
    throw new CartridgeError('INVALID_ARGUMENT', 'states of two cartridges cannot be compared');
  }
  for (;;) {
    const a = left.peek();
    const b = right.peek();
    if (a === undefined && b === undefined) return;
    if (a?.kind === 'subtree' && b?.kind === 'subtree' && sameChild(a.child, b.child)) {
      left.skip();
      right.skip();
      continue;
    }
    if (a?.kind === 'subtree' && (b === undefined || a.low <= positionOf(b))) {
      left.open();
      continue;
    }
    if (b?.kind === 'subtree' && (a === undefined || b.low <= positionOf(a))) {
      right.open();
      continue;
    }
    // Both are entries now (a subtree still standing on one side starts after the other's key).
    const aKey = a?.kind === 'entry' ? a.key : undefined;
    const bKey = b?.kind === 'entry' ? b.key : undefined;
    if (aKey !== undefined && (bKey === undefined || aKey < bKey)) {
      visit(aKey, (a as { value: Buffer }).value, undefined);
      left.skip();
    } else if (bKey !== undefined && (aKey === undefined || bKey < aKey)) {
      visit(bKey, undefined, (b as { value: Buffer }).value);
      right.skip();
    } else {
      const aValue = (a as { value: Buffer }).value;
      const bValue = (b as { value: Buffer }).value;
      if (!aValue.equals(bValue)) visit(aKey as string, aValue, bValue);
      left.skip();
      right.skip();
    }
  }
}
