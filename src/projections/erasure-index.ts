import { journalCorrupt } from '../errors.js';
import type { ErasedBlob, ErasureKind, JournalRecord } from '../journal/journal-event.js';
import type { ErasureLookup, KnownErasure } from '../journal/journal-reader.js';
import { hexKey, isCount, numberAtKeyEnd, packValue, unpackValue } from './index/index-values.js';
import type { PagedTree } from './index/paged-tree.js';
import type { Projection } from './projection.js';
import type { UndoLog } from './undo-log.js';
import { CartridgeError } from '../errors.js';

/**
 * Erasures and subject keys, as a fold into the catalog's index (keys of its own prefixes):
 *
 * - `Z` + erased record's offset (12 hex digits) → `[sequence, storedBlobLength,
 *   bodyChecksum, blobHash, kind, erasureOffset]`: every blob a `content.erased` record names,
 *   so that a read of it is refused (`REDACTED`, `SHREDDED`) and a read of its record at
 *   random checks its body against the recorded checksum;
 * - `Q` + version record's offset → `[erasureOffset]`: a version a redaction named, whose
 *   reads are refused even where its bytes live on in a version kept;
 * - `W` + `content.erased` record's offset → `[count]`: an erasure whose overwrite has not been
 *   settled (no `erasure.settled` yet); a writable open finishes it;
 * - `K` + subject path + NUL + `subject.key` record's offset → `[sequence]`: the data keys of
 *   each subject, oldest first (a subject gets a new key when it is written to after a shred).
 *
 * The head's instance answers the engine's questions; a checkout's instance only folds.
 */

const ERASED_PREFIX = 'Z';
const VERSION_PREFIX = 'Q';
const PENDING_PREFIX = 'W';
const SUBJECT_PREFIX = 'K';
const KIND_CODES: readonly ErasureKind[] = ['redacted', 'shredded'];

/** The key range of one prefix letter. */
function prefixRange(prefix: string): [string, string] {
  return [prefix, String.fromCharCode(prefix.charCodeAt(0) + 1)];
}

/** A subject's data key record. */
export interface SubjectKeyRecord {
  readonly offset: number;
  readonly sequence: number;
}

function decodeErasure(offset: number, bytes: Buffer): KnownErasure {
  const value = unpackValue(bytes, 'erasure index', 6);
  const [sequence, storedBlobLength, bodyChecksum, blobHash, kindCode, erasureOffset] = value;
  const kind = KIND_CODES[kindCode as number];
  if (
    !isCount(sequence) ||
    !isCount(storedBlobLength) ||
    !isCount(bodyChecksum) ||
    !(blobHash instanceof Uint8Array) ||
    blobHash.length !== 32 ||
    kind === undefined ||
    !isCount(erasureOffset)
  ) {
    throw new CartridgeError('JOURNAL_CORRUPT', 'erasure index value malformed');
  }
  const erased: ErasedBlob = {
    recordOffset: offset,
    recordSequence: sequence,
    storedBlobLength,
    bodyChecksum,
    blobHash: Buffer.from(blobHash),
  };
  return { erased, kind, erasureOffset };
}

/**
 * How many keys of each kind the index holds: the fold's checkpoint section
 * `[erasedBlobCount, redactedVersionCount, pendingErasureCount, subjectKeyCount]`.
 */
export interface ErasureCounts {
  readonly erasedBlobCount: number;
  readonly redactedVersionCount: number;
  readonly pendingErasureCount: number;
  readonly subjectKeyCount: number;
}

/** The counts of an empty journal. */
export const NO_ERASURES: ErasureCounts = {
  erasedBlobCount: 0,
  redactedVersionCount: 0,
  pendingErasureCount: 0,
  subjectKeyCount: 0,
};

/** The counts of a checkpoint section (its fields were checked as counts when decoded). */
export function erasureCountsOf(section: readonly number[] | undefined): ErasureCounts | undefined {
  if (section === undefined) return undefined;
  const [erasedBlobCount, redactedVersionCount, pendingErasureCount, subjectKeyCount] = section as [
    number,
    number,
    number,
    number,
  ];
  return { erasedBlobCount, redactedVersionCount, pendingErasureCount, subjectKeyCount };
}

