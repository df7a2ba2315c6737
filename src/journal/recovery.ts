import { assert } from '../assert.js';
import { fromSystemError, journalCorrupt } from '../errors.js';
import { ZERO_TAIL_SCAN_MAX_BYTES } from '../limits.js';
import type { StorageFile } from './io/storage.js';
import type { JournalRecord } from './journal-event.js';
import type { KnownErasure } from './journal-reader.js';
import { type CursorStop, JournalCursor, type StoredRecord } from './journal-cursor.js';
import type { RecordSealing } from './record-sealing.js';
import type { JournalTail } from './journal-writer.js';
import {
  decodeFrameHeader,
  FLAG_PRIOR_SYNCED,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
} from './record-frame.js';

/**
 * Recovery: replay the journal from a starting point, hand every complete commit to the
 * caller, and decide what to do where the bytes stop being records. The decision is a
 * labelled table (after TigerBeetle's `recovery_cases`), tested exhaustively.
 *
 * Predicates:
 * - `damage`: the scan stopped at bytes that are not a valid, in-sequence, chained record;
 * - `pendingCommit`: records after the last commit flag (a commit that never finished);
 * - `zerosToEnd`: everything from the damage to the end of the file is zero (the file grew
 *   before its content arrived, or was preallocated);
 * - `laterCommitFound`: a valid record header of a *later* commit exists after the damage;
 * - `beyondSynced`: where the scan stopped lies past everything known durable: past the
 *   header's `syncedLength`, and not before a later commit written after a sync (such a
 *   commit carries the prior-synced flag, vouching that the bytes before it were on disk).
 *   Past that point unsynced writes may have landed in any order, or not at all.
 */

export type RecoveryDecision = 'accept' | 'truncate-tail' | 'fail-corrupt';
type Predicate = boolean | 'any';

export interface RecoveryCase {
  readonly label: string;
  readonly damage: boolean;
  readonly pendingCommit: Predicate;
  readonly zerosToEnd: Predicate;
  readonly laterCommitFound: Predicate;
  readonly beyondSynced: Predicate;
  readonly decision: RecoveryDecision;
  readonly why: string;
}

export const RECOVERY_CASES: readonly RecoveryCase[] = [
  {
    label: '@clean',
    damage: false,
    pendingCommit: false,
    zerosToEnd: 'any',
    laterCommitFound: 'any',
    beyondSynced: true,
    decision: 'accept',
    why: 'every record is valid and every commit closed',
  },
  {
    label: '@truncated',
    damage: false,
    pendingCommit: 'any',
    zerosToEnd: 'any',
    laterCommitFound: 'any',
    beyondSynced: false,
    decision: 'fail-corrupt',
    why: 'the file ends before the length the header records as durable: it was cut',
  },
  {
    label: '@unfinished-commit',
    damage: false,
    pendingCommit: true,
    zerosToEnd: 'any',
    laterCommitFound: 'any',
    beyondSynced: true,
    decision: 'truncate-tail',
    why: 'the last commit was cut off before its commit record; it was never acknowledged',
  },
  {
    label: '@damaged-durable',
    damage: true,
    pendingCommit: 'any',
    zerosToEnd: 'any',
    laterCommitFound: 'any',
    beyondSynced: false,
    decision: 'fail-corrupt',
    why: 'bytes known to have been durable changed: corruption, not a crash',
  },
  {
    label: '@zero-tail',
    damage: true,
    pendingCommit: 'any',
    zerosToEnd: true,
    laterCommitFound: 'any',
    beyondSynced: true,
    decision: 'truncate-tail',
    why: 'the file grew before its content arrived',
  },
  {
    label: '@torn-tail',
    damage: true,
    pendingCommit: 'any',
    zerosToEnd: false,
    laterCommitFound: false,
    beyondSynced: true,
    decision: 'truncate-tail',
    why: 'nothing of a later commit follows, so this is the last write, torn by a crash',
  },
  {
    label: '@unsynced-reorder',
    damage: true,
    pendingCommit: 'any',
    zerosToEnd: false,
    laterCommitFound: true,
    beyondSynced: true,
    decision: 'truncate-tail',
    why: 'past the durable length writes may land out of order; keep the longest valid prefix',
  },
];

