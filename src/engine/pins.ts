/**
 * What the history a cartridge must keep: every open change stream pins the position its
 * cursor stands at, every checkout view the state it shows. Compaction (and anything else that
 * would drop history) asks for the oldest pin; named snapshots pin through the timeline.
 *
 * Views have no `close()`, so a pin is held through a weak reference to its holder: a view the
 * program no longer references stops pinning once it is collected, instead of pinning forever.
 */
export class PinSet {
  private readonly pins = new Set<{ holder: WeakRef<object>; offset: () => number }>();

  /** Pins `offset()` (read when asked) while `holder` lives; returns how to unpin early. */
  pin(holder: object, offset: () => number): () => void {
    const entry = { holder: new WeakRef(holder), offset };
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
}
