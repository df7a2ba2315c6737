import { assert } from '../assert.js';
import type { JournalWriter } from '../journal/journal-writer.js';
import {
  encodePage,
  type IndexNode,
  type PageRef,
  storedNodeOf,
} from '../projections/index/index-page.js';
import type { FlushedPage } from '../projections/index/paged-tree.js';
import {
  INDEX_PAGE_TARGET_BYTES,
  INDEX_TRICKLE_BYTES_PER_COMMIT_BYTE,
  INDEX_TRICKLE_COMMITS_PER_WAITING_PAGE,
  INDEX_TRICKLE_LOW_WATER,
  INDEX_TRICKLE_PAGES_PER_COMMIT,
} from '../limits.js';
import {
  applyRecord,
  checkpointSections,
  type Projections,
} from '../projections/projection-set.js';
import type { IndexPageStore } from './index-page-store.js';

/**
 * A checkpoint makes open cheap: it writes the index pages changed since the last one
 * (copy-on-write, children before parents) and then a root record naming the new root page and
 * each projection's section, all in one commit. Its cost follows the pages changed, not the
 * size of the catalog. The root holds the full chain hash of the record before it (the
 * writer computes it from the staged pages, whose headers are final once staged), so open
 * resumes the chain from the root record alone.
 */

/**
 * Writes a few dirty index pages into a commit that is about to be made, once more are dirty
 * than INDEX_TRICKLE_LOW_WATER plus one per INDEX_TRICKLE_COMMITS_PER_WAITING_PAGE commits since
 * the last checkpoint: the checkpoint that follows then has little left to write for the
 * commits that share it, so no single commit stalls on it. A commit carries pages only as far
 * as it has earned: by its own bytes (INDEX_TRICKLE_BYTES_PER_COMMIT_BYTE), so small commits
 * that change pages already dirty do not pay a page each; and by the pages it copied for
 * writing that were clean at the last checkpoint (see `PagedTree.takeSettledCopyCount`), so a
 * commit pays for its own copy-on-write. Without the second, random 4 KiB writes into a
 * million-file cartridge copied about three pages each and could write one: the rest waited
 * for the checkpoint, which then wrote a thousand pages in one 20-30 ms stall.
 * Returns the pages to cache once the commit is written.
 */
export class IndexTrickle {
  /** Index bytes the commits so far have earned and not spent, up to a full commit's worth. */
  private creditBytes = 0;
  /** The checkpoint root the commits below are counted from (undefined: none yet). */
  private checkpointOffset: number | undefined;
  private commitsSinceCheckpoint = 0;

  pagesFor(projections: Projections, writer: JournalWriter, commitBytes: number): FlushedPage[] {
    const creditMax = INDEX_TRICKLE_PAGES_PER_COMMIT * INDEX_PAGE_TARGET_BYTES;
    const tree = projections.catalog.tree;
    this.creditBytes = Math.min(
      creditMax,
      this.creditBytes +
        commitBytes * INDEX_TRICKLE_BYTES_PER_COMMIT_BYTE +
        tree.takeSettledCopyCount() * INDEX_PAGE_TARGET_BYTES,
    );
    const checkpointOffset = projections.timeline.lastRoot?.offset;
    if (checkpointOffset !== this.checkpointOffset) {
      this.checkpointOffset = checkpointOffset;
      this.commitsSinceCheckpoint = 0;
    }
    this.commitsSinceCheckpoint++;
    // The pages that may wait for the checkpoint: a floor, and more the more commits will
    // share its stall (see INDEX_TRICKLE_COMMITS_PER_WAITING_PAGE).
    const waitingMax =
      INDEX_TRICKLE_LOW_WATER +
      Math.floor(this.commitsSinceCheckpoint / INDEX_TRICKLE_COMMITS_PER_WAITING_PAGE);
    const excess = tree.dirtyCount - waitingMax;
    const count = Math.min(
      excess,
      INDEX_TRICKLE_PAGES_PER_COMMIT,
      Math.floor(this.creditBytes / INDEX_PAGE_TARGET_BYTES),
    );
    if (count <= 0) return [];
    this.creditBytes -= count * INDEX_PAGE_TARGET_BYTES;
    const stored = new Map<IndexNode, IndexNode>();
    const flushed = tree.flushSome(count, (node) => stagePage(projections, writer, node, stored));
    return storedPagesOf(flushed, stored);
  }
}

/**
 * Stages the page of a dirty node, and keeps in `stored` what the page cache should hold of it
 * once written: the page as read from disk (`storedNodeOf`), not the dirty node's arrays.
 */
function stagePage(
  projections: Projections,
  writer: JournalWriter,
  node: IndexNode,
  stored: Map<IndexNode, IndexNode>,
): PageRef {
  const bytes = encodePage(node);
  // Pages are stored uncompressed: a lookup that misses the cache then costs a read and a
  // decode, without a decompression (the saving on disk is not worth it on the read path).
  const record = writer.stage({ type: 'index.page' }, bytes, 'none');
  // A page is a record like any other for the Merkle log, which covers every record; the log
  // leaves the index alone while it is being flushed (see `merkle-log.ts`).
  projections.merkle.evolve(record);
  stored.set(node, storedNodeOf(node, bytes));
  return { offset: record.offset, sequence: record.sequence, lengthBytes: record.lengthBytes };
}

function storedPagesOf(
  flushed: readonly FlushedPage[],
  stored: ReadonlyMap<IndexNode, IndexNode>,
): FlushedPage[] {
  return flushed.map(({ ref, node }) => ({ ref, node: stored.get(node) ?? node }));
}

export interface CheckpointResult {
  readonly rootOffset: number;
  readonly pagesWritten: number;
  /** Journal bytes the checkpoint took, pages and root. */
  readonly sizeBytes: number;
}

export function writeCheckpoint(
  projections: Projections,
  writer: JournalWriter,
  pages: IndexPageStore,
  sync: boolean,
): CheckpointResult {
  const { undo, catalog } = projections;
  const startOffset = writer.committedTail.endOffset;
  undo.begin();
  let flushed;
  let rootOffset: number;
  try {
    // The previous root goes into the index now, so the pages written below hold it.
    projections.timeline.registerLastRoot();
    // Before the flush: counting walks the index, whose flushed pages are not on disk yet.
    projections.erasures.countIfUnknown();
    const stored = new Map<IndexNode, IndexNode>();
    flushed = storedPagesOf(
      catalog.tree.flush((node) => stagePage(projections, writer, node, stored)),
      stored,
    );
    // The chain hash before the root seals the staged pages (in an encrypted cartridge), which
    // makes their leaf hashes final: the Merkle log folds them again before its section is
    // taken, so that the section holds what a replay of the stored pages gives.
    const chainBefore = writer.stagedChainHash();
    projections.merkle.settle(writer.stagedRecords);
    const sections = checkpointSections(projections);
    assert(sections !== undefined, 'the index root is a page after a flush');
    const root = writer.stage({ type: 'checkpoint', chainBefore, sections });
    applyRecord(projections, root);
    rootOffset = root.offset;
    const records = writer.stagedRecords;
    writer.commit(sync);
    projections.merkle.settle(records);
  } catch (error) {
    writer.discardStaged();
    undo.end(false);
    throw error;
  }
  undo.end(true);
  for (const page of flushed) pages.remember(page.ref, page.node);
  return {
    rootOffset,
    pagesWritten: flushed.length,
    sizeBytes: writer.committedTail.endOffset - startOffset,
  };
}
