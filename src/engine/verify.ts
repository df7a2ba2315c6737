import { CartridgeError } from '../errors.js';
import { flattenExtents } from '../journal/event-codec.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { chainRootOf, hashBytes } from '../journal/hashing.js';
import { replay } from '../journal/recovery.js';
import type { Catalog } from '../projections/catalog.js';
import type { VerifyReport } from './cartridge-types.js';
import { applyRecord, freshProjections, type OpenedJournal } from './open-journal.js';

/**
 * Full verification: every record from the genesis to the head is read, its header checksum,
 * payload hash, sequence and chain link checked, and the whole journal replayed into fresh
 * projections whose catalog must equal the open one. Open checks only the checkpoint and the
 * tail; this is the check that covers everything before them.
 */

/** A digest of the catalog that does not depend on insertion order. */
export function catalogDigest(catalog: Catalog): string {
  const rows: string[] = [];
  for (const [path, node] of catalog.allEntries()) {
    const content =
      node.kind === 'file' ? [node.sizeBytes, ...flattenExtents(node.extents)].join('.') : 'dir';
    const fields = [path, node.kind, node.inode, node.mode, node.createdAtMs, node.modifiedAtMs];
    rows.push([...fields, content].join('\u0000'));
  }
  rows.sort();
  return hashBytes(Buffer.from(rows.join('\n'))).toString('hex');
}

export function verifyJournal(journal: OpenedJournal, head: number): VerifyReport {
  const header = journal.headerKeeper.header;
  const projections = freshProjections(header.capacityBlocks);
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
      onCommit: (records) => {
        for (const record of records) applyRecord(projections, record);
      },
    });
    const clean = result.report.decision === 'accept';
    const stateMatches =
      clean && catalogDigest(projections.catalog) === catalogDigest(journal.catalog);
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
    if (!(error instanceof CartridgeError) || error.code !== 'JOURNAL_CORRUPT') throw error;
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
