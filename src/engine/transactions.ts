import { limitExceeded } from '../errors.js';
import type { AuditEntry } from '../journal/journal-event.js';
import { TRANSACTION_DEPTH_MAX } from '../limits.js';
import type { FlushedPage } from '../projections/index/paged-tree.js';
import type { AuditTrail } from './audit-trail.js';
import { IndexTrickle } from './checkpointer.js';
import { commitTimeAfter } from './commit-time.js';
import type { OpenedJournal } from './open-journal.js';
import type { ResolvedOptions } from './options.js';
import { refuseAsyncBody, refuseThenableResult } from './synchronous-body.js';
import type { WritePath } from './write-path.js';

/** What transactions need of the handle they run in. */
export interface TransactionsHost {
  readonly options: ResolvedOptions;
  /** The journal the handle writes. */
  journal(): OpenedJournal;
  readonly writes: WritePath;
  readonly trail: AuditTrail;
  /** After a commit that wrote records: publish the head, sync and checkpoint as due. */
  committed(): void;
}

/**
 * The handle's transactions: one all-or-nothing commit per top-level call, savepoints for the
 * nested ones, and the one clock reading each commit takes.
 */
export class Transactions {
  private depthValue = 0;
  private commitTimeMsValue = 0;
  private readonly trickle = new IndexTrickle();

  constructor(private readonly host: TransactionsHost) {}

  /** How many transactions are open: 0 outside one, more than 1 inside a savepoint. */
  get depth(): number {
    return this.depthValue;
  }

  /** The time of the open transaction's commit: one clock reading per commit. */
  get commitTimeMs(): number {
    return this.commitTimeMsValue;
  }

  /**
   * Runs `body` as one all-or-nothing commit, or as a savepoint inside an open transaction
   * (the caller has checked that the handle may write).
   */
  run<T>(body: () => T): T {
    refuseAsyncBody(body);
    if (this.depthValue >= TRANSACTION_DEPTH_MAX) {
      throw limitExceeded('transaction depth', this.depthValue + 1, TRANSACTION_DEPTH_MAX);
    }
    if (this.depthValue > 0) return this.savepoint(body);
    const { options, writes, trail } = this.host;
    const journal = this.host.journal();
    const { undo, writer } = journal;
    undo.begin();
    const laneMark = trail.lane.mark();
    let auditTaken: AuditEntry[] = [];
    this.depthValue = 1;
    this.commitTimeMsValue = commitTimeAfter(options.clock.now(), journal.timeline.lastCommitAtMs);
    let result: T;
    let committed = false;
    let trickled: FlushedPage[] = [];
    try {
      result = body();
      refuseThenableResult(result);
      writes.settle();
      // The audit of what this transaction did (and of reads since the last commit) is part of
      // its commit: durable with it, in 'full' as in every mode.
      auditTaken = trail.stage();
      if (writer.stagedCount > 0) {
        const commitBytes = writer.nextOffset() - writer.committedTail.endOffset;
        trickled = this.trickle.pagesFor(journal, writer, commitBytes);
        const records = writer.stagedRecords;
        writer.commit(options.durability === 'full');
        // Sealed records' leaves are final once written: the Merkle log folds them again.
        journal.merkle.settle(records);
        committed = true;
      }
    } catch (error) {
      writes.discardBufferedAppends();
      writer.discardStaged();
      undo.end(false);
      trail.lane.restore(auditTaken);
      trail.lane.rolledBackFrom(laneMark);
      throw error;
    } finally {
      this.depthValue = 0;
    }
    undo.end(true);
    for (const page of trickled) journal.pages.remember(page.ref, page.node);
    // A transaction that mutates nothing writes nothing: no sync, no automatic checkpoint.
    if (committed) this.host.committed();
    return result;
  }

  private savepoint<T>(body: () => T): T {
    const { writes, trail } = this.host;
    const { undo, writer } = this.host.journal();
    // Buffered appends from before the savepoint must survive its rollback: stage them now.
    writes.settle();
    const undoMark = undo.mark();
    const stagedMark = writer.stagedCount;
    const laneMark = trail.lane.mark();
    this.depthValue++;
    try {
      const result = body();
      refuseThenableResult(result);
      return result;
    } catch (error) {
      writes.discardBufferedAppends();
      undo.rollbackTo(undoMark);
      writer.rollbackTo(stagedMark);
      trail.lane.rolledBackFrom(laneMark);
      throw error;
    } finally {
      this.depthValue--;
    }
  }
}