export interface RecoveryFacts {
  readonly damage: boolean;
  readonly pendingCommit: boolean;
  readonly zerosToEnd: boolean;
  readonly laterCommitFound: boolean;
  readonly beyondSynced: boolean;
}

function matches(predicate: Predicate, value: boolean): boolean {
  return predicate === 'any' || predicate === value;
}

export function matchingCases(facts: RecoveryFacts): RecoveryCase[] {
  return RECOVERY_CASES.filter(
    (candidate) =>
      candidate.damage === facts.damage &&
      matches(candidate.pendingCommit, facts.pendingCommit) &&
      matches(candidate.zerosToEnd, facts.zerosToEnd) &&
      matches(candidate.laterCommitFound, facts.laterCommitFound) &&
      matches(candidate.beyondSynced, facts.beyondSynced),
  );
}

export function decide(facts: RecoveryFacts): RecoveryCase {
  const found = matchingCases(facts);
  assert(found.length === 1, 'recovery cases must match exactly once');
  return found[0] as RecoveryCase;
}

/** What recovery did, reported to the user through `cartridge.recovery`. */
export interface RecoveryReport {
  readonly label: string;
  readonly decision: RecoveryDecision;
  /** Where the valid journal ends (the end of the last complete commit). */
  readonly validEndOffset: number;
  /** Where the scan stopped, and why, when it stopped early. */
  readonly damageOffset: number | null;
  readonly damageReason: string | null;
  /** Bytes after `validEndOffset` that are not part of the recovered journal. */
  readonly droppedBytes: number;
  /** The checkpoint root open started from (null: it replayed from the genesis). */
  readonly checkpointOffset: number | null;
  /** Why the root the header names could not be used, when it could not. */
  readonly checkpointRefused: string | null;
}

export interface ReplayInput {
  readonly file: StorageFile;
  readonly startOffset: number;
  readonly startTail: JournalTail;
  readonly fileSizeBytes: number;
  readonly syncedLength: number;
  /**
   * How far the look past damage for later commits reaches; the file's end when undefined. A
   * reader sharing the file with a live writer passes `endOfWrittenBytes`, taken before the
   * scan (see there).
   */
  readonly lookAheadEndOffset?: number;
  /** Each complete commit, with the tail after it (verify checks signed heads against it). */
  readonly onCommit: (records: readonly JournalRecord[], tail: JournalTail) => void;
  /** Opens the records of an encrypted cartridge; undefined for a plain one. */
  readonly sealing: RecordSealing | undefined;
}

export interface ReplayResult {
  readonly tail: JournalTail;
  readonly facts: RecoveryFacts;
  readonly report: RecoveryReport;
  readonly recordsReplayed: number;
  /** The erased blobs read past, each as the `content.erased` record naming it claims. */
  readonly erasuresUsed: readonly KnownErasure[];
}

/** The first look back from the end of the file reads this much; later ones read more. */
const WRITTEN_END_FIRST_READ_BYTES = 4096;
const WRITTEN_END_READ_MAX_BYTES = 256 * 1024;

/**
 * The end of the file's bytes before the zeros that end it, if any: how far a reader of a file
 * a live writer may be writing should look for commits past where its scan stopped. A writer
 * in the 'full' mode keeps zeros past its journal's end (`JournalReservation`) and writes its
 * next commit into them. A reader's scan can stop at a commit being written; looking past it
 * all the way to the end of the file, it could find the commits written after it meanwhile:
 * the picture of damage in durable data. Taken before the scan, this bound holds only what was
 * written then: past a commit still being written there is nothing in it, which is a torn
 * tail, as when the writer grew the file. Damage inside the journal stays in view: only a run
 * of zeros reaching the end of the file is left out (the records themselves are scanned to the
 * end of the file, so a last record whose bytes end in zeros reads whole). Looks back at most
 * `ZERO_TAIL_SCAN_MAX_BYTES`; a longer run of zeros is left in view.
 */
