import { decodeEvent } from './event-codec.js';
import type { StorageFile } from './io/storage.js';
import type { JournalEvent, JournalRecord } from './journal-event.js';
import {
  chainHashOfRecord,
  type ErasureLookup,
  isAlwaysPlain,
  type KnownErasure,
  leafHashOfRaw,
  type RawRecord,
  RecordScanner,
  storedBlobHashOf,
  toJournalRecord,
} from './journal-reader.js';
import type { JournalTail } from './journal-writer.js';
import { isCommit, isSealed, linkOf, recordLengthOf } from './record-frame.js';
import { ErasureResolver } from './erasure-resolver.js';
import type { RecordSealing } from './record-sealing.js';
import { CartridgeError, journalCorrupt } from '../errors.js';

/**
 * The one way to read the journal in order: commit by commit, each record checked (header and
 * payload checksums, sequence, chain link, position in its commit) and the full chain hash
 * carried along. Open (with the recovery table), verify, and everything that replays history
 * (checkout, change streams, compaction, freeze) read through a cursor.
 *
 * `commits(to)` yields the complete commits up to an offset; a cursor remembers where it
 * stopped, so `follow` is the same cursor asked again later, as the journal grows.
 */

export interface Commit {
  readonly records: readonly JournalRecord[];
  /**
   * The chain state after the commit: where the next one starts. An unchained cursor does not
   * compute chain hashes: its `lastHash` is the one it started from, not the commit's.
   */
  readonly tail: JournalTail;
  /** The link (8 bytes of the previous record's chain hash) in the commit's first record. */
  readonly firstLink: Buffer;
}

/**
 * A record as stored, for checks that need no key (`storedCommits`): where it stands, its
 * Merkle leaf hash (over the stored bytes), and its event only if it is stored in the clear.
 */
export interface StoredRecord {
  readonly offset: number;
  readonly sequence: number;
  readonly type: number;
  readonly leafHash: Buffer;
  /** The decoded event of a record stored in the clear; null for a sealed one. */
  readonly event: JournalEvent | null;
}

export interface StoredCommit {
  readonly records: readonly StoredRecord[];
  readonly tail: JournalTail;
}

export interface CursorOptions {
  /**
   * False: check every record's checksums, sequence and place in its commit, but not the hash
   * chain (no BLAKE3 per record). For readers that deliver records rather than vouch for them
   * (change streams); `verify()` and open always check the chain.
   */
  readonly chained?: boolean;
  /** For an unchained cursor: the link the first record must carry (where a token resumes). */
  readonly firstLink?: Buffer;
  /**
   * Opens the records of an encrypted cartridge; undefined for a plain one. Required, so that
   * no reader of the journal can forget the key.
   */
  readonly sealing: RecordSealing | undefined;
  /**
   * The erasures the head knows (its index), for a cursor over a journal open for use; a
   * cursor reads ahead for the others (see `ErasureResolver`).
   */
  readonly erasures?: ErasureLookup;
}

/** Where and why a cursor stopped before the end it was given. */
export interface CursorStop {
  readonly offset: number;
  /** null when it reached the end; otherwise why the bytes there are not a record. */
  readonly reason: string | null;
  /** Records read after the last complete commit (a commit that never finished). */
  readonly pendingRecords: number;
}

export class JournalCursor {
  private committed: JournalTail;
  private stopValue: CursorStop | undefined;

  private readonly chained: boolean;
  private expectedFirstLink: Buffer | undefined;
  private readonly sealing: RecordSealing | undefined;
  private readonly erasures: ErasureResolver;

  constructor(
    private readonly file: StorageFile,
    from: JournalTail,
    options: CursorOptions,
  ) {
    this.committed = from;
    this.chained = options.chained ?? true;
    this.expectedFirstLink = options.firstLink;
    this.sealing = options.sealing;
    this.erasures = new ErasureResolver(file, options.erasures);
  }

  /** The erasures of the records read so far whose blobs are erased (see `ErasureResolver`). */
  get erasuresUsed(): readonly KnownErasure[] {
    return this.erasures.used;
  }

  /** The tail after the last complete commit read. */
  get position(): JournalTail {
    return this.committed;
  }

  /** Why the last `commits()` stopped, once it has. */
  get stop(): CursorStop | undefined {
    return this.stopValue;
  }

