import { Observable, type Subscriber } from 'rxjs';
import { CartridgeError, journalCorrupt } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { chainRootOf } from '../journal/hashing.js';
import { type Commit, JournalCursor } from '../journal/journal-cursor.js';
import { type JournalEvent, type JournalRecord, MoveStep } from '../journal/journal-event.js';
import type { JournalTail } from '../journal/journal-writer.js';
import { decodeToken, encodeToken, markOf, type ResumePoint } from './resume-token.js';
import { type Position, positionAfter, positionOf } from '../position.js';
import { compilePathGlob } from '../iam/path-glob.js';
import { commitTimeOf } from '../projections/timeline.js';
import type { CommitBus } from './commit-bus.js';
import type { OpenedJournal } from './open-journal.js';
import { startAt } from './checkout.js';
import type { Relocate } from './pins.js';

/**
 * Change streams: the journal read from a position, then followed live, as an rxjs
 * `Observable`. One cursor does both: it catches up through the records already committed
 * and, once at the head, waits for the commit bus to say the head moved, then reads on. So
 * there is no gap and no duplicate between history and live events, and nothing is buffered
 * but the batch being delivered: a subscriber that falls behind leaves its backlog in the
 * journal, not in memory. What bounds it is `maxLagBytes`: a live subscriber that falls that
 * far behind the head gets `SUBSCRIBER_OVERFLOW` with a token to resume from (a stuck
 * subscriber would otherwise pin ever more history against compaction).
 *
 * Every event carries a resume token: the chain state before its commit (offset, sequence and
 * full chain hash) and how many of the commit's records to skip. Resuming checks the token's
 * cartridge and that the record found there still continues that chain; anything else
 * (history compacted away, another cartridge, a forged token) is `HISTORY_UNAVAILABLE`, never
 * a silent skip.
 */

export type ChangeType =
  | 'file.created'
  | 'file.written'
  | 'file.appended'
  /** Byte ranges of a file replaced in place: the pages of one SQLite commit. */
  | 'file.patched'
  | 'entry.deleted'
  | 'directory.created'
  | 'entry.restored'
  | 'snapshot.created'
  | 'snapshot.deleted'
  | 'restore.started'
  /**
   * An entry moved, with its subtree: `path` is where it is now, `from` where it was. One
   * event per move, whatever the size of the subtree.
   */
  | 'path.moved'
  /** Not a change: the stream has delivered everything up to the head and now follows it. */
  | 'caught-up';

export interface ChangeEvent {
  readonly type: ChangeType;
  /** The path changed; null for snapshot and restore events and for the caught-up marker. */
  readonly path: string | null;
  /**
   * The change's record. For the marker: the head, as the offset and sequence the next record
   * will take (it names no record yet).
   */
  readonly position: Position;
  readonly offset: number;
  readonly sequence: number;
  /** The commit time. */
  readonly time: Date;
  readonly atMs: number;
  /** Resume after this event with `changes({ from: token })`. */
  readonly token: string;
  /** For file events: the file's size after the change. */
  readonly sizeBytes?: number;
  /** For snapshot events: the snapshot's name; for a restore: the snapshot restored, if any. */
  readonly name?: string;
  /** For a restore: the state restored, as the head offset right after its last commit. */
  readonly targetHead?: number;
  /** For a move: the path the entry had before it (`path` is the one it has after). */
  readonly from?: string;
}

export type ChangeFilter = string | ((event: ChangeEvent) => boolean);

export interface ChangesOptions {
  /** `'now'` (the default), `'start'`, a journal offset, a snapshot name, or a resume token. */
  readonly from?: 'now' | 'start' | number | string;
  /** A glob over paths (`/calls/**`) or a predicate; the caught-up marker always passes. */
  readonly filter?: ChangeFilter;
  /** How far (journal bytes) a live subscriber may fall behind the head; default 1 GiB. */
  readonly maxLagBytes?: number;
}

/** Events delivered per turn of the event loop before yielding to other work. */
const EVENTS_PER_TURN = 1024;
/** Journal bytes read per turn of the event loop. */
const BYTES_PER_TURN = 4 * 1024 * 1024;
export const MAX_LAG_BYTES_DEFAULT = 1024 * 1024 * 1024;
/** An unchained cursor computes no chain hashes: the hash it starts from is never read. */
const NO_HASH = Buffer.alloc(32);

/** What a stream needs of its cartridge. */
export interface StreamHost {
  readonly journal: () => OpenedJournal;
  readonly bus: CommitBus;
  readonly isOpen: () => boolean;
  /** A read-only handle polls the file for another process's commits while streams run. */
  readonly follow: () => () => void;
  /** Whether the subscriber's actor may read a path (null: an event without a path). */
  readonly mayRead: (path: string | null) => boolean;
  /**
   * Pins a position against compaction while the stream is open; returns how to unpin. The
   * stream moves into the compacted journal with `relocate`.
   */
  readonly pin: (holder: object, offset: () => number, relocate: Relocate) => () => void;
}

