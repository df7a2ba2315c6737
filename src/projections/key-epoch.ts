import type { JournalRecord } from '../journal/journal-event.js';

/**
 * Which key seals new records: a pure fold over the journal. It starts from the key id the
 * file header names (current when the header was written, after a sync) and follows every
 * `key.rotated` record replayed after that, so a rotation that reached the journal but not the
 * header (a crash between the two) still counts. It has no checkpoint section: every rotation
 * not yet in the header lies after the checkpoint the header names, in the replayed tail.
 */
export function keyIdAfter(keyId: string, record: JournalRecord): string {
  return record.event.type === 'key.rotated' ? record.event.keyId : keyId;
}