  /**
   * The complete commits from the cursor's position up to `toOffset` (exclusive), in order.
   * It stops at the end, or at the first bytes that are not a valid, in-sequence, chained
   * record; `stop` then says where and why. A record whose checksums hold but whose body does
   * not decode is corruption by a writer, not a torn write: it throws `JOURNAL_CORRUPT`.
   *
   * Sealed records are opened once their commit is complete, never before: the records of an
   * unfinished commit (a torn tail, say of a key rotation that crashed) may be sealed with a
   * key the caller does not have, and must be cut as the torn tail they are, not refused. A
   * complete commit that does not open throws (`KEY_REQUIRED`, `DECRYPTION_FAILED`): a wrong
   * key is never taken for damage, and nothing is cut because of it.
   */
  *commits(toOffset: number): Generator<Commit> {
    const scanner = new RecordScanner(
      this.file,
      this.committed.endOffset,
      toOffset,
      this.erasures.lookup,
    );
    let tail = this.committed;
    let pending: JournalRecord[] = [];
    const sealing = this.sealing;
    let sealedPending: { raw: RawRecord; leafHash: Buffer | undefined }[] = [];
    let firstLink: Buffer = EMPTY_LINK;
    for (;;) {
      const step = scanner.next();
      if (step.kind !== 'record') {
        const reason = step.kind === 'damage' ? step.reason : null;
        const pendingRecords = pending.length + sealedPending.length;
        this.stopValue = { offset: step.offset, reason, pendingRecords };
        return;
      }
      const raw = step.raw;
      const pendingCount = pending.length + sealedPending.length;
      const fault = this.continuityFault(raw, tail, pendingCount);
      if (fault !== undefined) {
        this.stopValue = { offset: raw.offset, reason: fault, pendingRecords: pendingCount };
        return;
      }
      this.expectedFirstLink = undefined;
      const indexInCommit = sealing === undefined ? pending.length : sealedPending.length;
      if (indexInCommit === 0) firstLink = raw.header.link;
      // A chained cursor feeds replay, which folds the Merkle log: the blob's hash serves the
      // chain and the leaf alike. An unchained one (a change stream) needs neither. Both are
      // over the stored bytes, so they are computed now, while the scanner's views are valid.
      const blobHash = this.chained ? storedBlobHashOf(raw) : undefined;
      const leafHash = blobHash === undefined ? undefined : leafHashOfRaw(raw, blobHash);
      tail = {
        endOffset: raw.offset + recordLengthOf(raw.header),
        nextSequence: raw.header.sequence + 1,
        lastHash:
          blobHash !== undefined ? chainHashOfRecord(tail.lastHash, raw, blobHash) : tail.lastHash,
      };
      // The scanner's views of a payload last until its next read; a sealed record waiting
      // for its commit keeps the body (a copy) and the header bytes, which are all it needs.
      if (sealing === undefined) pending.push(toJournalRecord(raw, undefined, leafHash));
      else sealedPending.push({ raw, leafHash });
      if (isCommit(raw.header)) {
        if (sealing !== undefined) {
          pending = sealedPending.map((sealed) =>
            toJournalRecord(sealed.raw, sealing, sealed.leafHash),
          );
          sealedPending = [];
        }
        const commit: Commit = { records: pending, tail, firstLink };
        pending = [];
        this.committed = tail;
        yield commit;
      }
    }
  }

  /**
   * The complete commits up to `toOffset`, checked exactly as `commits` checks them (checksums,
   * sequence, chain), but with no record opened: sealed records stay sealed, so no key is
   * needed. What the chain, the Merkle log and signed heads prove holds for stored bytes; this
   * is how an encrypted cartridge is verified without its key. Only signed heads, stored in
   * the clear in any cartridge, are decoded.
   */
  *storedCommits(toOffset: number): Generator<StoredCommit> {
    const scanner = new RecordScanner(
      this.file,
      this.committed.endOffset,
      toOffset,
      this.erasures.lookup,
    );
    let tail = this.committed;
    let pending: StoredRecord[] = [];
    for (;;) {
      const step = scanner.next();
      if (step.kind !== 'record') {
        const reason = step.kind === 'damage' ? step.reason : null;
        this.stopValue = { offset: step.offset, reason, pendingRecords: pending.length };
        return;
      }
      const raw = step.raw;
      const fault = this.continuityFault(raw, tail, pending.length);
      if (fault !== undefined) {
        this.stopValue = { offset: raw.offset, reason: fault, pendingRecords: pending.length };
        return;
      }
      const blobHash = storedBlobHashOf(raw);
      tail = {
        endOffset: raw.offset + recordLengthOf(raw.header),
        nextSequence: raw.header.sequence + 1,
        lastHash: chainHashOfRecord(tail.lastHash, raw, blobHash),
      };
      pending.push({
        offset: raw.offset,
        sequence: raw.header.sequence,
        type: raw.header.type,
        leafHash: leafHashOfRaw(raw, blobHash),
        event: storedEventOf(raw),
      });
      if (isCommit(raw.header)) {
        const commit: StoredCommit = { records: pending, tail };
        pending = [];
        this.committed = tail;
        yield commit;
      }
    }
  }

  private continuityFault(
    raw: RawRecord,
    tail: JournalTail,
    indexInCommit: number,
  ): string | undefined {
    const expectedSequence = tail.nextSequence;
    if (raw.header.sequence !== expectedSequence)
      return `sequence ${raw.header.sequence} where ${expectedSequence} was due`;
    const expectedLink = this.chained ? linkOf(tail.lastHash) : this.expectedFirstLink;
    if (expectedLink !== undefined && !raw.header.link.equals(expectedLink)) {
      return 'chain link does not match';
    }
    if (raw.header.commitIndex !== indexInCommit) return 'commit index out of order';
    return undefined;
  }

  /**
   * Follows a growing journal: each call yields the commits written since the last call (up
   * to `headOffset`, the writer's committed end), and remembers where it got to.
   */
  follow(headOffset: number): Generator<Commit> {
    return this.commits(headOffset);
  }
}

const EMPTY_LINK: Buffer = Buffer.alloc(0);

/**
 * The event of a signed head (never sealed), which is all a check without a key reads; every
 * other record's event is left unknown (null), sealed or not.
 */
function storedEventOf(raw: RawRecord): JournalEvent | null {
  if (isSealed(raw.header) || !isAlwaysPlain(raw.header.type)) return null;
  try {
    return decodeEvent(raw.header.type, raw.body);
  } catch (error) {
    if (error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT') {
      throw journalCorrupt(raw.offset, error.message);
    }
    throw error;
  }
}