/** Where a stream starts: a mark, and the records of its commit already delivered. */
type StartPoint = ResumePoint;

function unavailable(detail: string): CartridgeError {
  return new CartridgeError('HISTORY_UNAVAILABLE', `resume token ${detail}`);
}

// ---- where a stream starts ------------------------------------------------------------------

/** The chain state after every commit that `includes` accepts, from the nearest root. */
function tailAfter(
  journal: OpenedJournal,
  rootBefore: number,
  includes: (commit: Commit) => boolean,
): JournalTail {
  let tail = startAt(journal, journal.timeline.rootAtOrBefore(rootBefore)).tail;
  const cursor = new JournalCursor(journal.file, tail, { sealing: journal.sealing });
  for (const commit of cursor.commits(journal.writer.committedTail.endOffset)) {
    if (!includes(commit)) break;
    tail = commit.tail;
  }
  return tail;
}

function startPointOf(journal: OpenedJournal, from: ChangesOptions['from']): StartPoint {
  const head = journal.writer.committedTail;
  const cartridgeId = journal.headerKeeper.header.cartridgeId;
  if (from === undefined || from === 'now') return { mark: markOf(head), skipRecords: 0 };
  if (from === 'start') {
    const genesis = {
      endOffset: JOURNAL_START_OFFSET,
      nextSequence: 0,
      lastHash: chainRootOf(cartridgeId),
    };
    return { mark: markOf(genesis), skipRecords: 0 };
  }
  if (typeof from === 'number') {
    if (!Number.isSafeInteger(from) || from < JOURNAL_START_OFFSET || from > head.endOffset) {
      throw new CartridgeError('INVALID_ARGUMENT', `from ${from} is not an offset in the journal`);
    }
    const tail = tailAfter(journal, from - 1, (commit) => commit.tail.endOffset <= from);
    return { mark: markOf(tail), skipRecords: 0 };
  }
  if (typeof from !== 'string') {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      'from must be now, start, an offset, a snapshot or a token',
    );
  }
  const snapshot = journal.timeline.snapshot(from);
  if (snapshot !== undefined) {
    const includes = (commit: Commit): boolean =>
      (commit.records[0]?.offset ?? 0) <= snapshot.offset;
    return { mark: markOf(tailAfter(journal, snapshot.offset, includes)), skipRecords: 0 };
  }
  const start = decodeToken(from, cartridgeId);
  const { mark } = start;
  if (mark.offset > head.endOffset) throw unavailable('points past the head');
  // At the head there is no record yet to carry the link: the head's own chain state must.
  if (mark.offset === head.endOffset) {
    const current = markOf(head);
    if (mark.sequence !== current.sequence || !mark.link.equals(current.link)) {
      throw unavailable('does not continue the journal');
    }
  }
  return start;
}

// ---- events ---------------------------------------------------------------------------------

/**
 * A change event. Its token is made when first read: most subscribers keep few tokens, and
 * making one per event cost more than the rest of the event. `toJSON` includes it.
 */
class StreamEvent implements ChangeEvent {
  readonly position: Position;
  readonly offset: number;
  readonly sequence: number;
  readonly time: Date;
  private tokenValue: string | undefined;

  constructor(
    readonly type: ChangeType,
    readonly path: string | null,
    record: JournalRecord,
    readonly atMs: number,
    private readonly tokenOf: () => string,
    readonly sizeBytes?: number,
    readonly name?: string,
    readonly targetHead?: number,
    readonly from?: string,
  ) {
    this.position = positionOf(record.offset, record.sequence);
    this.offset = record.offset;
    this.sequence = record.sequence;
    this.time = new Date(atMs);
  }

  get token(): string {
    this.tokenValue ??= this.tokenOf();
    return this.tokenValue;
  }

  toJSON(): Omit<ChangeEvent, 'time'> & { time: string } {
    const { type, path, position, offset, sequence, atMs, token } = this;
    const { sizeBytes, name, targetHead, from } = this;
    const fields = { type, path, position, offset, sequence, atMs, token };
    return {
      ...fields,
      time: this.time.toISOString(),
      ...(sizeBytes === undefined ? {} : { sizeBytes }),
      ...(name === undefined ? {} : { name }),
      ...(targetHead === undefined ? {} : { targetHead }),
      ...(from === undefined ? {} : { from }),
    };
  }
}

