import type { IndexNode } from './index-page.js';

/**
 * The dirty nodes of a paged tree in the order they last changed, oldest first: where the
 * trickle finds the coldest pages to write (see `PagedTree.flushSome`).
 *
 * The trickle used to find them by walking every dirty branch's children on each commit that
 * wrote a page. With a thousand dirty pages that walk was 45 % of a run of random 4 KiB writes
 * into a million-file cartridge. Here a change costs one entry (or none: a node changed
 * several times in a row keeps its one entry), and a trickle reads entries from the front.
 *
 * An entry is the node and the `changedAt` it was given. Entries are never moved: one whose
 * node changed again is stale (a later entry stands for it) and is skipped. Whether a node is
 * still in the tree, and where, is the tree's to check: nodes leave it (a merge, an abort)
 * without being told here.
 */
export class FlushQueue {
  private nodes: IndexNode[] = [];
  private stamps: number[] = [];
  /** Entries before this one have been read. */
  private head = 0;

  /** Entries not yet read, stale ones included. */
  get length(): number {
    return this.nodes.length - this.head;
  }

  /** Notes that `node` changed and was given `stamp` as its `changedAt`. */
  push(node: IndexNode, stamp: number): void {
    const last = this.nodes.length - 1;
    if (last >= this.head && this.nodes[last] === node) {
      this.stamps[last] = stamp;
      return;
    }
    this.nodes.push(node);
    this.stamps.push(stamp);
  }

  /** Takes the oldest entry that is not stale; undefined when none is left. */
  shift(): IndexNode | undefined {
    const nodes = this.nodes;
    while (this.head < nodes.length) {
      const node = nodes[this.head] as IndexNode;
      const stamp = this.stamps[this.head] as number;
      this.head++;
      if (node.changedAt === stamp) {
        this.reclaim();
        return node;
      }
    }
    this.nodes = [];
    this.stamps = [];
    this.head = 0;
    return undefined;
  }

  /** Drops every entry that is stale or whose node `keep` refuses (it left the tree). */
  compact(keep: (node: IndexNode) => boolean): void {
    const nodes: IndexNode[] = [];
    const stamps: number[] = [];
    for (let index = this.head; index < this.nodes.length; index++) {
      const node = this.nodes[index] as IndexNode;
      const stamp = this.stamps[index] as number;
      if (node.changedAt === stamp && keep(node)) {
        nodes.push(node);
        stamps.push(stamp);
      }
    }
    this.nodes = nodes;
    this.stamps = stamps;
    this.head = 0;
  }

  /** Empties the queue, returning a way to put back what it held (for an undo). */
  clear(): () => void {
    const { nodes, stamps, head } = this;
    this.nodes = [];
    this.stamps = [];
    this.head = 0;
    return () => {
      this.nodes = nodes;
      this.stamps = stamps;
      this.head = head;
    };
  }

  /** Lets go of the entries read once they are most of the arrays. */
  private reclaim(): void {
    if (this.head < 1024 || this.head * 2 < this.nodes.length) return;
    this.nodes = this.nodes.slice(this.head);
    this.stamps = this.stamps.slice(this.head);
    this.head = 0;
  }
}