export class ErasureIndex implements Projection {
  readonly name = 'erasures';
  /** Whether any erasure / subject key is in the index; undefined until first asked. */
  private anyErasure: boolean | undefined;
  private anySubject: boolean | undefined;

  /**
   * `counts` are those of the checkpoint the fold starts from (none for an empty journal), or
   * undefined when that checkpoint predates the section: the questions are then answered by
   * walking the index until the next checkpoint counts them (see `countIfUnknown`).
   */
  constructor(
    private readonly tree: PagedTree,
    private readonly undo: UndoLog,
    private counts: ErasureCounts | undefined,
  ) {}

  /**
   * Counts the keys of each kind by walking the index, if the counts are not known (the fold
   * started from a root written before the section existed). The checkpointer calls it before
   * it flushes the index (the walk reads pages, which must all be on disk): a checkpoint is
   * off the read path, and every later open of the file answers without a walk.
   */
  countIfUnknown(): void {
    if (this.counts !== undefined) return;
    this.counts = {
      erasedBlobCount: this.keyCount(ERASED_PREFIX),
      redactedVersionCount: this.keyCount(VERSION_PREFIX),
      pendingErasureCount: this.keyCount(PENDING_PREFIX),
      subjectKeyCount: this.keyCount(SUBJECT_PREFIX),
    };
    // Counted inside a transaction, they hold for its changes: an abort forgets them.
    this.undo.push(() => {
      this.counts = undefined;
    });
  }

  /** The checkpoint section, or undefined while the counts are unknown. */
  get section(): number[] | undefined {
    const counts = this.counts;
    if (counts === undefined) return undefined;
    return [
      counts.erasedBlobCount,
      counts.redactedVersionCount,
      counts.pendingErasureCount,
      counts.subjectKeyCount,
    ];
  }

  private keyCount(prefix: string): number {
    let count = 0;
    this.tree.range(...prefixRange(prefix), () => {
      count++;
    });
    return count;
  }

  /** Adds to the counts (if known), recording how to take it back on an abort. */
  private count(
    erasedBlobs: number,
    redactedVersions: number,
    pendingErasures: number,
    subjectKeys: number,
  ): void {
    const before = this.counts;
    if (before === undefined) return;
    this.counts = {
      erasedBlobCount: before.erasedBlobCount + erasedBlobs,
      redactedVersionCount: before.redactedVersionCount + redactedVersions,
      pendingErasureCount: before.pendingErasureCount + pendingErasures,
      subjectKeyCount: before.subjectKeyCount + subjectKeys,
    };
    this.undo.push(() => {
      this.counts = before;
    });
  }

  evolve(record: JournalRecord): void {
    const event = record.event;
    switch (event.type) {
      case 'content.erased': {
        for (const erased of event.erasures) {
          const key = ERASED_PREFIX + hexKey(erased.recordOffset);
          // An erasure names records before it, each once: anything else is forged.
          if (erased.recordOffset >= record.offset || this.tree.get(key) !== undefined) {
            throw journalCorrupt(record.offset, 'an erasure names a record it cannot erase');
          }
          this.tree.set(
            key,
            packValue([
              erased.recordSequence,
              erased.storedBlobLength,
              erased.bodyChecksum,
              erased.blobHash,
              KIND_CODES.indexOf(event.kind),
              record.offset,
            ]),
          );
        }
        for (const versionOffset of event.versions) {
          const key = VERSION_PREFIX + hexKey(versionOffset);
          if (versionOffset >= record.offset || this.tree.get(key) !== undefined) {
            throw journalCorrupt(record.offset, 'an erasure names a version it cannot redact');
          }
          this.tree.set(key, packValue([record.offset]));
        }
        this.tree.set(PENDING_PREFIX + hexKey(record.offset), packValue([event.erasures.length]));
        this.count(event.erasures.length, event.versions.length, 1, 0);
        this.anyErasure = true;
        return;
      }
      case 'erasure.settled':
        if (!this.tree.delete(PENDING_PREFIX + hexKey(event.erasureOffset))) {
          throw journalCorrupt(record.offset, 'a settled erasure names no erasure under way');
        }
        this.count(0, 0, -1, 0);
        return;
      case 'subject.key':
        this.tree.set(
          `${SUBJECT_PREFIX}${event.subject}\u0000${hexKey(record.offset)}`,
          packValue([record.sequence]),
        );
        this.count(0, 0, 0, 1);
        this.anySubject = true;
        return;
      default:
        return;
    }
  }

