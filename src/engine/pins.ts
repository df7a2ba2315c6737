import type { JournalTail } from '../journal/journal-writer.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * Moves a pin's holder into a compacted journal, given where each kept commit boundary of the
 * old journal now stands (see `compaction.ts`).
 */
export type Relocate = (
  journal: OpenedJournal,
  boundaries: ReadonlyMap<number, JournalTail>,
) => void;

interface Pin {
  readonly holder: WeakRef<object>;
  readonly offset: () => number;
  readonly relocate: Relocate | undefined;
}

/**
 * What the history a cartridge must keep: every open change stream pins the position its
 * cursor stands at, every checkout view the state it shows. Compaction (and anything else that
 * would drop history) asks for the oldest pin; named snapshots pin through the timeline.
 *
 * Views have no `close()`, so a pin is held through a weak reference to its holder: a view the
 * program no longer references stops pinning once it is collected, instead of pinning forever.
 */
export class PinSet {
  private readonly pins = new Set<Pin>();

  /**
   * Pins `offset()` (read when asked) while `holder` lives; returns how to unpin early. A
   * holder that can move to a compacted journal gives `relocate`; one that cannot (a view,
   * which goes on reading the file it was made from) stops pinning at a compaction.
   */
  pin(holder: object, offset: () => number, relocate?: Relocate): () => void {
    const entry: Pin = { holder: new WeakRef(holder), offset, relocate };
    this.pins.add(entry);
    return () => {
      this.pins.delete(entry);
    };
  }

  /** The oldest pinned offset, or null when nothing is pinned. */
  oldest(): number | null {
    let oldest: number | null = null;
    for (const entry of this.pins) {
      if (entry.holder.deref() === undefined) {
        this.pins.delete(entry);
        continue;
      }
      const offset = entry.offset();
      if (oldest === null || offset < oldest) oldest = offset;
    }
    return oldest;
  }

  /** Every pinned offset, oldest pins and others alike. */
  offsets(): number[] {
    const offsets: number[] = [];
    for (const entry of this.pins) {
      if (entry.holder.deref() !== undefined) offsets.push(entry.offset());
    }
    return offsets;
  }

  /** After a compaction: holders that can move do; the others no longer pin this journal. */
  relocate(journal: OpenedJournal, boundaries: ReadonlyMap<number, JournalTail>): void {
    for (const entry of [...this.pins]) {
      if (entry.relocate === undefined || entry.holder.deref() === undefined) {
        this.pins.delete(entry);
        continue;
      }
      entry.relocate(journal, boundaries);
    }
  }
}
