import type { StorageFile } from './io/storage.js';
import type { JournalRecord } from './journal-event.js';
import {
  chainHashOfRecord,
  type RawRecord,
  RecordScanner,
  toJournalRecord,
} from './journal-reader.js';
import type { JournalTail } from './journal-writer.js';
import { isCommit, linkOf } from './record-frame.js';

/**
 * The one way to read the journal in order: commit by commit, each record checked (header and
 * payload checksums, sequence, chain link, position in its commit) and the full chain hash
 * carried along. Open (with the recovery table), verify, and everything that replays history
 * (checkout, change streams, compaction, freeze) read through a cursor.
 *
 * `commits(to)` yields the complete commits up to an offset; a cursor remembers where it
 * stopped, so `follow` is the same cursor asked again later, as the journal grows.
 */

export interface Commit {
  readonly records: readonly JournalRecord[];
  /** The chain state after the commit: where the next one starts. */
  readonly tail: JournalTail;
}

/** Where and why a cursor stopped before the end it was given. */
export interface CursorStop {
  readonly offset: number;
  /** null when it reached the end; otherwise why the bytes there are not a record. */
  readonly reason: string | null;
  /** Records read after the last complete commit (a commit that never finished). */
  readonly pendingRecords: number;
}

export class JournalCursor {
  private committed: JournalTail;
  private stopValue: CursorStop | undefined;

  constructor(
    private readonly file: StorageFile,
    from: JournalTail,
  ) {
    this.committed = from;
  }

  /** The tail after the last complete commit read. */
  get position(): JournalTail {
    return this.committed;
  }

  /** Why the last `commits()` stopped, once it has. */
  get stop(): CursorStop | undefined {
    return this.stopValue;
  }

  /**
   * The complete commits from the cursor's position up to `toOffset` (exclusive), in order.
   * It stops at the end, or at the first bytes that are not a valid, in-sequence, chained
   * record; `stop` then says where and why. A record whose checksums hold but whose body does
   * not decode is corruption by a writer, not a torn write: it throws `JOURNAL_CORRUPT`.
   */
  *commits(toOffset: number): Generator<Commit> {
    const scanner = new RecordScanner(this.file, this.committed.endOffset, toOffset);
    let tail = this.committed;
    let pending: JournalRecord[] = [];
    for (;;) {
      const step = scanner.next();
      if (step.kind !== 'record') {
        const reason = step.kind === 'damage' ? step.reason : null;
        this.stopValue = { offset: step.offset, reason, pendingRecords: pending.length };
        return;
      }
      const raw = step.raw;
      const fault = continuityFault(raw, tail, pending.length);
      if (fault !== undefined) {
        this.stopValue = { offset: raw.offset, reason: fault, pendingRecords: pending.length };
        return;
      }
      const record = toJournalRecord(raw);
      tail = {
        endOffset: raw.offset + record.lengthBytes,
        nextSequence: raw.header.sequence + 1,
        lastHash: chainHashOfRecord(tail.lastHash, raw),
      };
      pending.push(record);
      if (isCommit(raw.header)) {
        const commit: Commit = { records: pending, tail };
        pending = [];
        this.committed = tail;
        yield commit;
      }
    }
  }

  /**
   * Follows a growing journal: each call yields the commits written since the last call (up
   * to `headOffset`, the writer's committed end), and remembers where it got to.
   */
  follow(headOffset: number): Generator<Commit> {
    return this.commits(headOffset);
  }
}

function continuityFault(
  raw: RawRecord,
  tail: JournalTail,
  indexInCommit: number,
): string | undefined {
  const expectedSequence = tail.nextSequence;
  if (raw.header.sequence !== expectedSequence)
    return `sequence ${raw.header.sequence} where ${expectedSequence} was due`;
  if (!raw.header.link.equals(linkOf(tail.lastHash))) return 'chain link does not match';
  if (raw.header.commitIndex !== indexInCommit) return 'commit index out of order';
  return undefined;
}
