import type { AuditEntry } from '../journal/journal-event.js';

/**
 * The audit lane: audit entries waiting to be written. It is apart from the transaction's
 * staged records, so a transaction that rolls back still leaves the record of the accesses it
 * attempted (marked `rolledBack`, without the change that never happened). Entries leave the
 * lane as one `audit.batch` record: inside the next commit (so the audit of a change is durable
 * with the change), or on their own when enough have gathered, when the sync deadline passes,
 * and at flush and close. Reads therefore cost no write each.
 */

/** Entries in one `audit.batch` record at most. */
export const AUDIT_BATCH_ENTRIES_MAX = 2048;
/**
 * Bytes of text (paths, actors, statement names) in one batch at most: with paths of up to
 * 4 KiB, a count alone would let a body outgrow its limit (BODY_MAX_BYTES, 1 MiB).
 */
export const AUDIT_BATCH_TEXT_MAX_BYTES = 512 * 1024;
/** What an entry costs in a body besides its text: its numbers and msgpack headers. */
const ENTRY_FIXED_BYTES = 48;

function textBytesOf(entry: AuditEntry): number {
  // UTF-16 units times three bounds the UTF-8 bytes without encoding every string.
  return (
    3 * (entry.path.length + entry.actor.length + (entry.sid?.length ?? 0)) + ENTRY_FIXED_BYTES
  );
}
/**
 * A lane holding this many entries writes them without waiting for the next commit: one batch
 * record, so each read pays a two-thousandth of a commit. (The sync interval bounds how long
 * a lane that fills slowly waits.)
 */
export const AUDIT_LANE_FLUSH_ENTRIES = AUDIT_BATCH_ENTRIES_MAX;

export class AuditLane {
  private entries: AuditEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  /** Notes an entry; returns its place in the lane (valid until the lane is next taken). */
  note(entry: AuditEntry): number {
    this.entries.push(entry);
    return this.entries.length - 1;
  }

  /**
   * Names the record of the change the entries at `indexes` made, once it is staged (the
   * appends of a transaction become their record only when the transaction settles them).
   */
  linkChange(indexes: readonly number[], changeOffset: number): void {
    for (const index of indexes) {
      const entry = this.entries[index];
      if (entry === undefined || !entry.allowed) continue;
      this.entries[index] = { ...entry, changeOffset };
    }
  }

  /** Where a transaction or savepoint began, to mark what it noted if it rolls back. */
  mark(): number {
    return this.entries.length;
  }

  /**
   * The operations noted since `mark` ran in work that rolled back: they stay in the lane (an
   * attempt is an access), but name no change.
   */
  rolledBackFrom(mark: number): void {
    for (let index = mark; index < this.entries.length; index++) {
      const entry = this.entries[index] as AuditEntry;
      // A denial changed nothing, so nothing of it was rolled back.
      if (!entry.allowed || entry.rolledBack) continue;
      this.entries[index] = { ...entry, changeOffset: null, rolledBack: true };
    }
  }

  /** Takes up to one batch of entries (bounded in count and in bytes), oldest first. */
  take(): AuditEntry[] {
    let count = 0;
    let sizeBytes = 0;
    while (count < this.entries.length && count < AUDIT_BATCH_ENTRIES_MAX) {
      const entryBytes = textBytesOf(this.entries[count] as AuditEntry);
      if (count > 0 && sizeBytes + entryBytes > AUDIT_BATCH_TEXT_MAX_BYTES) break;
      sizeBytes += entryBytes;
      count++;
    }
    const batch = this.entries.slice(0, count);
    this.entries = this.entries.slice(count);
    return batch;
  }

  /** Puts back entries whose record could not be written, in front of later ones. */
  restore(batch: readonly AuditEntry[]): void {
    this.entries = [...batch, ...this.entries];
  }
}
