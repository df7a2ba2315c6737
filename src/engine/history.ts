import { journalCorrupt } from '../errors.js';
import { type JournalEvent, MoveStep } from '../journal/journal-event.js';
import { readRecordAt, toJournalRecord } from '../journal/journal-reader.js';
import { type Position, positionOf } from '../position.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * The versions of one path, newest first, found by walking its version chain backwards: the
 * entry (or the tombstone a deletion left) names the record of the last change, and each
 * change record names the one before (see `VersionLink`). It reads one record per version and
 * nothing else, however long the journal; the walk stops at `limit` versions.
 */

export type VersionChange =
  | 'created'
  | 'written'
  | 'appended'
  | 'deleted'
  | 'restored'
  /** An entry arrived at the path by a move (`movedFrom` names where it was). */
  | 'moved-in'
  /** The path's entry moved away (`movedTo` names where); the path has no entry after it. */
  | 'moved-out';

export interface PathVersion {
  readonly path: string;
  readonly change: VersionChange;
  /** What the path was after the change (for `deleted`: what it had been). */
  readonly kind: 'file' | 'directory';
  /** The change's record: `checkout(position)` shows the state right after its commit. */
  readonly position: Position;
  readonly offset: number;
  readonly sequence: number;
  /** The commit time of the change. */
  readonly atMs: number;
  /** The file's size after the change (0 for directories, deletions and moves away). */
  readonly sizeBytes: number;
  /** For `moved-in`: the path the entry had before the move. */
  readonly movedFrom?: string;
  /** For `moved-out`: the path the entry has after the move. */
  readonly movedTo?: string;
}

interface Described {
  readonly change: VersionChange;
  readonly kind: 'file' | 'directory' | undefined;
  readonly atMs: number;
  readonly sizeBytes: number;
  readonly previous: number | null;
  readonly movedFrom?: string;
  readonly movedTo?: string;
}

/** What a `path.moved` record did to `path`: an entry moved in or out; undefined if neither. */
function describeMove(
  event: Extract<JournalEvent, { type: 'path.moved' }>,
  path: string,
): Described | undefined {
  for (const entry of event.entries) {
    const relative = entry.relativePath === '' ? '' : `/${entry.relativePath}`;
    const source = event.from + relative;
    const target = event.to + relative;
    const kind = entry.step === MoveStep.File ? 'file' : 'directory';
    if (entry.step !== MoveStep.DirectoryOpened && source === path) {
      return {
        change: 'moved-out',
        kind,
        atMs: event.atMs,
        sizeBytes: 0,
        previous: entry.previousFrom,
        movedTo: target,
      };
    }
    if (entry.step !== MoveStep.DirectoryClosed && target === path) {
      return {
        change: 'moved-in',
        kind,
        atMs: event.atMs,
        sizeBytes: entry.sizeBytes,
        previous: entry.previousTo,
        movedFrom: source,
      };
    }
  }
  return undefined;
}

function describe(event: JournalEvent, offset: number, path: string): Described {
  switch (event.type) {
    case 'genesis':
      if (path !== '/') break;
      return {
        change: 'created',
        kind: 'directory',
        atMs: event.createdAtMs,
        sizeBytes: 0,
        previous: null,
      };
    case 'directory.created':
      if (event.path !== path) break;
      return {
        change: 'created',
        kind: 'directory',
        atMs: event.atMs,
        sizeBytes: 0,
        previous: event.previous,
      };
    case 'file.created':
    case 'file.written':
    case 'file.appended':
    case 'file.patched':
      if (event.path !== path) break;
      return {
        change:
          event.type === 'file.created'
            ? 'created'
            : event.type === 'file.written' || event.type === 'file.patched'
              ? 'written'
              : 'appended',
        kind: 'file',
        atMs: event.atMs,
        sizeBytes: event.sizeBytes,
        previous: event.previous,
      };
    case 'entry.deleted':
      if (event.path !== path) break;
      return {
        change: 'deleted',
        kind: undefined,
        atMs: event.atMs,
        sizeBytes: 0,
        previous: event.previous,
      };
    case 'entry.restored':
      if (event.path !== path) break;
      return {
        change: 'restored',
        kind: event.kind,
        atMs: event.atMs,
        sizeBytes: event.sizeBytes,
        previous: event.previous,
      };
    case 'path.moved': {
      const moved = describeMove(event, path);
      if (moved !== undefined) return moved;
      break;
    }
    default:
      break;
  }
  throw journalCorrupt(offset, `the version chain of ${path} names a record of another path`);
}

export function historyOf(journal: OpenedJournal, path: string, limit: number): PathVersion[] {
  const versions: PathVersion[] = [];
  let offset = journal.catalog.versionLinkOf(path);
  const pending: number[] = [];
  while (offset !== null && versions.length < limit) {
    const raw = readRecordAt(journal.file, offset, journal.erasures.lookup);
    const record = toJournalRecord(raw, journal.sealing);
    const described = describe(record.event, offset, path);
    // Offsets only go back: a chain that does not is forged (and would never end).
    if (described.previous !== null && described.previous >= offset) {
      throw journalCorrupt(offset, `the version chain of ${path} does not go back`);
    }
    versions.push({
      path,
      change: described.change,
      kind: described.kind ?? 'file',
      position: positionOf(offset, record.sequence),
      offset,
      sequence: record.sequence,
      atMs: described.atMs,
      sizeBytes: described.sizeBytes,
      ...(described.movedFrom === undefined ? {} : { movedFrom: described.movedFrom }),
      ...(described.movedTo === undefined ? {} : { movedTo: described.movedTo }),
    });
    if (described.kind === undefined) pending.push(versions.length - 1);
    offset = described.previous;
  }
  // A deletion's kind is that of the version before it. When `limit` stops the walk right
  // after a deletion, that version was not read: read it, or a deleted directory would be
  // reported as a file.
  const lastIndex = versions.length - 1;
  const last = versions[lastIndex];
  if (offset !== null && last !== undefined && pending[pending.length - 1] === lastIndex) {
    const older = toJournalRecord(
      readRecordAt(journal.file, offset, journal.erasures.lookup),
      journal.sealing,
    );
    const kind = describe(older.event, offset, path).kind;
    if (kind !== undefined) versions[lastIndex] = { ...last, kind };
  }
  return fillDeletedKinds(versions, pending);
}

/** A deletion's kind is that of the version before it (read after it, walking backwards). */
function fillDeletedKinds(versions: PathVersion[], deletions: readonly number[]): PathVersion[] {
  for (const index of deletions) {
    const older = versions[index + 1];
    if (older !== undefined)
      versions[index] = { ...(versions[index] as PathVersion), kind: older.kind };
  }
  return versions;
}
