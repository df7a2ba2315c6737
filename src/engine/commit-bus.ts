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
  private readonly errorListeners = new Set<(error: unknown) => void>();

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Registers a listener; returns how to remove it. */
  subscribe(
    listener: CommitListener,
    onClose: () => void,
    onError: (error: unknown) => void,
  ): () => void {
    this.listeners.add(listener);
    this.closeListeners.add(onClose);
    this.errorListeners.add(onError);
    return () => {
      this.listeners.delete(listener);
      this.closeListeners.delete(onClose);
      this.errorListeners.delete(onError);
    };
  }

  /** Following the journal failed: every listener hears the error (and ends). */
  fail(error: unknown): void {
    for (const onError of [...this.errorListeners]) onError(error);
  }

  publish(headOffset: number): void {
    for (const listener of [...this.listeners]) listener(headOffset);
  }

  /** The cartridge closes: every listener hears it once, then the bus is empty. */
  close(): void {
    const closing = [...this.closeListeners];
    this.listeners.clear();
    this.closeListeners.clear();
    this.errorListeners.clear();
    for (const onClose of closing) onClose();
  }
}