export function endOfWrittenBytes(file: StorageFile): number {
  const sizeBytes = file.sizeBytes();
  const lowest = Math.max(0, sizeBytes - ZERO_TAIL_SCAN_MAX_BYTES);
  let chunkBytes = WRITTEN_END_FIRST_READ_BYTES;
  let end = sizeBytes;
  while (end > lowest) {
    const start = Math.max(lowest, end - chunkBytes);
    const chunk = Buffer.allocUnsafe(end - start);
    const read = readAt(file, chunk, start);
    for (let index = read - 1; index >= 0; index--) {
      if (chunk[index] !== 0) return start + index + 1;
    }
    end = start;
    chunkBytes = Math.min(WRITTEN_END_READ_MAX_BYTES, chunkBytes * 4);
  }
  return lowest === 0 ? 0 : sizeBytes;
}

/** What the bounded look at the bytes after the damage found. */
type ZeroScan = 'not-zero' | 'zeros-to-end' | 'zeros-past-limit';

/**
 * Checks whether the bytes from `offset` to the end of the file are zero, reading at most
 * `ZERO_TAIL_SCAN_MAX_BYTES`: a file grown by gigabytes of zeros must not make open read them.
 */
function scanZeros(file: StorageFile, offset: number, endOffset: number): ZeroScan {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  const scanEnd = Math.min(endOffset, offset + ZERO_TAIL_SCAN_MAX_BYTES);
  for (let position = offset; position < scanEnd; position += chunk.length) {
    const length = Math.min(chunk.length, scanEnd - position);
    const read = readAt(file, chunk.subarray(0, length), position);
    for (let index = 0; index < read; index++) if (chunk[index] !== 0) return 'not-zero';
  }
  return scanEnd === endOffset ? 'zeros-to-end' : 'zeros-past-limit';
}

function readAt(file: StorageFile, target: Buffer, position: number): number {
  try {
    return file.read(target, 0, target.length, position);
  } catch (error) {
    throw fromSystemError(error, 'journal read');
  }
}

/** What the look-ahead after damage found. */
export interface LaterCommits {
  /** A valid record header of a later commit than the damaged one exists. */
  readonly found: boolean;
  /** One of them was written after a sync, so everything before it was durable. */
  readonly durableBefore: boolean;
}

/**
 * Looks after the damage for valid record headers that belong to a later commit than the one
 * the damage is in. Only checksummed headers count, and only those whose sequence is ahead;
 * stale copies of older records (a duplicated block) are not evidence of later commits.
 */
export function laterCommitsAfter(
  file: StorageFile,
  fromOffset: number,
  endOffset: number,
  commitStartSequence: number,
): LaterCommits {
  const magic = Buffer.alloc(2);
  magic.writeUInt16LE(FRAME_MAGIC, 0);
  const chunkBytes = 1024 * 1024;
  const chunk = Buffer.allocUnsafe(chunkBytes + FRAME_HEADER_BYTES);
  let found = false;
  for (let base = fromOffset; base < endOffset; base += chunkBytes) {
    const read = readAt(file, chunk.subarray(0, Math.min(chunk.length, endOffset - base)), base);
    const view = chunk.subarray(0, read);
    for (
      let index = view.indexOf(magic);
      index !== -1 && index < chunkBytes;
      index = view.indexOf(magic, index + 1)
    ) {
      if (index + FRAME_HEADER_BYTES > read) break;
      const decoded = decodeFrameHeader(view.subarray(index, index + FRAME_HEADER_BYTES));
      if (
        !decoded.ok ||
        decoded.header.sequence - decoded.header.commitIndex <= commitStartSequence
      )
        continue;
      if ((decoded.header.flags & FLAG_PRIOR_SYNCED) !== 0)
        return { found: true, durableBefore: true };
      found = true;
    }
  }
  return { found, durableBefore: false };
}

