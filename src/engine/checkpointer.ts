import { assert } from '../assert.js';
import type { JournalWriter } from '../journal/journal-writer.js';
import { encodePage } from '../projections/index/index-page.js';
import {
  applyRecord,
  checkpointSections,
  type Projections,
} from '../projections/projection-set.js';
import type { IndexPageStore } from './index-page-store.js';

/**
 * A checkpoint makes open cheap: it writes the index pages changed since the last one
 * (copy-on-write, children before parents) and then a root record naming the new root page and
 * each projection's section. Its cost follows the pages changed, not the size of the catalog.
 *
 * The pages go in one commit, the root in a commit of its own whose body holds the full chain
 * hash of the record before it: open resumes the chain from there without reading anything
 * else. A crash between the two leaves pages nobody refers to, and open starts from the root
 * before.
 */

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
    flushed = catalog.tree.flush((node) => {
      const record = writer.stage({ type: 'index.page' }, encodePage(node));
      return { offset: record.offset, sequence: record.sequence };
    });
    if (writer.stagedCount > 0) writer.commit(false);
    const sections = checkpointSections(projections);
    assert(sections !== undefined, 'the index root is a page after a flush');
    const root = writer.stage({
      type: 'checkpoint',
      previousHash: writer.committedTail.lastHash,
      sections,
    });
    applyRecord(projections, root);
    rootOffset = root.offset;
    writer.commit(sync);
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
