import { SNAPSHOT_REPLAY_RECORDS_MAX } from '../limits.js';
import { type Position, positionAfter } from '../position.js';
import { checkpointDue } from './checkpoint-interval.js';
import { writeCheckpoint } from './checkpointer.js';
import { SyncDeadline } from './durability.js';
import type { OpenedJournal } from './open-journal.js';
import type { ResolvedOptions } from './options.js';

/**
 * On close, a checkpoint is written when at least this much journal follows the last one: the
 * next open then replays at most this much. A checkpoint costs only the index pages still
 * dirty, so the bound can be small.
 */
const CLOSE_CHECKPOINT_BYTES = 64 * 1024;

/** What the durability keeper needs of the handle whose commits it keeps. */
export interface DurabilityHost {
  readonly options: ResolvedOptions;
  /** The journal the handle writes (replaced only by a read-only handle's refresh). */
  journal(): OpenedJournal;
  /** The journal offset after the last commit. */
  head(): number;
  isClosed(): boolean;
  /** Keeps the failure of work the caller did not ask for, for `lastBackgroundError`. */
  failedInBackground(error: unknown): void;
}

/**
 * Syncs and checkpoints: the sync the durability mode promises after each commit (see
 * `SyncDeadline`), the header that names what is durable, and checkpoints, automatic (every
 * checkpoint interval of journal, see `CheckpointInterval`, or when many index pages are
 * dirty), at close and by hand.
 */
export class DurabilityKeeper {
  private readonly syncDeadline: SyncDeadline;
  private checkpointOffsetValue: number;
  /** Where the last checkpoint ended: the position of the record after its root. */
  private checkpointEnd: Position;
  /**
   * Where the interval to the next automatic checkpoint is counted from: the last checkpoint's
   * end, or the last failed automatic checkpoint (which backs off for a whole interval).
   */
  private intervalStart: Position;
  /** Whether the last automatic checkpoint failed (the dirty-page trigger then waits too). */
  private backingOff = false;

  constructor(private readonly host: DurabilityHost) {
    const journal = host.journal();
    this.syncDeadline = new SyncDeadline(host.options.syncIntervalMs);
    this.checkpointOffsetValue = journal.headerKeeper.header.checkpointOffset;
    this.checkpointEnd = journal.checkpointEnd;
    this.intervalStart = journal.checkpointEnd;
  }

  /** The offset of the last checkpoint's root. */
  get checkpointOffset(): number {
    return this.checkpointOffsetValue;
  }

  /** A read-only handle's refresh adopted a newer journal (and maybe a newer root). */
  adopted(journal: OpenedJournal): void {
    this.checkpointOffsetValue = journal.timeline.lastRoot?.offset ?? this.checkpointOffsetValue;
  }

  /** Compaction swapped in a new journal: its offsets start again, and its checkpoint is new. */
  compacted(journal: OpenedJournal): void {
    this.checkpointOffsetValue = journal.headerKeeper.header.checkpointOffset;
    this.checkpointEnd = journal.checkpointEnd;
    this.intervalStart = journal.checkpointEnd;
    this.backingOff = false;
  }

  /** After a commit: the sync the durability mode promises, and a checkpoint when one is due. */
  committed(): void {
    const { options } = this.host;
    if (options.durability === 'normal') {
      if (this.syncDeadline.committed()) this.syncQuietly();
      else
        this.syncDeadline.schedule(() => {
          if (!this.host.isClosed()) this.syncQuietly();
        });
    }
    const { catalog, writer } = this.host.journal();
    const dirtyPageCount = this.backingOff ? 0 : catalog.tree.dirtyCount;
    const now = positionAfter(writer.committedTail);
    if (checkpointDue(this.intervalStart, now, options, dirtyPageCount)) this.checkpointQuietly();
  }

  /**
   * Before a snapshot is taken (outside a transaction): a checkpoint when more than
   * SNAPSHOT_REPLAY_RECORDS_MAX records follow the last one, so that the snapshot's state is
   * rebuilt from a root a few records before it, not from one up to an interval before. A
   * failure is kept for `lastBackgroundError` (and backs off as an automatic one does): the
   * snapshot is taken all the same.
   */
  checkpointBeforeSnapshot(): void {
    const { writer } = this.host.journal();
    const records = writer.committedTail.nextSequence - this.checkpointEnd.sequence;
    if (records > SNAPSHOT_REPLAY_RECORDS_MAX && !this.backingOff) this.checkpointQuietly();
  }

  /** Whether close should write a checkpoint: much journal follows the last one. */
  get checkpointDueAtClose(): boolean {
    return this.host.head() - this.checkpointEnd.offset >= CLOSE_CHECKPOINT_BYTES;
  }

  /**
   * Writes the index pages changed since the last checkpoint and a root naming them (the
   * caller has checked that the handle may write and is outside a transaction).
   */
  checkpoint(): void {
    const journal = this.host.journal();
    const { writer, headerKeeper, pages } = journal;
    // As the public `checkpoint()` does: a poisoned cartridge cannot make a checkpoint durable.
    writer.throwIfPoisoned();
    const full = this.host.options.durability === 'full';
    const result = writeCheckpoint(journal, writer, pages, full);
    const head = this.host.head();
    this.checkpointOffsetValue = result.rootOffset;
    this.checkpointEnd = positionAfter(writer.committedTail);
    this.intervalStart = this.checkpointEnd;
    this.backingOff = false;
    // The header may only name records that are durable, so outside 'full' the new checkpoint
    // is published by the next sync (flush, close, the timer), never before it.
    if (full) {
      headerKeeper.update({ checkpointOffset: result.rootOffset, syncedLength: head });
      writer.sync();
    }
  }

  /** Makes every commit so far durable, and the header name them and the last checkpoint. */
  syncNow(): void {
    const { writer, headerKeeper } = this.host.journal();
    this.syncDeadline.cancel();
    writer.sync();
    this.syncDeadline.synced();
    const head = this.host.head();
    const header = headerKeeper.header;
    if (
      header.syncedLength !== head ||
      header.checkpointOffset !== this.checkpointOffsetValue ||
      headerKeeper.keyIdStale
    ) {
      headerKeeper.update({ syncedLength: head, checkpointOffset: this.checkpointOffsetValue });
      writer.sync();
    }
  }

  /** Cancels the timed sync (close syncs itself). */
  cancel(): void {
    this.syncDeadline.cancel();
  }

  /**
   * An automatic checkpoint after a successful commit must not turn that commit into a
   * reported failure. A failed one backs off for an interval instead of being retried (and
   * failing again, say on a full disk) on every commit.
   */
  private checkpointQuietly(): void {
    try {
      this.checkpoint();
    } catch (error) {
      this.host.failedInBackground(error);
      this.intervalStart = positionAfter(this.host.journal().writer.committedTail);
      this.backingOff = true;
    }
  }

  /**
   * A sync the caller did not ask for (the timer, a passed deadline). Its commit already
   * returned, so a failure is kept for `lastBackgroundError`; the failed fsync has poisoned the
   * cartridge, so the next write reports it.
   */
  private syncQuietly(): void {
    try {
      this.syncNow();
    } catch (error) {
      this.host.failedInBackground(error);
    }
  }
}
