import { CartridgeError, journalCorrupt } from '../errors.js';
import type { JournalEvent, JournalRecord } from '../journal/journal-event.js';
import { hexKey, isCount, packValue, unpackValue } from './index/index-values.js';
import type { PagedTree } from './index/paged-tree.js';
import type { Projection } from './projection.js';
import type { UndoLog } from './undo-log.js';

/**
 * The timeline: what time travel needs to find its way through the journal without reading
 * it. It shares the catalog's index (its keys have their own prefixes) and keeps:
 *
 * - `R` + root offset (12 hex digits) → `[offset, sequence, atMs]`: every checkpoint root, so
 *   a checkout finds the nearest root at or before an offset with one floor lookup;
 * - `T` + commit time (12 hex digits) + root offset → the same value: the roots by time, for
 *   a checkout by date (commit times never decrease, see `Cartridge.transaction`);
 * - `S` + name → `[offset, sequence, createdAtMs, description | null]`: the named snapshots.
 *
 * A root is registered in the index by the next checkpoint (before it flushes, so the pages it
 * writes hold it); until then the timeline keeps it as `lastRoot`. Replaying the journal from
 * its genesis registers each root when it meets the next root record, at the same point in
 * the sequence of index changes, so the pages come out the same either way.
 *
 * Its checkpoint section is `[lastCommitAtMs]`.
 */

export interface RootEntry {
  readonly offset: number;
  readonly sequence: number;
  /** The commit time of the last commit before the root. */
  readonly atMs: number;
}

export interface SnapshotEntry {
  readonly name: string;
  /** The snapshot record: its commit is the state the snapshot names. */
  readonly offset: number;
  readonly sequence: number;
  readonly createdAtMs: number;
  readonly description: string | null;
}

const ROOT_PREFIX = 'R';
const TIME_PREFIX = 'T';
const SNAPSHOT_PREFIX = 'S';
/** A compacted journal's horizon: `[atMs]`, the commit time its history starts from. */
const COMPACTED_KEY = 'C';

function corrupt(detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `timeline ${detail}`);
}

function decodeRoot(bytes: Buffer): RootEntry {
  const [offset, sequence, atMs] = unpackValue(bytes, 'timeline', 3);
  if (!isCount(offset) || !isCount(sequence) || !isCount(atMs)) throw corrupt('root malformed');
  return { offset, sequence, atMs };
}

function decodeSnapshot(name: string, bytes: Buffer): SnapshotEntry {
  const [offset, sequence, createdAtMs, description] = unpackValue(bytes, 'timeline', 4);
  const valid =
    isCount(offset) &&
    isCount(sequence) &&
    isCount(createdAtMs) &&
    (description === null || typeof description === 'string');
  if (!valid) throw corrupt('snapshot malformed');
  return { name, offset, sequence, createdAtMs, description };
}

/** The commit time an event carries, if it carries one. */
export function commitTimeOf(event: JournalEvent): number | undefined {
  if ('atMs' in event) return event.atMs;
  if (event.type === 'genesis') return event.createdAtMs;
  return undefined;
}

export class Timeline implements Projection {
  readonly name = 'timeline';
  private lastCommitAtMsValue: number;
  private lastRootValue: RootEntry | undefined;
  /** Whether `lastRoot` is in the index yet (the checkpointer puts it there before flushing). */
  private lastRootRegistered = false;

  constructor(
    private readonly tree: PagedTree,
    private readonly undo: UndoLog,
    section?: readonly number[],
    lastRoot?: RootEntry,
  ) {
    this.lastCommitAtMsValue = section?.[0] ?? 0;
    this.lastRootValue = lastRoot;
  }

  /** The time of the latest commit; a new commit's time is never earlier. */
  get lastCommitAtMs(): number {
    return this.lastCommitAtMsValue;
  }

  get section(): number[] {
    return [this.lastCommitAtMsValue];
  }

  get lastRoot(): RootEntry | undefined {
    return this.lastRootValue;
  }

