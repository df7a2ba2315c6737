/**
 * The commit bus: after each commit (and, in a read-only handle, after each refresh that found
 * new commits) the engine tells its listeners where the head now stands. Listeners read what
 * they need from the journal themselves (a change stream does, through its cursor), so the bus
 * carries no records and holds nothing: a listener that falls behind costs no memory.
 */
export type CommitListener = (headOffset: number) => void;

export class CommitBus {
  private readonly listeners = new Set<CommitListener>();
  private readonly closeListeners = new Set<() => void>();

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Registers a listener; returns how to remove it. */
  subscribe(listener: CommitListener, onClose: () => void): () => void {
    this.listeners.add(listener);
    this.closeListeners.add(onClose);
    return () => {
      this.listeners.delete(listener);
      this.closeListeners.delete(onClose);
    };
  }

  publish(headOffset: number): void {
    for (const listener of [...this.listeners]) listener(headOffset);
  }

  /** The cartridge closes: every listener hears it once, then the bus is empty. */
  close(): void {
    const closing = [...this.closeListeners];
    this.listeners.clear();
    this.closeListeners.clear();
    for (const onClose of closing) onClose();
  }
}
