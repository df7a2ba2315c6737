import { hashBytes } from '../../journal/hashing.js';
import type { PagedTree } from './paged-tree.js';

/**
 * A digest of an index's pages: every page's kind and keys, and every leaf's values, depth
 * first. Child positions are left out: they say where a page was written, which depends on when
 * checkpoints ran. Two trees with the same digest hold the same entries in the same pages, so
 * this is what "replaying from the genesis gives the pages the checkpoints wrote" is checked by.
 */
export function indexDigest(tree: PagedTree): string {
  const parts: Buffer[] = [];
  tree.forEachNode((node, depth) => {
    parts.push(Buffer.from(`${node.kind}:${depth}:${node.keys.length}\u0000`));
    for (const key of node.keys) parts.push(Buffer.from(`${key}\u0000`));
    if (node.kind === 'leaf') {
      for (const value of node.values) {
        parts.push(Buffer.from(`${value.length}:`), value);
      }
    }
  });
  return hashBytes(Buffer.concat(parts)).toString('hex');
}