  /** The erasure of the blob of the record at `offset`, if there is one. */
  readonly lookup: ErasureLookup = (offset) => {
    if (!this.hasErasures()) return undefined;
    const bytes = this.tree.get(ERASED_PREFIX + hexKey(offset));
    return bytes === undefined ? undefined : decodeErasure(offset, bytes);
  };

  /** Whether a redaction named the version whose record is at `versionOffset`. */
  isVersionRedacted(versionOffset: number): boolean {
    if (!this.hasErasures()) return false;
    return this.tree.get(VERSION_PREFIX + hexKey(versionOffset)) !== undefined;
  }

  hasErasures(): boolean {
    const counts = this.counts;
    if (counts !== undefined) return counts.erasedBlobCount + counts.redactedVersionCount > 0;
    if (this.anyErasure === undefined) {
      this.anyErasure =
        this.tree.last(...prefixRange(ERASED_PREFIX)) !== undefined ||
        this.tree.last(...prefixRange(VERSION_PREFIX)) !== undefined;
    }
    return this.anyErasure;
  }

  /** The offsets of the `content.erased` records whose overwrite is not settled. */
  pendingErasures(): number[] {
    const offsets: number[] = [];
    // Known counts answer the common case (nothing pending) without reading a page at open.
    if (this.counts !== undefined && this.counts.pendingErasureCount === 0) return offsets;
    this.tree.range(...prefixRange(PENDING_PREFIX), (key) => {
      offsets.push(numberAtKeyEnd(key));
    });
    return offsets;
  }

  hasSubjects(): boolean {
    if (this.counts !== undefined) return this.counts.subjectKeyCount > 0;
    if (this.anySubject === undefined) {
      this.anySubject = this.tree.last(...prefixRange(SUBJECT_PREFIX)) !== undefined;
    }
    return this.anySubject;
  }

  /** The data key records of `subject`, oldest first. */
  subjectKeys(subject: string): SubjectKeyRecord[] {
    const keys: SubjectKeyRecord[] = [];
    if (!this.hasSubjects()) return keys;
    const start = `${SUBJECT_PREFIX}${subject}\u0000`;
    const end = `${SUBJECT_PREFIX}${subject}\u0001`;
    this.tree.range(start, end, (key, value) => {
      const [sequence] = unpackValue(value, 'subject key index', 1);
      if (!isCount(sequence)) {
        throw new CartridgeError('JOURNAL_CORRUPT', 'subject key index value malformed');
      }
      keys.push({ offset: numberAtKeyEnd(key), sequence });
    });
    return keys;
  }

  /**
   * The subject holding `path`: the known subject that is `path` or one of its ancestors.
   * Subjects never nest (the writer refuses it), so there is at most one.
   */
  knownSubjectOf(path: string): string | undefined {
    if (!this.hasSubjects() || path === '/') return undefined;
    let end = path.indexOf('/', 1);
    for (;;) {
      const prefix = end === -1 ? path : path.slice(0, end);
      const start = `${SUBJECT_PREFIX}${prefix}\u0000`;
      if (this.tree.last(start, `${SUBJECT_PREFIX}${prefix}\u0001`) !== undefined) return prefix;
      if (end === -1) return undefined;
      end = path.indexOf('/', end + 1);
    }
  }

  /** Whether some known subject lies under `path` (a new subject there would nest). */
  hasSubjectUnder(path: string): boolean {
    if (!this.hasSubjects()) return false;
    const start = `${SUBJECT_PREFIX}${path}/`;
    return this.tree.last(start, `${SUBJECT_PREFIX}${path}0`) !== undefined;
  }
}