/** The event of a record, or undefined for records that change nothing a subscriber sees. */
function changeOf(
  record: JournalRecord,
  atMs: number,
  tokenOf: () => string,
): ChangeEvent | undefined {
  const event: JournalEvent = record.event;
  switch (event.type) {
    case 'file.created':
    case 'file.written':
    case 'file.appended':
    case 'file.patched':
    case 'entry.restored':
      return new StreamEvent(event.type, event.path, record, atMs, tokenOf, event.sizeBytes);
    case 'entry.deleted':
    case 'directory.created':
      return new StreamEvent(event.type, event.path, record, atMs, tokenOf);
    case 'snapshot.created':
    case 'snapshot.deleted':
      return new StreamEvent(event.type, null, record, atMs, tokenOf, undefined, event.name);
    case 'restore.started':
      return new StreamEvent(
        event.type,
        null,
        record,
        atMs,
        tokenOf,
        undefined,
        event.snapshot ?? undefined,
        event.targetHead,
      );
    case 'path.moved':
      return moveChangeOf(event, record, atMs, tokenOf);
    default:
      return undefined;
  }
}

/**
 * The event of a move: made by the record holding the moved entry's first step (the first
 * record of the move); the records that carry the rest of a large subtree make none.
 */
function moveChangeOf(
  event: Extract<JournalEvent, { type: 'path.moved' }>,
  record: JournalRecord,
  atMs: number,
  tokenOf: () => string,
): ChangeEvent | undefined {
  const first = event.entries[0];
  if (first === undefined || first.relativePath !== '' || first.step === MoveStep.DirectoryClosed)
    return undefined;
  const sizeBytes = first.step === MoveStep.File ? first.sizeBytes : undefined;
  return new StreamEvent(
    'path.moved',
    event.to,
    record,
    atMs,
    tokenOf,
    sizeBytes,
    undefined,
    undefined,
    event.from,
  );
}

function matcherOf(filter: ChangeFilter | undefined): (event: ChangeEvent) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === 'function') return filter;
  if (typeof filter === 'string') {
    const matches = compilePathGlob(filter);
    // A move matches where the entry went or where it came from: a watcher of either sees it.
    return (event) =>
      (event.path !== null && matches(event.path)) ||
      (event.from !== undefined && matches(event.from));
  }
  throw new CartridgeError('INVALID_ARGUMENT', 'filter must be a path glob or a predicate');
}

function maxLagOf(value: unknown): number {
  if (value === undefined) return MAX_LAG_BYTES_DEFAULT;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new CartridgeError('INVALID_ARGUMENT', 'maxLagBytes must be a positive number');
  }
  return value;
}

/** One subscription: a cursor, a pump that runs a batch per turn, and its state. */
class Subscription {
  private cursor: JournalCursor;
  private skipRecords: number;
  private scheduled: NodeJS.Immediate | undefined;
  private live = false;
  private stopped = false;
  private readonly unsubscribe: () => void;
  private readonly unfollow: () => void;
  private readonly unpin: () => void;
  private readonly cartridgeId: Buffer;
  /** Where the stream stands after what it delivered: the token its errors and marker carry. */
  private delivered: ResumePoint;

  constructor(
    private readonly host: StreamHost,
    private readonly subscriber: Subscriber<ChangeEvent>,
    start: StartPoint,
    private readonly matches: (event: ChangeEvent) => boolean,
    private readonly maxLagBytes: number,
  ) {
    const journal = host.journal();
    this.cartridgeId = journal.headerKeeper.header.cartridgeId;
    // Streams deliver records, they do not vouch for them: the cursor checks checksums,
    // sequence and the link at the start, not the whole hash chain (`verify()` does that).
    const { mark } = start;
    const from = { endOffset: mark.offset, nextSequence: mark.sequence, lastHash: NO_HASH };
    this.cursor = new JournalCursor(journal.file, from, {
      chained: false,
      firstLink: mark.link,
      sealing: journal.sealing,
    });
    this.skipRecords = start.skipRecords;
    this.delivered = start;
    this.unsubscribe = host.bus.subscribe(
      () => this.schedule(),
      () => this.finish(),
      (error) => this.fail(error),
    );
    this.unfollow = host.follow();
    this.unpin = host.pin(
      this,
      () => this.cursor.position.endOffset,
      (journal, boundaries) => this.relocate(journal, boundaries),
    );
    this.schedule();
  }

  /**
   * Moves the stream into a compacted journal: its cursor to where the commit boundary it
   * stands at now stands (compaction kept it: the stream pinned it), its resume point with it.
   * Events already delivered keep the old journal's tokens, which resume no more
   * (`HISTORY_UNAVAILABLE`); the next events carry the new journal's.
   */
  private relocate(journal: OpenedJournal, boundaries: ReadonlyMap<number, JournalTail>): void {
    if (this.stopped) return;
    const tail = boundaries.get(this.cursor.position.endOffset);
    if (tail === undefined) {
      this.fail(unavailable('names history that compaction did not keep'));
      return;
    }
    const mark = markOf(tail);
    this.cursor = new JournalCursor(
      journal.file,
      { endOffset: mark.offset, nextSequence: mark.sequence, lastHash: NO_HASH },
      { chained: false, firstLink: mark.link, sealing: journal.sealing },
    );
    // A resume inside a commit not read yet still skips what was delivered of it: the records
    // compaction drops (index pages) come after a commit's changes, so the count holds.
    this.delivered = { mark, skipRecords: this.skipRecords };
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.unsubscribe();
    this.unfollow();
    this.unpin();
  }

