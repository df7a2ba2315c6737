import { dirname } from 'node:path';
import { CartridgeError, fromSystemError } from '../errors.js';
import type { Codec } from '../journal/compression.js';
import type { Storage, StorageFile } from '../journal/io/storage.js';
import { readRecordAt } from '../journal/journal-reader.js';
import type { JournalTail } from '../journal/journal-writer.js';
import { RecordSealing } from '../journal/record-sealing.js';
import { type CheckoutTarget, stateAt } from './checkout.js';
import { rewriteJournal } from './journal-rewrite.js';
import { type OpenedJournal, openLockedFile } from './open-journal.js';
import type { ResolvedOptions } from './options.js';
import { takeWriterLock } from './writer-lock.js';

/**
 * `cart.compact()`: rewrites the cartridge into a new file holding the state at a horizon and
 * the history after it (see `journal-rewrite.ts`), and swaps it in atomically.
 *
 * The horizon is the oldest state kept: `keepHistoryFrom` (as `checkout` reads a target), or
 * the head by default, moved back to the oldest pin, because compaction never drops what is
 * pinned: a named snapshot (its record, so its name and state are kept), an open change
 * stream's position and an open view's state.
 *
 * The swap, each step through the I/O seam: the new journal is written to `<path>.compacting`
 * under its own writer lock, synced with its header, renamed over the cartridge, and the
 * directory synced. A crash before the rename leaves the old file whole (and a temporary file
 * that the next compaction removes); after it, the new one, whole, because it was synced
 * before it was renamed. The handle keeps the old file's lock until the new file (locked since
 * its creation) is in place, so that no writer finds the path unlocked at any moment.
 */

export interface CompactOptions {
  /**
   * The oldest state to keep, with the history after it: a head offset, a `Position`, a
   * snapshot name or a `Date`. Default: the head (keep only what is pinned).
   */
  readonly keepHistoryFrom?: CheckoutTarget;
  /** Called as the rewrite goes, after each commit it writes (a progress bar's feed). */
  readonly onProgress?: (progress: CompactProgress) => void;
}

export interface CompactProgress {
  /** Records of the old journal carried over so far, and in all. */
  readonly recordsDone: number;
  readonly recordsTotal: number;
}

export interface CompactResult {
  /** The cartridge file's size before and after. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** `bytesBefore - bytesAfter` (never negative: a rewrite that would grow is still done). */
  readonly reclaimedBytes: number;
  /** Records of the old journal whose event or content the new one does not carry. */
  readonly recordsDropped: number;
}

/** What compaction needs of the handle. */
export interface CompactionHost {
  readonly storage: Storage;
  readonly path: string;
  readonly journal: OpenedJournal;
  readonly options: ResolvedOptions;
  readonly headOffset: number;
  /** The oldest offset a snapshot, a stream or a view pins, or null. */
  readonly oldestPinnedOffset: number | null;
  /** Where each stream and view stands: the boundaries whose new place the handle needs. */
  readonly pinnedOffsets: readonly number[];
  readonly nowMs: number;
}

export interface Compaction {
  readonly result: CompactResult;
  /** The new journal, open and locked, named by the cartridge's path. */
  readonly journal: OpenedJournal;
  /** The pinned commit boundaries of the old journal, and the chain state there in the new one. */
  readonly boundaries: ReadonlyMap<number, JournalTail>;
}

/** Where the new journal is written before it is renamed over the cartridge. */
export function compactingPathOf(path: string): string {
  return `${path}.compacting`;
}

export function checkCompactOptions(options: unknown): CompactOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new CartridgeError('INVALID_ARGUMENT', 'compact options must be an object');
  }
  const { onProgress } = options as { onProgress?: unknown };
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new CartridgeError('INVALID_ARGUMENT', 'compact option onProgress must be a function');
  }
  return options as CompactOptions;
}

