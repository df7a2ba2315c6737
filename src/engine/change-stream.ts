import { Packr } from 'msgpackr';
import { Observable, type Subscriber } from 'rxjs';
import { CartridgeError, journalCorrupt } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { chainRootOf } from '../journal/hashing.js';
import { type Commit, JournalCursor } from '../journal/journal-cursor.js';
import type { JournalEvent, JournalRecord } from '../journal/journal-event.js';
import type { JournalTail } from '../journal/journal-writer.js';
import { type Position, positionOf } from '../position.js';
import { compileGlob, type PathMatcher } from '../path/glob.js';
import { commitTimeOf } from '../projections/timeline.js';
import type { CommitBus } from './commit-bus.js';
import { genesisStart, loadCheckpoint, type OpenedJournal } from './open-journal.js';

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
  | 'entry.deleted'
  | 'directory.created'
  | 'entry.restored'
  | 'snapshot.created'
  | 'snapshot.deleted'
  | 'restore.started'
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
const TOKEN_VERSION = 1;
const TOKEN_MAX_LENGTH = 512;

const packer = new Packr({ useRecords: false, mapsAsObjects: false });

/** What a stream needs of its cartridge. */
export interface StreamHost {
  readonly journal: () => OpenedJournal;
  readonly bus: CommitBus;
  readonly isOpen: () => boolean;
  /** A read-only handle polls the file for another process's commits while streams run. */
  readonly follow: () => () => void;
  /** Pins a position against compaction while the stream is open; returns how to unpin. */
  readonly pin: (holder: object, offset: () => number) => () => void;
}

interface StartPoint {
  readonly tail: JournalTail;
  /** Records of the first commit already delivered (a token names a record inside one). */
  readonly skipRecords: number;
}

// ---- tokens ---------------------------------------------------------------------------------

export function encodeToken(cartridgeId: Buffer, tail: JournalTail, skipRecords: number): string {
  const packed = packer.pack([
    TOKEN_VERSION,
    cartridgeId,
    tail.endOffset,
    tail.nextSequence,
    tail.lastHash,
    skipRecords,
  ]);
  return Buffer.from(packed).toString('base64url');
}

function unavailable(detail: string): CartridgeError {
  return new CartridgeError('HISTORY_UNAVAILABLE', `resume token ${detail}`);
}

function decodeToken(token: string, cartridgeId: Buffer): StartPoint {
  if (token.length > TOKEN_MAX_LENGTH) throw unavailable('is too long');
  let value: unknown;
  try {
    value = packer.unpack(Buffer.from(token, 'base64url'));
  } catch {
    throw unavailable('is not a token');
  }
  if (!Array.isArray(value) || value.length !== 6) throw unavailable('is not a token');
  const [version, id, endOffset, nextSequence, lastHash, skipRecords] = value as unknown[];
  const counts = [endOffset, nextSequence, skipRecords].every(
    (count) => typeof count === 'number' && Number.isSafeInteger(count) && count >= 0,
  );
  const valid =
    version === TOKEN_VERSION &&
    counts &&
    id instanceof Uint8Array &&
    lastHash instanceof Uint8Array &&
    lastHash.length === 32;
  if (!valid) throw unavailable('is not a token');
  if (!Buffer.from(id as Uint8Array).equals(cartridgeId)) {
    throw unavailable('belongs to another cartridge');
  }
  return {
    tail: {
      endOffset: endOffset as number,
      nextSequence: nextSequence as number,
      lastHash: Buffer.from(lastHash as Uint8Array),
    },
    skipRecords: skipRecords as number,
  };
}

// ---- where a stream starts ------------------------------------------------------------------

/** The chain state after every commit that `includes` accepts, from the nearest root. */
function tailAfter(
  journal: OpenedJournal,
  rootBefore: number,
  includes: (commit: Commit) => boolean,
): JournalTail {
  const header = journal.headerKeeper.header;
  const root = journal.timeline.rootAtOrBefore(rootBefore);
  let tail: JournalTail;
  if (root === undefined) {
    tail = genesisStart(journal.pages, header).tail;
  } else {
    const loaded = loadCheckpoint(journal.file, root.offset, journal.pages, header.capacityBlocks);
    if (typeof loaded === 'string') throw journalCorrupt(root.offset, loaded);
    tail = loaded.tail;
  }
  const cursor = new JournalCursor(journal.file, tail);
  for (const commit of cursor.commits(journal.writer.committedTail.endOffset)) {
    if (!includes(commit)) break;
    tail = commit.tail;
  }
  return tail;
}

