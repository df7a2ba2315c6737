import type { JournalRecord } from '../journal/journal-event.js';

/**
 * A projection is a deterministic fold of journal records into in-memory state. `evolve`
 * does no I/O and depends on nothing but the state and the record, so replaying the same
 * journal always yields the same state.
 */
export interface Projection {
  readonly name: string;
  evolve(record: JournalRecord): void;
}