/**
 * Replays the journal from `input.startOffset`. Returns the tail of the last complete commit
 * and the report of what was found, with the decision. It throws `JOURNAL_CORRUPT` only for a
 * record that passes its checksum and hash but does not decode or apply; the caller acts on the
 * decision (cut the tail, refuse, or open the prefix read-only).
 */
export function replay(input: ReplayInput): ReplayResult {
  const cursor = new JournalCursor(input.file, input.startTail, { sealing: input.sealing });
  let replayed = 0;
  for (const commit of cursor.commits(input.fileSizeBytes)) {
    input.onCommit(commit.records, commit.tail);
    replayed += commit.records.length;
  }
  return resultAfter(cursor, input, replayed);
}

export interface StoredReplayInput extends Omit<ReplayInput, 'onCommit' | 'sealing'> {
  /** Each complete commit, its records as stored (none opened), with the tail after it. */
  readonly onCommit: (records: readonly StoredRecord[], tail: JournalTail) => void;
}

/**
 * Reads the journal as `replay` does, with the same checks and the same verdict on where and
 * why it stops, but opens no record: for checking an encrypted journal without its key (the
 * chain, the Merkle log and signed heads are over the stored bytes).
 */
export function replayStored(input: StoredReplayInput): ReplayResult {
  const cursor = new JournalCursor(input.file, input.startTail, { sealing: undefined });
  let replayed = 0;
  for (const commit of cursor.storedCommits(input.fileSizeBytes)) {
    input.onCommit(commit.records, commit.tail);
    replayed += commit.records.length;
  }
  return resultAfter(cursor, input, replayed);
}

function resultAfter(
  cursor: JournalCursor,
  input: Pick<ReplayInput, 'file' | 'fileSizeBytes' | 'syncedLength' | 'lookAheadEndOffset'>,
  replayed: number,
): ReplayResult {
  const stop = cursor.stop as CursorStop;
  const committedTail = cursor.position;
  const damage = stop.reason !== null;
  const commitStartSequence = committedTail.nextSequence;
  const zeros = damage ? scanZeros(input.file, stop.offset, input.fileSizeBytes) : 'not-zero';
  // Damage inside the durable length fails the open whatever follows it, so the look-ahead is
  // only needed past it; and none is made past a long run of zeros (ZERO_TAIL_SCAN_MAX_BYTES).
  const lookAhead = damage && stop.offset >= input.syncedLength && zeros !== 'zeros-past-limit';
  const later = lookAhead
    ? laterCommitsAfter(
        input.file,
        stop.offset + 1,
        Math.min(input.fileSizeBytes, input.lookAheadEndOffset ?? input.fileSizeBytes),
        commitStartSequence,
      )
    : { found: false, durableBefore: false };
  const facts: RecoveryFacts = {
    damage,
    pendingCommit: stop.pendingRecords > 0,
    zerosToEnd: zeros !== 'not-zero',
    laterCommitFound: later.found,
    beyondSynced: stop.offset >= input.syncedLength && !later.durableBefore,
  };
  const verdict = decide(facts);
  const validEndOffset = committedTail.endOffset;
  const report: RecoveryReport = {
    label: verdict.label,
    decision: verdict.decision,
    validEndOffset,
    damageOffset: damage ? stop.offset : null,
    damageReason: stop.reason,
    droppedBytes: input.fileSizeBytes - validEndOffset,
    checkpointOffset: null,
    checkpointRefused: null,
  };
  return {
    tail: committedTail,
    facts,
    report,
    recordsReplayed: replayed,
    erasuresUsed: cursor.erasuresUsed.filter(
      (erasure) => erasure.erased.recordOffset < committedTail.endOffset,
    ),
  };
}

export function corruptionError(report: RecoveryReport): Error {
  return journalCorrupt(
    report.damageOffset ?? report.validEndOffset,
    report.damageReason ?? 'damage',
  );
}
