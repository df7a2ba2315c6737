import { assert } from '../assert.js';

/**
 * Projections are folds that mutate their own state in place (copying a catalog of 100 000
 * entries per record would be absurd). To roll back an aborted transaction they record, while
 * a transaction is open, how to restore what each record changed. `mark()` is a savepoint;
 * `rollbackTo()` undoes in reverse order back to it.
 */
export class UndoLog {
  private readonly steps: (() => void)[] = [];
  private active = false;
  private rollbackCountValue = 0;

  /**
   * How many rollbacks have undone anything: a reader that remembers answers (the paged tree's
   * recent lookups) knows they may be stale once this moves, as undo steps change state without
   * going through the projections' own mutators.
   */
  get rollbackCount(): number {
    return this.rollbackCountValue;
  }

  get recording(): boolean {
    return this.active;
  }

  begin(): void {
    assert(!this.active, 'undo log already recording');
    assert(this.steps.length === 0, 'undo log not cleared');
    this.active = true;
  }

  /** Records how to undo one change; ignored when no transaction is open. */
  push(undo: () => void): void {
    if (this.active) this.steps.push(undo);
  }

  mark(): number {
    return this.steps.length;
  }

  rollbackTo(mark: number): void {
    assert(mark >= 0 && mark <= this.steps.length, 'undo mark out of range');
    if (this.steps.length > mark) this.rollbackCountValue++;
    while (this.steps.length > mark) (this.steps.pop() as () => void)();
  }

  /** Ends the transaction, keeping (commit) or undoing (abort) its changes. */
  end(keep: boolean): void {
    if (!keep) this.rollbackTo(0);
    this.steps.length = 0;
    this.active = false;
  }
}
