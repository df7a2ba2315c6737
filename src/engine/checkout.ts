import { CartridgeError, journalCorrupt } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { type Commit, JournalCursor } from '../journal/journal-cursor.js';
import { readRecordAt } from '../journal/journal-reader.js';
import type { Position } from '../position.js';
import { applyRecord, type Projections } from '../projections/projection-set.js';
import { commitTimeOf, type RootEntry } from '../projections/timeline.js';
import {
  type CheckpointStart,
  genesisStart,
  loadCheckpoint,
  type OpenedJournal,
} from './open-journal.js';

/**
 * Time travel's one operation: rebuilding the state of a past moment. A target names the
 * moment; the state is the fold of every commit up to it, started from the nearest checkpoint
 * root at or before it (found with one lookup in the timeline), so the records replayed are at
 * most one checkpoint interval, however long the history and however large the catalog.
 *
 * Targets:
 * - a journal offset (a number): the state when the head stood there, that is after every
 *   commit that ends at or before it (`cart.head` read at some moment names that moment);
 * - a `Position` (a record's offset and sequence, as history versions and change events give
 *   them): the state right after the commit holding that record;
 * - a snapshot name: the state when the snapshot was taken;
 * - a `Date`: the state after every commit whose time is at or before it.
 */

export type CheckoutTarget = number | Position | string | Date;

export interface PastState {
  readonly projections: Projections;
  /** The journal offset right after the last commit the state holds. */
  readonly head: number;
  /** The snapshot the target named, if it named one. */
  readonly snapshot: string | null;
  /** The chain hash of the last record the state holds: what names this state in the chain. */
  readonly headHash: Buffer;
}

interface ResolvedTarget {
  readonly root: RootEntry | undefined;
  readonly includes: (commit: Commit) => boolean;
  readonly snapshot: string | null;
  /** For an offset: the state must end at or before it. */
  readonly endsBy?: number;
}

function isPosition(target: unknown): target is Position {
  if (typeof target !== 'object' || target === null || target instanceof Date) return false;
  const { offset, sequence } = target as { offset?: unknown; sequence?: unknown };
  return Number.isSafeInteger(offset) && Number.isSafeInteger(sequence);
}

function invalidTarget(detail: string): CartridgeError {
  return new CartridgeError('INVALID_ARGUMENT', `checkout target ${detail}`);
}

