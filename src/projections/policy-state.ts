import { journalCorrupt } from '../errors.js';
import { loadPolicy } from '../iam/policy.js';
import type { JournalRecord } from '../journal/journal-event.js';
import type { PagedTree } from './index/paged-tree.js';
import type { Projection } from './projection.js';
import type { UndoLog } from './undo-log.js';

/**
 * The access policy in force, as a journal fold: `policy.set` records put its canonical JSON
 * under the index key `P` (or remove it), so the policy survives reopen and is on the
 * timeline (a checkout has the policy of its time). `version` changes with every policy
 * record applied or undone, so the engine knows when to drop its compiled policy and its
 * cache of decisions.
 */

const POLICY_KEY = 'P';

function loads(json: string): boolean {
  try {
    loadPolicy(json);
    return true;
  } catch {
    return false;
  }
}

export class PolicyState implements Projection {
  readonly name = 'policy';
  private versionValue = 0;

  constructor(
    private readonly tree: PagedTree,
    private readonly undo: UndoLog,
  ) {}

  get version(): number {
    return this.versionValue;
  }

  /** The policy's canonical JSON, or null when there is none (everything is allowed). */
  policyJson(): string | null {
    const bytes = this.tree.get(POLICY_KEY);
    return bytes === undefined ? null : bytes.toString('utf8');
  }

  evolve(record: JournalRecord): void {
    const event = record.event;
    if (event.type !== 'policy.set') return;
    // The engine stores only policies that load; one that does not is a forged record, and
    // folding it would make every later operation fail with the caller's error code.
    if (event.policy !== null && !loads(event.policy)) {
      throw journalCorrupt(record.offset, 'a policy record holds a policy that does not load');
    }
    if (event.policy === null) this.tree.delete(POLICY_KEY);
    else this.tree.set(POLICY_KEY, Buffer.from(event.policy, 'utf8'));
    const before = this.versionValue;
    this.versionValue = before + 1;
    this.undo.push(() => {
      // The version moves on even when undone: a compiled policy made in between is stale.
      this.versionValue = before + 2;
    });
  }
}
