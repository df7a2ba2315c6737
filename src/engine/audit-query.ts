import { CartridgeError, fromSystemError, journalCorrupt } from '../errors.js';
import type { Storage } from '../journal/io/storage.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { hashBytes } from '../journal/hashing.js';
import type { AuditAction, AuditEntry } from '../journal/journal-event.js';
import { readRecordAt, toJournalRecord } from '../journal/journal-reader.js';
import { ACTIONS } from '../iam/action.js';
import { compilePathGlob } from '../iam/path-glob.js';
import { type Position, positionOf } from '../position.js';
import type { BatchEntry } from '../projections/audit-index.js';
import { integerOption, requireOptionsObject } from './arguments.js';
import type { OpenedJournal } from './open-journal.js';
import { requireActor } from './options.js';

/**
 * Reading the audit trail: queries through the audit index (see `audit-index.ts`), which
 * reads only the batches a query needs, and the JSON Lines export an auditor checks against
 * the journal.
 */

export interface AuditQuery {
  /** A journal offset (batches from there) or a date (entries at or after it). */
  readonly from?: number | Date;
  /** A journal offset (batches before it) or a date (entries at or before it). */
  readonly to?: number | Date;
  readonly actor?: string;
  /** A canonical path, or a glob over paths (`/calls/**`). */
  readonly path?: string;
  readonly action?: AuditAction;
  readonly decision?: 'allowed' | 'denied';
  /** At most this many entries (default 1000, at most 1 000 000). */
  readonly limit?: number;
  /** `'oldest'` first (the default) or `'newest'` first (the last `limit` entries). */
  readonly order?: 'oldest' | 'newest';
}

export interface AuditRecord extends AuditEntry {
  readonly time: Date;
  /** The `audit.batch` record holding the entry, and the entry's place in it. */
  readonly batch: Position;
  readonly index: number;
}

export const AUDIT_QUERY_LIMIT_DEFAULT = 1000;
export const AUDIT_QUERY_LIMIT_MAX = 1_000_000;

interface ResolvedQuery {
  readonly fromOffset: number;
  readonly toOffset: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly actor: string | undefined;
  readonly matches: (entry: AuditEntry) => boolean;
  readonly limit: number;
  readonly newestFirst: boolean;
}

function bound(value: unknown, name: string, fallbackOffset: number): [number, number | null] {
  if (value === undefined) return [fallbackOffset, null];
  if (value instanceof Date) {
    const atMs = value.getTime();
    if (!Number.isFinite(atMs))
      throw new CartridgeError('INVALID_ARGUMENT', `${name} is an invalid Date`);
    return [fallbackOffset, atMs];
  }
  return [integerOption(name, value, fallbackOffset, 0, Number.MAX_SAFE_INTEGER), null];
}

function resolveQuery(query: AuditQuery, headOffset: number): ResolvedQuery {
  const given = requireOptionsObject('audit query', query);
  const [fromOffset, fromMs] = bound(given.from, 'from', JOURNAL_START_OFFSET);
  const [toOffset, toMs] = bound(given.to, 'to', headOffset);
  const actor = given.actor === undefined ? undefined : requireActor(given.actor);
  const action = given.action;
  if (action !== undefined && !ACTIONS.includes(action as AuditAction)) {
    throw new CartridgeError('INVALID_ARGUMENT', `action must be one of ${ACTIONS.join(', ')}`);
  }
  const decision = given.decision;
  if (decision !== undefined && decision !== 'allowed' && decision !== 'denied') {
    throw new CartridgeError('INVALID_ARGUMENT', 'decision must be allowed or denied');
  }
  const order = given.order ?? 'oldest';
  if (order !== 'oldest' && order !== 'newest') {
    throw new CartridgeError('INVALID_ARGUMENT', 'order must be oldest or newest');
  }
  const pathMatches = given.path === undefined ? undefined : compilePathGlob(given.path);
  const lowMs = fromMs ?? 0;
  const highMs = toMs ?? Number.MAX_SAFE_INTEGER;
  return {
    fromOffset,
    toOffset,
    fromMs: lowMs,
    toMs: highMs,
    actor,
    matches: (entry) =>
      entry.atMs >= lowMs &&
      entry.atMs <= highMs &&
      (actor === undefined || entry.actor === actor) &&
      (action === undefined || entry.action === action) &&
      (decision === undefined || entry.allowed === (decision === 'allowed')) &&
      (pathMatches === undefined || pathMatches(entry.path)),
    limit: integerOption('limit', given.limit, AUDIT_QUERY_LIMIT_DEFAULT, 1, AUDIT_QUERY_LIMIT_MAX),
    newestFirst: order === 'newest',
  };
}