function startPointOf(journal: OpenedJournal, from: ChangesOptions['from']): StartPoint {
  const head = journal.writer.committedTail;
  const cartridgeId = journal.headerKeeper.header.cartridgeId;
  if (from === undefined || from === 'now') return { tail: head, skipRecords: 0 };
  if (from === 'start') {
    return {
      tail: {
        endOffset: JOURNAL_START_OFFSET,
        nextSequence: 0,
        lastHash: chainRootOf(cartridgeId),
      },
      skipRecords: 0,
    };
  }
  if (typeof from === 'number') {
    if (!Number.isSafeInteger(from) || from < JOURNAL_START_OFFSET || from > head.endOffset) {
      throw new CartridgeError('INVALID_ARGUMENT', `from ${from} is not an offset in the journal`);
    }
    return {
      tail: tailAfter(journal, from - 1, (commit) => commit.tail.endOffset <= from),
      skipRecords: 0,
    };
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
    return { tail: tailAfter(journal, snapshot.offset, includes), skipRecords: 0 };
  }
  const start = decodeToken(from, cartridgeId);
  if (start.tail.endOffset > head.endOffset) throw unavailable('points past the head');
  return start;
}

// ---- events ---------------------------------------------------------------------------------

function changeOf(record: JournalRecord, atMs: number, token: string): ChangeEvent | undefined {
  const event: JournalEvent = record.event;
  const common = {
    position: positionOf(record.offset, record.sequence),
    offset: record.offset,
    sequence: record.sequence,
    time: new Date(atMs),
    atMs,
    token,
  };
  switch (event.type) {
    case 'file.created':
    case 'file.written':
    case 'file.appended':
      return { type: event.type, path: event.path, sizeBytes: event.sizeBytes, ...common };
    case 'entry.restored':
      return { type: event.type, path: event.path, sizeBytes: event.sizeBytes, ...common };
    case 'entry.deleted':
    case 'directory.created':
      return { type: event.type, path: event.path, ...common };
    case 'snapshot.created':
    case 'snapshot.deleted':
      return { type: event.type, path: null, name: event.name, ...common };
    case 'restore.started':
      return {
        type: event.type,
        path: null,
        name: event.snapshot ?? undefined,
        targetHead: event.targetHead,
        ...common,
      };
    default:
      return undefined;
  }
}

function matcherOf(filter: ChangeFilter | undefined): (event: ChangeEvent) => boolean {
  if (filter === undefined) return () => true;
  if (typeof filter === 'function') return filter;
  if (typeof filter === 'string') {
    const matches: PathMatcher = compileGlob(filter);
    return (event) => event.path !== null && matches(event.path);
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
  private readonly cursor: JournalCursor;
  private skipRecords: number;
  private scheduled: NodeJS.Immediate | undefined;
  private live = false;
  private stopped = false;
  private lastToken: string;
  private readonly unsubscribe: () => void;
  private readonly unfollow: () => void;
  private readonly unpin: () => void;
  private readonly cartridgeId: Buffer;
  /** The chain state before the next commit the cursor yields (what its events' tokens hold). */
  private tailBefore: JournalTail;

  constructor(
    private readonly host: StreamHost,
    private readonly subscriber: Subscriber<ChangeEvent>,
    start: StartPoint,
    private readonly matches: (event: ChangeEvent) => boolean,
    private readonly maxLagBytes: number,
  ) {
    const journal = host.journal();
    this.cartridgeId = journal.headerKeeper.header.cartridgeId;
    this.cursor = new JournalCursor(journal.file, start.tail);
    this.skipRecords = start.skipRecords;
    this.tailBefore = start.tail;
    this.lastToken = encodeToken(this.cartridgeId, start.tail, start.skipRecords);
    this.unsubscribe = host.bus.subscribe(
      () => this.schedule(),
      () => this.finish(),
      (error) => this.fail(error),
    );
    this.unfollow = host.follow();
    this.unpin = host.pin(this, () => this.cursor.position.endOffset);
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
        { token: this.lastToken },
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

  private deliver(commit: Commit): number {
    const before = this.tailBefore;
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
      const token = encodeToken(this.cartridgeId, before, index + 1);
      const event = changeOf(record, atMs, token);
      this.lastToken = token;
      if (event === undefined || !this.matches(event)) return;
      delivered++;
      this.subscriber.next(event);
    });
    this.tailBefore = commit.tail;
    this.lastToken = encodeToken(this.cartridgeId, commit.tail, 0);
    return delivered;
  }

  private emitCaughtUp(journal: OpenedJournal): void {
    const tail = this.cursor.position;
    const atMs = journal.timeline.lastCommitAtMs;
    this.subscriber.next({
      type: 'caught-up',
      path: null,
      position: positionOf(tail.endOffset, tail.nextSequence),
      offset: tail.endOffset,
      sequence: tail.nextSequence,
      time: new Date(atMs),
      atMs,
      token: this.lastToken,
    });
  }
}

export function changeStream(host: StreamHost, options: ChangesOptions): Observable<ChangeEvent> {
  if (typeof options !== 'object' || options === null) {
    throw new CartridgeError('INVALID_ARGUMENT', 'changes options must be an object');
  }
  const matches = matcherOf(options.filter);
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
