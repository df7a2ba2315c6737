import { CartridgeError } from '../errors.js';
import type { AuditEntry, JournalRecord } from '../journal/journal-event.js';
import { hexKey, isCount, numberAtKeyEnd, packValue, unpackValue } from './index/index-values.js';
import type { PagedTree } from './index/paged-tree.js';
import type { Projection } from './projection.js';

/**
 * The audit index: where the audit entries are, without reading the journal. It shares the
 * catalog's index (keys of its own prefixes) and holds, per `audit.batch` record:
 *
 * - `U` + batch offset (12 hex digits) → `[sequence, firstAtMs, lastAtMs, count]`;
 * - `V` + actor + NUL + batch offset → the same, counting only that actor's entries.
 *
 * A query walks one of these key ranges, in either direction, skips batches outside its time
 * range by their first and last times, and reads only the batches it needs: the last hundred
 * entries of one actor in a trail of millions cost a lookup and a record or two.
 */

export interface BatchEntry {
  readonly offset: number;
  readonly sequence: number;
  readonly firstAtMs: number;
  readonly lastAtMs: number;
  readonly count: number;
}

const BATCH_PREFIX = 'U';
const ACTOR_PREFIX = 'V';

function decodeBatch(key: string, bytes: Buffer): BatchEntry {
  const value = unpackValue(bytes, 'audit index', 4);
  const offset = numberAtKeyEnd(key);
  if (!value.every(isCount) || !isCount(offset)) {
    throw new CartridgeError('JOURNAL_CORRUPT', 'audit index value malformed');
  }
  const [sequence, firstAtMs, lastAtMs, count] = value as number[];
  return {
    offset,
    sequence: sequence as number,
    firstAtMs: firstAtMs as number,
    lastAtMs: lastAtMs as number,
    count: count as number,
  };
}

function summaryOf(record: JournalRecord, entries: readonly AuditEntry[]): Buffer {
  let firstAtMs = Number.POSITIVE_INFINITY;
  let lastAtMs = 0;
  for (const entry of entries) {
    firstAtMs = Math.min(firstAtMs, entry.atMs);
    lastAtMs = Math.max(lastAtMs, entry.atMs);
  }
  return packValue([record.sequence, firstAtMs, lastAtMs, entries.length]);
}

/** The key range of one actor's batches (every batch when `actor` is undefined). */
function rangeOf(actor: string | undefined): [string, string] {
  if (actor === undefined)
    return [BATCH_PREFIX, String.fromCharCode(BATCH_PREFIX.charCodeAt(0) + 1)];
  return [`${ACTOR_PREFIX}${actor}\u0000`, `${ACTOR_PREFIX}${actor}\u0001`];
}

export class AuditIndex implements Projection {
  readonly name = 'audit';

  constructor(private readonly tree: PagedTree) {}

  evolve(record: JournalRecord): void {
    const event = record.event;
    if (event.type !== 'audit.batch' || event.entries.length === 0) return;
    this.tree.set(BATCH_PREFIX + hexKey(record.offset), summaryOf(record, event.entries));
    const byActor = new Map<string, AuditEntry[]>();
    for (const entry of event.entries) {
      const list = byActor.get(entry.actor);
      if (list === undefined) byActor.set(entry.actor, [entry]);
      else list.push(entry);
    }
    for (const [actor, entries] of byActor) {
      this.tree.set(
        `${ACTOR_PREFIX}${actor}\u0000${hexKey(record.offset)}`,
        summaryOf(record, entries),
      );
    }
  }

  /**
   * The batches holding entries (of `actor`, if given) whose records lie in `[fromOffset,
   * toOffset)`, oldest first or newest first; `visit` returns false to stop.
   */
  batches(
    actor: string | undefined,
    fromOffset: number,
    toOffset: number,
    newestFirst: boolean,
    visit: (batch: BatchEntry) => boolean,
  ): void {
    const [start, end] = rangeOf(actor);
    const prefix = start;
    const low = prefix + hexKey(fromOffset);
    const high = prefix + hexKey(toOffset);
    const from = low > start ? low : start;
    const to = high < end ? high : end;
    if (!newestFirst) {
      this.tree.range(from, to, (key, value) => visit(decodeBatch(key, value)));
      return;
    }
    // Backwards, one floor lookup per batch: a query for the last entries reads only those.
    let upper = to;
    for (;;) {
      const found = this.tree.last(from, upper);
      if (found === undefined) return;
      if (!visit(decodeBatch(found[0], found[1]))) return;
      upper = found[0];
    }
  }
}