/** The entries of one batch record, checked against what the index says of it. */
function entriesOf(journal: OpenedJournal, batch: BatchEntry): readonly AuditEntry[] {
  const raw = readRecordAt(journal.file, batch.offset);
  const record = toJournalRecord(raw, journal.sealing);
  if (record.sequence !== batch.sequence || record.event.type !== 'audit.batch') {
    throw journalCorrupt(batch.offset, 'the audit index names another record');
  }
  return record.event.entries;
}

export function queryAudit(
  journal: OpenedJournal,
  query: AuditQuery,
  headOffset: number,
): AuditRecord[] {
  const resolved = resolveQuery(query, headOffset);
  const found: AuditRecord[] = [];
  journal.audit.batches(
    resolved.actor,
    resolved.fromOffset,
    resolved.toOffset,
    resolved.newestFirst,
    (batch) => {
      if (batch.lastAtMs < resolved.fromMs || batch.firstAtMs > resolved.toMs) return true;
      const entries = entriesOf(journal, batch);
      const batchPosition = positionOf(batch.offset, batch.sequence);
      const indexes = entries.map((_, index) => index);
      if (resolved.newestFirst) indexes.reverse();
      for (const index of indexes) {
        const entry = entries[index] as AuditEntry;
        if (!resolved.matches(entry)) continue;
        found.push({ ...entry, time: new Date(entry.atMs), batch: batchPosition, index });
        if (found.length >= resolved.limit) return false;
      }
      return true;
    },
  );
  return found;
}

export interface AuditExportResult {
  readonly batchCount: number;
  readonly entryCount: number;
}

/**
 * Writes the trail between `from` and `to` as JSON Lines: for each batch record a line
 * `{"batch":{offset,sequence,bodyBlake3}}`, then one line per entry. An auditor checks it
 * against the cartridge: `verify()` proves the chain, and each batch line names a record of
 * the chain whose body hashes to `bodyBlake3` and holds exactly the entries that follow
 * (docs/API.md gives the procedure).
 */
export function exportAuditLines(
  journal: OpenedJournal,
  storage: Storage,
  outPath: string,
  query: Pick<AuditQuery, 'from' | 'to'>,
  headOffset: number,
): AuditExportResult {
  const resolved = resolveQuery(query, headOffset);
  let batchCount = 0;
  let entryCount = 0;
  let position = 0;
  // Opening the cartridge's own file (by any name) for the export would truncate it first.
  const existing = storage.statPath(outPath);
  const own = journal.file.identity();
  if (existing?.identity.device === own.device && existing.identity.inode === own.inode) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      'the export would overwrite the cartridge itself',
      {
        path: outPath,
      },
    );
  }
  let out;
  try {
    out = storage.open(outPath, { create: true, truncate: true, readOnly: false });
  } catch (error) {
    throw fromSystemError(error, `audit export to ${outPath}`);
  }
  try {
    // One write per batch: the export streams, whatever the length of the trail.
    journal.audit.batches(undefined, resolved.fromOffset, resolved.toOffset, false, (batch) => {
      if (batch.lastAtMs < resolved.fromMs || batch.firstAtMs > resolved.toMs) return true;
      const raw = readRecordAt(journal.file, batch.offset);
      const record = toJournalRecord(raw, journal.sealing);
      if (record.sequence !== batch.sequence || record.event.type !== 'audit.batch') {
        throw journalCorrupt(batch.offset, 'the audit index names another record');
      }
      const bodyBlake3 = hashBytes(raw.body).toString('hex');
      const lines = [
        JSON.stringify({ batch: { offset: batch.offset, sequence: batch.sequence, bodyBlake3 } }),
        ...record.event.entries.map((entry, index) => JSON.stringify({ ...entry, index })),
      ];
      const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
      out.write([bytes], position);
      position += bytes.length;
      batchCount++;
      entryCount += record.event.entries.length;
      return true;
    });
    out.sync();
  } catch (error) {
    throw fromSystemError(error, `audit export to ${outPath}`);
  } finally {
    out.close();
  }
  return { batchCount, entryCount };
}
