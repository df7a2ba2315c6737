import { applyToModel, digestOfModel, type ModelState, type Operation } from './model.js';

/**
 * The crash oracle (after RocksDB's expected-state verifier): it folds the issued operations
 * and remembers which were acknowledged as durable. After a crash the reopened state must equal
 * the fold of some prefix of the issued operations that contains every durable one.
 */
export class Oracle {
  private state: ModelState = new Map();
  /** Digest of the model after 0, 1, 2, ... acknowledged operations. */
  private readonly digests: string[] = [digestOfModel(new Map())];
  private inFlightDigest: string | undefined;
  private durableCount = 0;
  private createdValue = false;

  /** The cartridge was created (a created cartridge is always durable). */
  created(): void {
    this.createdValue = true;
  }

  get createAcknowledged(): boolean {
    return this.createdValue;
  }

  get acknowledgedCount(): number {
    return this.digests.length - 1;
  }

  get durableAcknowledged(): number {
    return this.durableCount;
  }

  /** An operation is about to run; if it never returns, its effect may or may not be there. */
  issue(operation: Operation): void {
    this.inFlightDigest = digestOfModel(applyToModel(this.state, operation));
  }

  /** The operation returned; `durable` says whether everything so far is now durable. */
  acknowledge(operation: Operation, durable: boolean): void {
    this.state = applyToModel(this.state, operation);
    this.digests.push(digestOfModel(this.state));
    this.inFlightDigest = undefined;
    if (durable) this.durableCount = this.digests.length - 1;
  }

  /** Everything acknowledged so far became durable (a flush or close returned). */
  allDurable(): void {
    this.durableCount = this.digests.length - 1;
  }

  get model(): ModelState {
    return this.state;
  }

  /**
   * Which prefix the observed state equals, or a verdict: `lost` when it equals a prefix
   * shorter than the durable one, `none` when it equals no prefix at all.
   */
  judge(observed: ModelState): { verdict: 'ok'; prefix: number } | { verdict: 'lost' | 'none' } {
    const digest = digestOfModel(observed);
    if (digest === this.inFlightDigest) return { verdict: 'ok', prefix: this.digests.length };
    for (let prefix = this.digests.length - 1; prefix >= 0; prefix--) {
      if (this.digests[prefix] !== digest) continue;
      return prefix >= this.durableCount ? { verdict: 'ok', prefix } : { verdict: 'lost' };
    }
    return { verdict: 'none' };
  }
}