/** The record a position names, checked: it must be in this journal, before the head. */
function requireRecord(journal: OpenedJournal, position: Position, headOffset: number): void {
  const { offset, sequence } = position;
  if (offset < JOURNAL_START_OFFSET || offset >= headOffset || sequence < 0) {
    throw new CartridgeError('HISTORY_UNAVAILABLE', `no record at position ${offset}/${sequence}`);
  }
  let found: number;
  try {
    found = readRecordAt(journal.file, offset, journal.erasures.lookup).header.sequence;
  } catch (error) {
    if (error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT') found = -1;
    else throw error;
  }
  if (found !== sequence) {
    throw new CartridgeError(
      'HISTORY_UNAVAILABLE',
      `position ${offset}/${sequence} names no record of this journal`,
    );
  }
}

function resolveTarget(
  journal: OpenedJournal,
  target: CheckoutTarget,
  headOffset: number,
): ResolvedTarget {
  const { timeline } = journal;
  if (typeof target === 'number') {
    if (!Number.isSafeInteger(target) || target < JOURNAL_START_OFFSET || target > headOffset) {
      throw invalidTarget(`${target} is not an offset between the journal start and the head`);
    }
    return {
      root: timeline.rootAtOrBefore(target - 1),
      includes: (commit) => commit.tail.endOffset <= target,
      snapshot: null,
      endsBy: target,
    };
  }
  if (typeof target === 'string') {
    const snapshot = timeline.snapshot(target);
    if (snapshot === undefined) {
      throw new CartridgeError('SNAPSHOT_NOT_FOUND', `no snapshot named ${target}`);
    }
    return {
      root: timeline.rootAtOrBefore(snapshot.offset),
      includes: (commit) => (commit.records[0]?.offset ?? 0) <= snapshot.offset,
      snapshot: snapshot.name,
    };
  }
  if (target instanceof Date) {
    const atMs = target.getTime();
    if (!Number.isFinite(atMs)) throw invalidTarget('is an invalid Date');
    // A compacted journal's oldest state is its horizon's: earlier moments were dropped.
    const keptFromMs = timeline.historyKeptFromMs();
    if (keptFromMs !== undefined && atMs < keptFromMs) {
      throw new CartridgeError(
        'HISTORY_UNAVAILABLE',
        `${target.toISOString()} lies before the history compaction kept`,
      );
    }
    return {
      root: timeline.rootAtOrBeforeTime(Math.max(0, atMs)),
      includes: (commit) => {
        for (const record of commit.records) {
          const time = commitTimeOf(record.event);
          if (time !== undefined) return time <= atMs;
        }
        return true;
      },
      snapshot: null,
    };
  }
  if (isPosition(target)) {
    requireRecord(journal, target, headOffset);
    return {
      root: timeline.rootAtOrBefore(target.offset),
      includes: (commit) => (commit.records[0]?.offset ?? 0) <= target.offset,
      snapshot: null,
    };
  }
  throw invalidTarget('must be an offset, a Position, a snapshot name or a Date');
}

/** The state and chain tail at a checkpoint root (or at the genesis when there is none). */
export function startAt(journal: OpenedJournal, root: RootEntry | undefined): CheckpointStart {
  const header = journal.headerKeeper.header;
  if (root === undefined) return genesisStart(journal.pages, header);
  const loaded = loadCheckpoint(
    journal.file,
    root.offset,
    journal.pages,
    header.capacityBlocks,
    journal.sealing,
  );
  if (typeof loaded === 'string') throw journalCorrupt(root.offset, loaded);
  return loaded;
}

/**
 * The state at `target`, rebuilt in memory beside the head's (the two share index pages
 * through the page cache, never dirty nodes). `headOffset` bounds what is read: the committed
 * head when the checkout began.
 */
export function stateAt(
  journal: OpenedJournal,
  target: CheckoutTarget,
  headOffset: number,
): PastState {
  const resolved = resolveTarget(journal, target, headOffset);
  let root = resolved.root;
  let start = startAt(journal, root);
  // An offset inside a checkpoint's root record lies after the root but before the end of its
  // commit: starting there would give a state whose head is past the target. The root before
  // it ends before this root's commit begins, so one step back is enough.
  const endsBy = resolved.endsBy;
  if (root !== undefined && endsBy !== undefined && start.tail.endOffset > endsBy) {
    root = journal.timeline.rootAtOrBefore(root.offset - 1);
    start = startAt(journal, root);
  }
  const cursor = new JournalCursor(journal.file, start.tail, {
    sealing: journal.sealing,
    erasures: journal.erasures.lookup,
  });
  let head = root === undefined ? JOURNAL_START_OFFSET : start.tail.endOffset;
  let headHash = start.tail.lastHash;
  let stopped = false;
  for (const commit of cursor.commits(headOffset)) {
    if (!resolved.includes(commit)) {
      stopped = true;
      break;
    }
    for (const record of commit.records) applyRecord(start.projections, record);
    head = commit.tail.endOffset;
    headHash = commit.tail.lastHash;
  }
  const stop = cursor.stop;
  if (!stopped && stop !== undefined && stop.reason !== null) {
    throw journalCorrupt(stop.offset, stop.reason);
  }
  if (head === JOURNAL_START_OFFSET) {
    throw invalidTarget('lies before the cartridge was created');
  }
  return { projections: start.projections, head, snapshot: resolved.snapshot, headHash };
}