export function compact(host: CompactionHost, options: CompactOptions): Compaction {
  const { journal, storage, path, headOffset } = host;
  const bytesBefore = journal.file.sizeBytes();
  const requested =
    options.keepHistoryFrom === undefined
      ? headOffset
      : stateAt(journal, options.keepHistoryFrom, headOffset).head;
  const pinned = host.oldestPinnedOffset;
  // A pin at an offset keeps every commit that ends after it: the horizon is the last commit
  // boundary at or before it (a snapshot record's own commit is kept whole).
  const horizon = stateAt(journal, Math.min(requested, pinned ?? requested), headOffset);
  const horizonTail: JournalTail = {
    endOffset: horizon.head,
    nextSequence:
      horizon.head === headOffset
        ? journal.writer.committedTail.nextSequence
        : readRecordAt(journal.file, horizon.head).header.sequence,
    lastHash: horizon.headHash,
  };
  refuseToDropRetainedAudit(journal, horizon.head);
  refuseErasures(journal);
  const temporaryPath = compactingPathOf(path);
  // A temporary file left by a compaction that crashed was never renamed: the cartridge is
  // whole without it. This handle holds the cartridge's lock, so no compaction is running.
  storage.remove(temporaryPath);
  const file = openTemporary(storage, temporaryPath);
  let renamed = false;
  // Fresh nonces (a new writer's random prefix) under the key sealing new records now.
  const sealing =
    journal.sealing === undefined ? undefined : new RecordSealing(journal.sealing.keyring);
  try {
    const rewrite = rewriteJournal(
      {
        journal,
        headOffset,
        horizonTail,
        horizonState: horizon.projections,
        boundariesWanted: new Set(host.pinnedOffsets),
      },
      {
        file,
        sealing,
        codec: journal.headerKeeper.header.compressionCodec as Codec,
        indexCacheBytes: host.options.indexCacheBytes,
        checkpointIntervalBytes: host.options.checkpointIntervalBytes,
        checkpointIntervalRecords: host.options.checkpointIntervalRecords,
        nowMs: host.nowMs,
        onProgress:
          options.onProgress === undefined
            ? undefined
            : (recordsDone, recordsTotal) => options.onProgress?.({ recordsDone, recordsTotal }),
      },
    );
    storage.rename(temporaryPath, path);
    renamed = true;
    storage.syncDirectory(dirname(path));
    const compacted = openLockedFile(storage, path, file, host.options, sealing);
    const bytesAfter = file.sizeBytes();
    return {
      result: {
        bytesBefore,
        bytesAfter,
        reclaimedBytes: Math.max(0, bytesBefore - bytesAfter),
        recordsDropped: rewrite.recordsDropped,
      },
      journal: compacted,
      boundaries: rewrite.boundaries,
    };
  } catch (error) {
    closeQuietly(file);
    const failure = fromSystemError(error, 'compaction');
    // Before the rename nothing changed: the handle goes on with the old file. After it, the
    // path names the new file (whole and synced) but the handle could not take it over (or
    // its directory entry is not known durable): nothing more may be acknowledged through the
    // old one, so it is poisoned, and a reopen continues with whichever file the path names.
    if (renamed) journal.writer.poison(failure);
    else removeQuietly(storage, temporaryPath);
    throw failure;
  }
}

/**
 * Erasures and subject keys are not rewritten yet: an erasure names records by their offsets
 * (which a rewrite moves), erased blobs cannot be copied, and content sealed with a subject's
 * data key would be sealed again with the cartridge key, out of reach of a later shred.
 */
function refuseErasures(journal: OpenedJournal): void {
  if (journal.erasures.hasErasures() || journal.erasures.hasSubjects()) {
    throw new CartridgeError(
      'NOT_SUPPORTED',
      'compaction of a cartridge holding erasures or subject keys is not supported yet',
    );
  }
}

/** A cartridge created with `audit: { retain: true }` keeps every audit record. */
function refuseToDropRetainedAudit(journal: OpenedJournal, horizonOffset: number): void {
  if (!journal.headerKeeper.header.auditRetain) return;
  let dropped = false;
  journal.audit.batches(undefined, 0, horizonOffset, false, () => {
    dropped = true;
    return false;
  });
  if (dropped) {
    throw new CartridgeError(
      'AUDIT_RETAINED',
      'the cartridge retains its audit records, and history before the horizon holds some',
      { offset: horizonOffset },
    );
  }
}

function openTemporary(storage: Storage, temporaryPath: string): StorageFile {
  let file: StorageFile;
  try {
    file = storage.open(temporaryPath, { create: true, truncate: true, readOnly: false });
  } catch (error) {
    throw fromSystemError(error, `open ${temporaryPath}`);
  }
  try {
    takeWriterLock(file, temporaryPath);
  } catch (error) {
    closeQuietly(file);
    removeQuietly(storage, temporaryPath);
    throw error;
  }
  return file;
}

function closeQuietly(file: StorageFile): void {
  try {
    file.close();
  } catch {
    // The compaction's own error is the one to report.
  }
}

function removeQuietly(storage: Storage, path: string): void {
  try {
    storage.remove(path);
  } catch {
    // Left behind, it is removed by the next compaction; the cartridge is whole without it.
  }
}
