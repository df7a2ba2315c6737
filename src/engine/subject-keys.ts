import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { CartridgeError, journalCorrupt } from '../errors.js';
import { type JournalEvent, type JournalRecord, RecordType } from '../journal/journal-event.js';
import { blobOf, erasedError, readRecordAt } from '../journal/journal-reader.js';
import { ENCRYPTION_KEY_BYTES } from '../journal/keyring.js';
import type { SubjectKeyRecord } from '../projections/erasure-index.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * Crypto-shredding: the content of each subject sealed with a data key of its own, so that
 * destroying that key erases every version of the subject's content at once, in this file and
 * in any copy made afterwards, without rewriting the content.
 *
 * - A **subject** is a path: the first component below the subject root (`subjectRoot`, `/` by
 *   default). With the root `/calls`, `/calls/jane/2026/a.wav` belongs to `/calls/jane`; `/calls`
 *   itself and paths outside it belong to none. Once a subject has a key, everything under its
 *   path belongs to it whatever the root of later opens, and a new subject may not contain or
 *   lie inside another (`INVALID_ARGUMENT`): a path belongs to one subject at most.
 * - A subject's **data key** is 32 random bytes, the blob of a `subject.key` record, which is
 *   sealed like every blob with the cartridge key: the data key is wrapped by it, and rotating
 *   the cartridge key keeps it readable through the keyring.
 * - Which key sealed a content blob follows from the journal alone: the subject's latest key
 *   record before the content record (the writer stages the key record before the content it
 *   seals, and always uses the latest key); content before the first key record of its
 *   subject is sealed with the cartridge key as usual. Bodies (paths, sizes, extents) stay
 *   under the cartridge key: replay, the catalog and history need them.
 * - **Shredding** erases the blob of every key record of the subject (`erasure.ts`, kind
 *   `shredded`). Reading the subject's content sealed with those keys is then `SHREDDED`;
 *   writing to the subject again makes a new key.
 */

/** The subject `path` belongs to under `root`, by the rule alone; undefined for none. */
export function subjectPathOf(path: string, root: string): string | undefined {
  const prefix = root === '/' ? '/' : `${root}/`;
  if (!path.startsWith(prefix) || path.length === prefix.length) return undefined;
  const end = path.indexOf('/', prefix.length);
  return end === -1 ? path : path.slice(0, end);
}

/** What the subject keys need of the handle. */
export interface SubjectKeysHost {
  journal(): OpenedJournal;
  /** Where new subjects get keys; undefined when per-subject keys are off. */
  readonly subjectRoot: string | undefined;
  /** Stages one record with a blob inside the open transaction, and applies it. */
  append(event: JournalEvent, blob: Uint8Array): JournalRecord;
  commitTimeMs(): number;
}

export class SubjectKeys {
  /** Data keys of committed key records, by the record's offset. */
  private readonly dataKeys = new Map<number, KeyObject>();

  constructor(private readonly host: SubjectKeysHost) {}

  /** The subject `path` belongs to: the one it already has, or the one the rule gives. */
  subjectOf(path: string): string | undefined {
    const known = this.host.journal().erasures.knownSubjectOf(path);
    if (known !== undefined) return known;
    const root = this.host.subjectRoot;
    return root === undefined ? undefined : subjectPathOf(path, root);
  }

  /**
   * The key to seal the content of `path` written now with, staging a new key record for its
   * subject first when it has none (or only shredded ones); undefined for the cartridge key.
   */
  keyForWrite(path: string): KeyObject | undefined {
    const journal = this.host.journal();
    if (journal.sealing === undefined) return undefined;
    const erasures = journal.erasures;
    let subject = erasures.knownSubjectOf(path);
    if (subject === undefined) {
      const root = this.host.subjectRoot;
      if (root === undefined) return undefined;
      subject = subjectPathOf(path, root);
      if (subject === undefined) return undefined;
      if (erasures.hasSubjectUnder(subject)) {
        throw new CartridgeError(
          'INVALID_ARGUMENT',
          `the subject ${subject} would contain another subject; check encryption.subjectRoot`,
          { path },
        );
      }
    }
    const keys = erasures.subjectKeys(subject);
    const latest = keys[keys.length - 1];
    if (latest !== undefined && erasures.lookup(latest.offset) === undefined) {
      return this.dataKeyOf(journal, latest);
    }
    const dataKey = randomBytes(ENCRYPTION_KEY_BYTES);
    this.host.append({ type: 'subject.key', subject, atMs: this.host.commitTimeMs() }, dataKey);
    return createSecretKey(dataKey);
  }

  /**
   * For reading the content of `path`: the key that sealed the blob of each content record,
   * by the record's offset (undefined: the cartridge key). A shredded key is `SHREDDED`.
   * Undefined when `path` belongs to no subject.
   */
  keysForRead(path: string): ((recordOffset: number) => KeyObject | undefined) | undefined {
    const journal = this.host.journal();
    if (journal.sealing === undefined || !journal.erasures.hasSubjects()) return undefined;
    const subject = journal.erasures.knownSubjectOf(path);
    if (subject === undefined) return undefined;
    const keys = journal.erasures.subjectKeys(subject);
    return (recordOffset) => {
      let sealedWith: SubjectKeyRecord | undefined;
      for (const key of keys) {
        if (key.offset < recordOffset) sealedWith = key;
        else break;
      }
      if (sealedWith === undefined) return undefined;
      if (journal.erasures.lookup(sealedWith.offset) !== undefined) {
        throw erasedError(recordOffset, 'shredded');
      }
      return this.dataKeyOf(journal, sealedWith);
    };
  }

  /** The data key a key record holds (staged in the open transaction, or committed). */
  private dataKeyOf(journal: OpenedJournal, record: SubjectKeyRecord): KeyObject {
    const staged = journal.writer.stagedBlob(record.offset);
    // A staged key is not cached: a rollback would leave its offset to another record.
    if (staged !== undefined) return createSecretKey(Buffer.from(staged));
    const cached = this.dataKeys.get(record.offset);
    if (cached !== undefined) return cached;
    const raw = readRecordAt(journal.file, record.offset, journal.erasures.lookup);
    if (raw.header.type !== RecordType.SubjectKey || raw.header.sequence !== record.sequence) {
      throw journalCorrupt(record.offset, 'a subject key names another record');
    }
    if (raw.erasure !== undefined) throw erasedError(record.offset, 'shredded');
    const bytes = blobOf(raw, journal.sealing);
    if (bytes.length !== ENCRYPTION_KEY_BYTES) {
      throw journalCorrupt(record.offset, 'a subject key is not 32 bytes');
    }
    const key = createSecretKey(bytes);
    bytes.fill(0);
    this.dataKeys.set(record.offset, key);
    return key;
  }

  /** Forgets every data key kept in memory (after a shred). */
  forgetKeys(): void {
    this.dataKeys.clear();
  }
}
