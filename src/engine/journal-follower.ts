import { JournalCursor } from '../journal/journal-cursor.js';
import { applyRecord, projectionsAt } from '../projections/projection-set.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * A read-only handle following a journal another process writes: reading the commits that
 * appeared since, and polling for them while change streams run.
 */

/** How often a read-only handle with open change streams looks for another process's commits. */
export const FOLLOW_INTERVAL_MS = 100;

export interface FollowResult {
  /** The journal to use from now on: the same, or restarted from a newer checkpoint root. */
  readonly journal: OpenedJournal;
  readonly advanced: boolean;
}

/**
 * Applies the complete commits written after the handle's head and moves its head to them.
 * When it passes a checkpoint root, the state is exactly the root's, so the handle restarts
 * from the root and drops the overlay it had replayed (which would otherwise grow for as long
 * as it follows). A torn or unfinished commit at the end is the writer at work: it is read
 * next time.
 */
export function followCommits(journal: OpenedJournal): FollowResult {
  let current = journal;
  const { file, writer } = journal;
  const cursor = new JournalCursor(file, writer.committedTail, { sealing: journal.sealing });
  let advanced = false;
  for (const commit of cursor.commits(file.sizeBytes())) {
    for (const record of commit.records) {
      applyRecord(current, record);
      const root = current.timeline.lastRoot;
      if (record.event.type === 'checkpoint' && root?.offset === record.offset) {
        const { capacityBlocks } = current.headerKeeper.header;
        const sections = record.event.sections;
        current = {
          ...current,
          ...projectionsAt(current.pages, capacityBlocks, sections, root, record),
        };
      }
    }
    writer.adoptTail(commit.tail);
    advanced = true;
  }
  return { journal: current, advanced };
}

/** Runs `poll` every FOLLOW_INTERVAL_MS while at least one follower wants it. */
export class FollowTimer {
  private followerCount = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly poll: () => void) {}

  /** Adds a follower; returns how to remove it (once). */
  start(): () => void {
    this.followerCount++;
    this.timer ??= setInterval(this.poll, FOLLOW_INTERVAL_MS);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.followerCount--;
      if (this.followerCount === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
