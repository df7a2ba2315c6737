import type { AuditAction, AuditEntry, JournalEvent } from '../journal/journal-event.js';
import { AUDIT_LANE_FLUSH_ENTRIES, AuditLane } from './audit-lane.js';
import { commitTimeAfter } from './commit-time.js';
import type { OpenedJournal } from './open-journal.js';
import type { ResolvedOptions } from './options.js';

/** What the audit trail needs of the handle whose accesses it records. */
export interface AuditTrailHost {
  readonly options: ResolvedOptions;
  /** The journal the handle reads and writes (replaced only by a read-only handle's refresh). */
  journal(): OpenedJournal;
  isClosed(): boolean;
  /** How many transactions are open: 0 outside one. */
  transactionDepth(): number;
  /** The time of the open transaction's commit. */
  commitTimeMs(): number;
  /** Stages a record into the commit being made. */
  append(event: JournalEvent): void;
  /** Commits a transaction that does nothing else: what the lane holds goes into it. */
  commitLane(): void;
  /** Keeps the failure of work the caller did not ask for, for `lastBackgroundError`. */
  failedInBackground(error: unknown): void;
}

/**
 * The audit trail of a handle: which accesses are audited, their times, and when the audit
 * lane (see `audit-lane.ts`) is written: inside the next commit, on its own once full, within
 * the sync interval after a first entry, and at flush and close.
 */
export class AuditTrail {
  readonly lane = new AuditLane();
  private timer: NodeJS.Timeout | undefined;
  private lastAccessAtMs = 0;

  constructor(private readonly host: AuditTrailHost) {}

  audits(action: AuditAction): boolean {
    const { options } = this.host;
    if (options.audit === 'off' || this.host.journal().readOnly || this.host.isClosed())
      return false;
    if (options.audit === 'all') return true;
    return action !== 'Read' && action !== 'List';
  }

  /** An access's time: the open transaction's, or now, never before the last one noted. */
  accessTimeMs(): number {
    if (this.host.transactionDepth() > 0) return this.host.commitTimeMs();
    this.lastAccessAtMs = commitTimeAfter(
      this.host.options.clock.now(),
      Math.max(this.lastAccessAtMs, this.host.journal().timeline.lastCommitAtMs),
    );
    return this.lastAccessAtMs;
  }

  /** After an entry is noted: a full lane is written now, a first one within the interval. */
  noted(): void {
    // Inside a transaction the commit writes the lane; but the transaction may roll back (a
    // denial inside `mutate` does), so the timer is armed there too: the entries still go out
    // within the interval.
    const inTransaction = this.host.transactionDepth() > 0;
    if (!inTransaction && this.lane.size >= AUDIT_LANE_FLUSH_ENTRIES) {
      this.flushQuietly();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (!this.host.isClosed()) this.flushQuietly();
    }, this.host.options.syncIntervalMs);
    this.timer.unref();
  }

  /** Stages the lane's entries into the commit being made; returns them (to put back). */
  stage(): AuditEntry[] {
    const taken: AuditEntry[] = [];
    while (this.lane.size > 0) {
      const entries = this.lane.take();
      taken.push(...entries);
      this.host.append({ type: 'audit.batch', entries });
    }
    return taken;
  }

  /** Writes what the lane holds as a commit of its own (a transaction doing nothing else). */
  flush(): void {
    if (this.lane.size === 0 || this.host.journal().readOnly || this.host.transactionDepth() > 0)
      return;
    this.stop();
    this.host.commitLane();
  }

  /** Cancels the timed flush (at close, or because a flush is happening now). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A lane flush the caller did not ask for: its failure is kept, the entries stay. */
  private flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      this.host.failedInBackground(error);
    }
  }
}
