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
 * each projection's section, all in one commit. Its cost follows the pages changed, not the
 * size of the catalog. The root holds the full chain hash from before the commit and where the
 * commit starts, so open resumes the chain by hashing the checkpoint's own pages only.
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
    const sections = checkpointSections(projections);
    assert(sections !== undefined, 'the index root is a page after a flush');
    const root = writer.stage({
      type: 'checkpoint',
      chainBefore: writer.committedTail.lastHash,
      commitOffset: startOffset,
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
