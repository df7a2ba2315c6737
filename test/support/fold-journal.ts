import type { JournalEvent, JournalRecord } from '../../src/journal/journal-event.js';
import type { PageSource } from '../../src/projections/index/paged-tree.js';
import {
  applyRecord,
  freshProjections,
  type Projections,
} from '../../src/projections/projection-set.js';

/** Pages of a tree that never flushes: asking for one is a bug in the test. */
const NO_PAGES: PageSource = {
  load: () => {
    throw new Error('this tree lives in memory');
  },
};

/**
 * Projections folded from events written by hand, without a journal file: each event becomes
 * a record at the next offset, folded in a transaction of its own (a refused record rolls
 * back). The fold tests of the catalog build on it.
 */
export class FoldJournal {
  readonly state: Projections = freshProjections(NO_PAGES, null);
  private offset = 8192;
  private sequence = 0;

  constructor() {
    this.apply({ type: 'genesis', cartridgeId: '00', createdAtMs: 1, capacityBlocks: null });
  }

  /** Folds an event at the next offset in a transaction of its own; returns that offset. */
  apply(event: JournalEvent, rawBlobLength = 0): number {
    const record: JournalRecord = {
      offset: this.offset,
      sequence: this.sequence,
      lengthBytes: 100,
      rawBlobLength,
      event,
      leafHash: Buffer.alloc(32),
    };
    this.state.undo.begin();
    let kept = false;
    try {
      applyRecord(this.state, record);
      kept = true;
    } finally {
      this.state.undo.end(kept);
    }
    this.offset += 100;
    this.sequence++;
    return record.offset;
  }

  /** Deletes the entry at `path`, linked to its last version; returns the record's offset. */
  delete(path: string): number {
    return this.apply({
      type: 'entry.deleted',
      path,
      atMs: 3,
      previous: this.state.catalog.versionLinkOf(path),
    });
  }
}