  private finish(): void {
    if (this.stopped) return;
    this.stop();
    this.subscriber.complete();
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    this.stop();
    this.subscriber.error(error);
  }

  private schedule(): void {
    if (this.stopped || this.scheduled !== undefined) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      try {
        this.pump();
      } catch (error) {
        this.fail(error);
      }
    });
  }

  /** Delivers one batch; schedules the next turn when there is more. */
  private pump(): void {
    if (this.stopped || !this.host.isOpen()) return;
    const journal = this.host.journal();
    const head = journal.writer.committedTail.endOffset;
    const from = this.cursor.position.endOffset;
    if (this.live && head - from > this.maxLagBytes) {
      throw new CartridgeError(
        'SUBSCRIBER_OVERFLOW',
        `the subscriber is ${head - from} bytes behind the head (limit ${this.maxLagBytes})`,
        { token: this.tokenOf(this.delivered) },
      );
    }
    let delivered = 0;
    for (const commit of this.cursor.commits(head)) {
      delivered += this.deliver(commit);
      if (this.stopped) return;
      if (delivered >= EVENTS_PER_TURN || this.cursor.position.endOffset - from >= BYTES_PER_TURN) {
        this.schedule();
        return;
      }
    }
    const stop = this.cursor.stop;
    if (stop !== undefined && stop.reason !== null && stop.offset < head) {
      // Inside the committed journal, a record that does not continue the chain: the history
      // the stream started from is not this journal's (a stale token) or it is damaged.
      if (stop.offset === from) throw unavailable(`does not continue the journal: ${stop.reason}`);
      throw journalCorrupt(stop.offset, stop.reason);
    }
    if (!this.live) {
      this.live = true;
      this.emitCaughtUp(journal);
    }
  }

  private tokenOf(point: ResumePoint): string {
    return encodeToken(this.cartridgeId, point.mark, point.skipRecords);
  }

  private deliver(commit: Commit): number {
    const first = commit.records[0] as JournalRecord;
    const mark = { offset: first.offset, sequence: first.sequence, link: commit.firstLink };
    const skip = this.skipRecords;
    this.skipRecords = 0;
    let atMs = 0;
    for (const record of commit.records) {
      const time = commitTimeOf(record.event);
      if (time !== undefined) {
        atMs = time;
        break;
      }
    }
    let delivered = 0;
    commit.records.forEach((record, index) => {
      if (index < skip || this.stopped) return;
      const event = changeOf(record, atMs, () => encodeToken(this.cartridgeId, mark, index + 1));
      if (event === undefined || !this.matches(event)) return;
      delivered++;
      this.subscriber.next(event);
    });
    this.delivered = { mark, skipRecords: commit.records.length };
    return delivered;
  }

  private emitCaughtUp(journal: OpenedJournal): void {
    const tail = this.cursor.position;
    const atMs = journal.timeline.lastCommitAtMs;
    this.subscriber.next({
      type: 'caught-up',
      path: null,
      position: positionAfter(tail),
      offset: tail.endOffset,
      sequence: tail.nextSequence,
      time: new Date(atMs),
      atMs,
      token: this.tokenOf(this.delivered),
    });
  }
}

export function changeStream(host: StreamHost, options: ChangesOptions): Observable<ChangeEvent> {
  if (typeof options !== 'object' || options === null) {
    throw new CartridgeError('INVALID_ARGUMENT', 'changes options must be an object');
  }
  const filter = matcherOf(options.filter);
  // A move names two paths; the subscriber sees it only if it may read both.
  const matches = (event: ChangeEvent): boolean =>
    host.mayRead(event.path) &&
    (event.from === undefined || host.mayRead(event.from)) &&
    filter(event);
  const maxLagBytes = maxLagOf(options.maxLagBytes);
  return new Observable<ChangeEvent>((subscriber) => {
    if (!host.isOpen()) {
      subscriber.error(new CartridgeError('CARTRIDGE_CLOSED', 'the cartridge is closed'));
      return undefined;
    }
    let subscription: Subscription;
    try {
      // The start is fixed at subscribe time: `'now'` means the head when subscribed.
      const start = startPointOf(host.journal(), options.from);
      subscription = new Subscription(host, subscriber, start, matches, maxLagBytes);
    } catch (error) {
      subscriber.error(error);
      return undefined;
    }
    return () => subscription.stop();
  });
}
