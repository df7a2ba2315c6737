import { CartridgeError, limitExceeded } from '../errors.js';
import { readRecordAt, toJournalRecord } from '../journal/journal-reader.js';
import { REDACT_VERSIONS_MAX } from '../limits.js';
import type { Catalog } from '../projections/catalog.js';
import { stateAt } from './checkout.js';
import { historyOf, type PathVersion } from './history.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * Which records a redaction erases. A version's content is the records its extent map names
 * after its commit; versions share records (an append keeps the records before it, a restore
 * refers to old ones, a patch keeps what it does not cover), so a redaction erases the
 * records of the versions chosen that no version kept refers to. Records a chosen version's
 * commit wrote and no map refers to any longer (a small append consolidated in the same
 * commit, whose bytes live on in the consolidated record) belong to that version too.
 *
 * Versions redacted before count as chosen again: the bytes they shared with versions still
 * kept stayed for those, and go once no version kept refers to them.
 *
 * Only the path's own versions are looked at: records are shared between versions of one path
 * (restore brings a path back to its own past), never between paths (a copy copies bytes).
 */

/** The versions `redact` erases: all but the current one, all, or the ones named. */
export type RedactVersions = 'past' | 'all' | readonly (number | { readonly offset: number })[];

export interface RedactionPlan {
  /** The versions whose content the redaction removes. */
  readonly versions: readonly PathVersion[];
  /** The records to erase, in journal order. */
  readonly recordOffsets: readonly number[];
}

function invalid(detail: string): CartridgeError {
  return new CartridgeError('INVALID_ARGUMENT', `redact versions ${detail}`);
}

/** Checks the caller's `versions` option. */
export function requireRedactVersions(value: unknown): RedactVersions {
  if (value === 'past' || value === 'all') return value;
  if (!Array.isArray(value)) {
    throw invalid("must be 'past', 'all' or an array of positions or offsets");
  }
  if (value.length === 0) throw invalid('must name at least one version');
  if (value.length > REDACT_VERSIONS_MAX) {
    throw limitExceeded('versions named', value.length, REDACT_VERSIONS_MAX);
  }
  for (const item of value as unknown[]) {
    const offset =
      typeof item === 'object' && item !== null && 'offset' in item
        ? (item as { offset: unknown }).offset
        : item;
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw invalid('must name each version by its offset or Position');
    }
  }
  return value as RedactVersions;
}

function offsetOf(target: number | { readonly offset: number }): number {
  return typeof target === 'number' ? target : target.offset;
}

/** The records a file's map names in `catalog`, or none when `path` is not a file there. */
function mapRecordsOf(catalog: Catalog, path: string): number[] {
  const node = catalog.get(path);
  if (node === undefined || node.kind !== 'file') return [];
  return catalog.extentsOf(node).map((extent) => extent.recordOffset);
}

/** The records the version's map names right after its commit. */
function versionRecords(journal: OpenedJournal, version: PathVersion, head: number): number[] {
  if (version.change === 'deleted' || version.kind !== 'file') return [];
  const past = stateAt(journal, version.position, head);
  return mapRecordsOf(past.projections.catalog, version.path);
}

/** The content records the version's own commit wrote for the path. */
function writtenRecords(journal: OpenedJournal, version: PathVersion): number[] {
  const raw = readRecordAt(journal.file, version.offset, journal.erasures.lookup);
  const { event } = toJournalRecord(raw, journal.sealing);
  const written: number[] = [];
  if ('extents' in event && event.type !== 'entry.restored') {
    for (const extent of event.extents) written.push(extent.recordOffset);
  }
  if (raw.header.rawBlobLength > 0) written.push(version.offset);
  return written;
}

export function planRedaction(
  journal: OpenedJournal,
  path: string,
  versions: RedactVersions,
  head: number,
): RedactionPlan {
  const history = historyOf(journal, path, REDACT_VERSIONS_MAX + 1);
  if (history.length === 0) {
    throw new CartridgeError('ENOENT', `${path} has no history`, { path });
  }
  if (history.length > REDACT_VERSIONS_MAX) {
    throw limitExceeded('versions of one path', history.length, REDACT_VERSIONS_MAX);
  }
  const live = journal.catalog.get(path) !== undefined;
  let chosen: PathVersion[];
  if (versions === 'all') chosen = history;
  else if (versions === 'past') chosen = live ? history.slice(1) : history;
  else {
    const byOffset = new Map(history.map((version) => [version.offset, version]));
    chosen = [];
    for (const target of versions) {
      const version = byOffset.get(offsetOf(target));
      const sequence = typeof target === 'number' ? undefined : (target as { sequence?: unknown });
      if (
        version === undefined ||
        (sequence?.sequence !== undefined && sequence.sequence !== version.sequence)
      ) {
        throw invalid(`name a record that is not a version of ${path}`);
      }
      if (!chosen.includes(version)) chosen.push(version);
    }
  }
  const chosenOffsets = new Set(chosen.map((version) => version.offset));
  const kept = new Set<number>();
  for (const version of history) {
    // A version redacted before keeps nothing: its bytes stay only for versions still kept.
    if (chosenOffsets.has(version.offset)) continue;
    if (journal.erasures.isVersionRedacted(version.offset)) continue;
    // The current version's map is the head's: no replay needed for it.
    const records =
      live && version === history[0]
        ? mapRecordsOf(journal.catalog, path)
        : versionRecords(journal, version, head);
    for (const offset of records) kept.add(offset);
  }
  const erased = new Set<number>();
  for (const version of chosen) {
    const records =
      live && version === history[0]
        ? mapRecordsOf(journal.catalog, path)
        : versionRecords(journal, version, head);
    for (const offset of [...records, ...writtenRecords(journal, version)]) {
      if (!kept.has(offset)) erased.add(offset);
    }
  }
  return {
    versions: chosen,
    recordOffsets: [...erased].sort((left, right) => left - right),
  };
}
