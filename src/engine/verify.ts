import { assert } from '../assert.js';
import { CartridgeError } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { chainRootOf } from '../journal/hashing.js';
import { replay } from '../journal/recovery.js';
import { indexDigest } from '../projections/index/index-digest.js';
import type { PageSource } from '../projections/index/paged-tree.js';
import { applyRecord, freshProjections } from '../projections/projection-set.js';
import type { VerifyReport } from './cartridge-types.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * Full verification: every record from the genesis to the head is read, its header checksum,
 * payload checksum, sequence and chain link checked, the full chain hash recomputed, and the
 * whole journal replayed into a fresh index that must equal the open one page for page (see
 * `indexDigest`). Open checks only the checkpoint root and the tail; this is the check that
 * covers everything before them.
 *
 * The fresh index is built in memory (its pages are never written), so verification needs
 * memory in proportion to the catalog; that is the price of checking it independently.
 */

/** The fresh index never reads pages: all of it is built in memory. */
const NO_PAGES: PageSource = {
  load: () => {
    assert(false, 'a verification index has no pages on disk');
  },
};

export function verifyJournal(journal: OpenedJournal, head: number): VerifyReport {
  const header = journal.headerKeeper.header;
  const projections = freshProjections(NO_PAGES, header.capacityBlocks);
  const start = {
    endOffset: JOURNAL_START_OFFSET,
    nextSequence: 0,
    lastHash: chainRootOf(header.cartridgeId),
  };
  try {
    const result = replay({
      file: journal.file,
      startOffset: JOURNAL_START_OFFSET,
      startTail: start,
      fileSizeBytes: head,
      syncedLength: head,
      sealing: journal.sealing,
      onCommit: (records) => {
        for (const record of records) applyRecord(projections, record);
      },
    });
    const clean = result.report.decision === 'accept';
    const stateMatches =
      clean &&
      indexDigest(projections.catalog.tree) === indexDigest(journal.catalog.tree) &&
      projections.allocator.usedBlocks === journal.allocator.usedBlocks &&
      projections.allocator.liveBytes === journal.allocator.liveBytes &&
      projections.catalog.entryCount === journal.catalog.entryCount;
    return {
      ok: clean && stateMatches,
      assurance: 'hash-chain',
      recordsChecked: result.tail.nextSequence,
      bytesChecked: result.tail.endOffset - JOURNAL_START_OFFSET,
      headHash: result.tail.lastHash.toString('hex'),
      damageOffset: result.report.damageOffset,
      damageReason: result.report.damageReason,
      stateMatches,
    };
  } catch (error) {
    // A sealed record whose tag fails was changed (the key opened the records before it): that
    // is damage to report, like a record that does not decode.
    const damage =
      error instanceof CartridgeError &&
      (error.code === 'JOURNAL_CORRUPT' || error.code === 'DECRYPTION_FAILED');
    if (!damage) throw error;
    return {
      ok: false,
      assurance: 'hash-chain',
      recordsChecked: 0,
      bytesChecked: 0,
      headHash: '',
      damageOffset: error.offset ?? null,
      damageReason: error.message,
      stateMatches: false,
    };
  }
}
