import { assert } from '../assert.js';
import { isErasureMarker, erasureMarkerOf } from '../journal/erasure-marker.js';
import { checksumCrc32c } from '../journal/hashing.js';
import type { ErasedBlob, ErasureKind, JournalEvent } from '../journal/journal-event.js';
import { readRecordAt, toJournalRecord } from '../journal/journal-reader.js';
import { blobHashOf, FRAME_HEADER_BYTES } from '../journal/record-frame.js';
import { ERASURES_PER_RECORD_MAX } from '../limits.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * Erasing blobs inside immutable history, for redaction and crypto-shredding alike, in three
 * steps, each durable before the next begins:
 *
 * 1. a commit of `content.erased` records naming each blob (offset, sequence, stored length,
 *    the CRC32C of the record's body, the BLAKE3 hash of the stored blob), synced whatever the
 *    durability mode: from here on the record says the content is gone, and every read of it
 *    is refused;
 * 2. the marker written over each blob in place, then one sync;
 * 3. an `erasure.settled` record per `content.erased` record (synced as the durability mode
 *    says), so that the next open knows there is nothing left to overwrite.
 *
 * A crash before step 1 is durable leaves the content whole and no record of an erasure; a
 * crash after it leaves the record, and blobs whole, overwritten or torn between the two,
 * which readers treat alike as erased (they trust the record's hash and body checksum, never
 * the blob's bytes) and which the next writable open overwrites again (step 2 is idempotent),
 * then settles.
 */

/** What an erasure needs of the handle. */
export interface ErasureSteps {
  journal(): OpenedJournal;
  /** Stages one record and applies it (inside the commit `commit` runs). */
  append(event: JournalEvent): { readonly offset: number };
  /** Runs `body` as one commit through the operation gate (an audited operation). */
  commitGated(body: () => void): void;
  /** Runs `body` as one commit, outside the gate (settling is housekeeping, like a checkpoint). */
  commitQuietly(body: () => void): void;
  /** Makes the journal and the header durable now. */
  syncNow(): void;
  /** Forgets every copy kept of the blob at `offset` (buffer pool, writer). */
  forget(offset: number): void;
}

/** What an erasure did. */
export interface ErasureCounts {
  /** Records whose blob was erased. */
  readonly recordsErased: number;
  /** Stored blob bytes overwritten. */
  readonly bytesErased: number;
}

/**
 * The blobs of the records at `offsets`, as a `content.erased` record names them; records
 * without a blob and blobs already erased are left out.
 */
export function erasedBlobsOf(journal: OpenedJournal, offsets: Iterable<number>): ErasedBlob[] {
  const sorted = [...new Set(offsets)].sort((left, right) => left - right);
  const erased: ErasedBlob[] = [];
  for (const offset of sorted) {
    const raw = readRecordAt(journal.file, offset, journal.erasures.lookup);
    if (raw.erasure !== undefined || raw.header.storedBlobLength === 0) continue;
    erased.push({
      recordOffset: offset,
      recordSequence: raw.header.sequence,
      storedBlobLength: raw.header.storedBlobLength,
      bodyChecksum: checksumCrc32c(raw.body),
      blobHash: blobHashOf(raw.storedBlob),
    });
  }
  return erased;
}

/** What an erasure removes: blobs, and (for a redaction) the versions it names. */
export interface ErasurePlan {
  readonly erased: readonly ErasedBlob[];
  readonly versions: readonly number[];
}

/**
 * Erases what `plan` names (it runs inside the gated commit, so that a refused actor reads
 * nothing): steps 1 to 3 above. The versions go into the first record, blobs
 * ERASURES_PER_RECORD_MAX to a record.
 */
export function eraseBlobs(
  steps: ErasureSteps,
  kind: ErasureKind,
  plan: () => ErasurePlan,
): ErasureCounts {
  const erasureOffsets: number[] = [];
  let counts: ErasureCounts = { recordsErased: 0, bytesErased: 0 };
  steps.commitGated(() => {
    const { erased, versions } = plan();
    let start = 0;
    while (start < erased.length || (start === 0 && versions.length > 0)) {
      const chunk = erased.slice(start, start + ERASURES_PER_RECORD_MAX);
      const event: JournalEvent = {
        type: 'content.erased',
        kind,
        erasures: chunk,
        versions: start === 0 ? versions : [],
      };
      erasureOffsets.push(steps.append(event).offset);
      start += ERASURES_PER_RECORD_MAX;
    }
    let bytesErased = 0;
    for (const blob of erased) bytesErased += blob.storedBlobLength;
    counts = { recordsErased: erased.length, bytesErased };
  });
  if (erasureOffsets.length === 0) return counts;
  steps.syncNow();
  settleErasures(steps, erasureOffsets);
  return counts;
}

/** The erasures a crash left unsettled, finished (a writable open calls this). */
export function settlePendingErasures(steps: ErasureSteps): void {
  const pending = steps.journal().erasures.pendingErasures();
  if (pending.length > 0) settleErasures(steps, pending);
}

/** Steps 2 and 3 for the `content.erased` records at `erasureOffsets`. */
function settleErasures(steps: ErasureSteps, erasureOffsets: readonly number[]): void {
  const journal = steps.journal();
  for (const erasureOffset of erasureOffsets) {
    const record = toJournalRecord(readRecordAt(journal.file, erasureOffset), journal.sealing);
    assert(record.event.type === 'content.erased', 'a pending erasure names its record');
    for (const erased of record.event.erasures) overwriteBlob(steps, journal, erased);
  }
  journal.writer.sync();
  steps.commitQuietly(() => {
    for (const erasureOffset of erasureOffsets) {
      steps.append({ type: 'erasure.settled', erasureOffset });
    }
  });
}

/** Writes the marker over one erased blob, unless it is there already. */
function overwriteBlob(steps: ErasureSteps, journal: OpenedJournal, erased: ErasedBlob): void {
  steps.forget(erased.recordOffset);
  const raw = readRecordAt(journal.file, erased.recordOffset, journal.erasures.lookup);
  if (isErasureMarker(raw.storedBlob)) return;
  const blobOffset = erased.recordOffset + FRAME_HEADER_BYTES + raw.header.bodyLength;
  journal.writer.overwriteCommitted(blobOffset, erasureMarkerOf(erased.storedBlobLength));
}