  evolve(record: JournalRecord): void {
    const event = record.event;
    const atMs = commitTimeOf(event);
    if (atMs !== undefined && atMs > this.lastCommitAtMsValue) this.setLastCommitAtMs(atMs);
    switch (event.type) {
      case 'checkpoint':
        this.registerLastRoot();
        this.setLastRoot(
          { offset: record.offset, sequence: record.sequence, atMs: this.lastCommitAtMsValue },
          false,
        );
        return;
      case 'snapshot.created': {
        const key = SNAPSHOT_PREFIX + event.name;
        if (this.tree.get(key) !== undefined) {
          throw journalCorrupt(record.offset, `snapshot ${event.name} already exists`);
        }
        const value = [record.offset, record.sequence, event.atMs, event.description];
        this.tree.set(key, packValue(value));
        return;
      }
      case 'journal.compacted':
        this.tree.set(COMPACTED_KEY, packValue([event.atMs]));
        return;
      case 'snapshot.deleted':
        if (!this.tree.delete(SNAPSHOT_PREFIX + event.name)) {
          throw journalCorrupt(record.offset, `no snapshot ${event.name} to delete`);
        }
        return;
      default:
        return;
    }
  }

  /**
   * Puts the last root into the index, if it is not there yet: the checkpointer calls this
   * before it flushes, so the new pages hold every root but the one being written.
   */
  registerLastRoot(): void {
    const root = this.lastRootValue;
    if (root === undefined || this.lastRootRegistered) return;
    const value = packValue([root.offset, root.sequence, root.atMs]);
    this.tree.set(ROOT_PREFIX + hexKey(root.offset), value);
    this.tree.set(TIME_PREFIX + hexKey(root.atMs) + hexKey(root.offset), value);
    this.setLastRoot(root, true);
  }

  /** The latest checkpoint root at or before `offset`. */
  rootAtOrBefore(offset: number): RootEntry | undefined {
    const last = this.lastRootValue;
    if (last !== undefined && last.offset <= offset) return last;
    const found = this.tree.last(ROOT_PREFIX, ROOT_PREFIX + hexKey(offset + 1));
    return found === undefined ? undefined : decodeRoot(found[1]);
  }

  /** The latest checkpoint root whose last commit was at or before `atMs`. */
  rootAtOrBeforeTime(atMs: number): RootEntry | undefined {
    const last = this.lastRootValue;
    if (last !== undefined && last.atMs <= atMs) return last;
    const found = this.tree.last(TIME_PREFIX, TIME_PREFIX + hexKey(atMs + 1));
    return found === undefined ? undefined : decodeRoot(found[1]);
  }

  /**
   * For a compacted journal, the commit time its history starts from (the state there is its
   * oldest); undefined for a journal never compacted.
   */
  historyKeptFromMs(): number | undefined {
    const bytes = this.tree.get(COMPACTED_KEY);
    if (bytes === undefined) return undefined;
    const [atMs] = unpackValue(bytes, 'timeline', 1);
    if (!isCount(atMs)) throw new CartridgeError('JOURNAL_CORRUPT', 'timeline value malformed');
    return atMs;
  }

  snapshot(name: string): SnapshotEntry | undefined {
    const bytes = this.tree.get(SNAPSHOT_PREFIX + name);
    return bytes === undefined ? undefined : decodeSnapshot(name, bytes);
  }

  /** The named snapshots, by name. */
  snapshots(): SnapshotEntry[] {
    const found: SnapshotEntry[] = [];
    // Every snapshot key lies in [`S`, `T`): the next prefix starts where they end.
    this.tree.range(SNAPSHOT_PREFIX, TIME_PREFIX, (key, value) => {
      found.push(decodeSnapshot(key.slice(SNAPSHOT_PREFIX.length), value));
    });
    return found;
  }

  private setLastCommitAtMs(atMs: number): void {
    const before = this.lastCommitAtMsValue;
    this.lastCommitAtMsValue = atMs;
    this.undo.push(() => {
      this.lastCommitAtMsValue = before;
    });
  }

  private setLastRoot(root: RootEntry, registered: boolean): void {
    const before = this.lastRootValue;
    const registeredBefore = this.lastRootRegistered;
    this.lastRootValue = root;
    this.lastRootRegistered = registered;
    this.undo.push(() => {
      this.lastRootValue = before;
      this.lastRootRegistered = registeredBefore;
    });
  }
}
