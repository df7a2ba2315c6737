import type { KeyObject } from 'node:crypto';
import { assert } from '../assert.js';
import { CartridgeError } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { chainRootOf } from '../journal/hashing.js';
import type { FileHeader } from '../journal/file-header.js';
import type { StorageFile } from '../journal/io/storage.js';
import type { JournalEvent, JournalRecord } from '../journal/journal-event.js';
import type { JournalTail } from '../journal/journal-writer.js';
import { replay, type ReplayResult, replayStored } from '../journal/recovery.js';
import { MerkleAccumulator } from '../proof/merkle.js';
import {
  type ExportedHead,
  headSignatureValid,
  isSignedHead,
  type SignedHead,
} from '../proof/signed-head.js';
import { indexDigest } from '../projections/index/index-digest.js';
import type { PageSource } from '../projections/index/paged-tree.js';
import { applyRecord, freshProjections } from '../projections/projection-set.js';
import type {
  Assurance,
  CompactedFrom,
  VerifyFailureCode,
  VerifyProgress,
  VerifyReport,
} from './cartridge-types.js';
import type { OpenedJournal } from './open-journal.js';
import { publicKeyHex, signedHeadOfEvent } from './signing.js';

/**
 * Full verification: every record from the genesis to the head is read, its header checksum,
 * payload checksum, sequence and chain link checked, the full chain hash recomputed, and the
 * whole journal replayed into a fresh index that must equal the open one page for page (see
 * `indexDigest`). Open checks only the checkpoint root and the tail; this is the check that
 * covers everything before them.
 *
 * On top of the chain, two checks that need something the file cannot forge:
 *
 * - with a public key, every `head.signed` record by that key must carry a valid signature and
 *   name exactly the chain hash, Merkle root, sequence and offset recomputed at its place; the
 *   last one then vouches for every record before it ('signed');
 * - with an anchor (a head the caller kept), the journal must reach the anchor's sequence at a
 *   commit boundary with the same offset, chain hash and Merkle root ('anchored').
 *
 * The report's assurance is the level every requested check reached, never more: a failed or
 * impossible check leaves the level below it and makes the report not ok.
 *
 * The fresh index is built in memory (its pages are never written), so verification needs
 * memory in proportion to the catalog; that is the price of checking it independently.
 *
 * The chain hash and the Merkle leaves cover records as stored: in an encrypted cartridge, the
 * sealed bytes. So everything but the replay needs no key, and a closed encrypted file is
 * verified without one by `verifyStored`, whose report says the replay was not done
 * (`stateChecked: false`).
 */

export interface VerifyChecks {
  readonly publicKey: KeyObject | undefined;
  readonly anchor: ExportedHead | undefined;
  readonly onProgress?: ((progress: VerifyProgress) => void) | undefined;
}

/** Progress is told at most once per this many journal bytes (and once at the end). */
const PROGRESS_STEP_BYTES = 1024 * 1024;

/** Tells `onProgress` how far the walk has come, at most once per step. */
function progressTeller(
  checks: VerifyChecks,
  scope: VerifyScope,
): { at(offset: number): void; done(offset: number): void } {
  const { onProgress } = checks;
  let toldAt = 0;
  const tell = (offset: number) => {
    toldAt = offset;
    onProgress?.({ bytesChecked: offset, bytesTotal: scope.endOffset });
  };
  return {
    at: (offset) => {
      if (onProgress !== undefined && offset - toldAt >= PROGRESS_STEP_BYTES) tell(offset);
    },
    done: (offset) => {
      if (onProgress !== undefined) tell(offset);
    },
  };
}

/**
 * How much of the file is checked: up to `endOffset`, with the bytes before `syncedLength`
 * known durable (damage there is corruption; an unfinished commit past it is a torn write, not
 * counted). A handle checks up to its head; a closed file is checked to its end, so that a
 * damaged file is never verified as the prefix a read-only open would show.
 */
export interface VerifyScope {
  readonly endOffset: number;
  readonly syncedLength: number;
}

/** The fresh index never reads pages: all of it is built in memory. */
const NO_PAGES: PageSource = {
  load: () => {
    assert(false, 'a verification index has no pages on disk');
  },
};

/** What a signed head check reads of a record: where it stands, and its event if known. */
type CheckedRecord = Pick<JournalRecord, 'offset' | 'sequence'> & {
  readonly event: JournalEvent | null;
};

interface Failure {
  readonly code: VerifyFailureCode;
  readonly offset: number | null;
}

/** What the walk through the journal found about signed heads and the anchor. */
class HeadChecks {
  lastSigned: SignedHead | null = null;
  signedFailure: Failure | undefined;
  anchorFailure: Failure | undefined;
  anchorReached = false;
  compactedFrom: CompactedFrom | null = null;
  private readonly publicKeyHex: string | undefined;

  constructor(
    private readonly cartridgeId: Buffer,
    private readonly checks: VerifyChecks,
  ) {
    this.publicKeyHex = checks.publicKey === undefined ? undefined : publicKeyHex(checks.publicKey);
  }

  /**
   * Checks a commit's signed heads against the state before the commit (`root()` is the Merkle
   * root of the records folded so far), folding each record after its check.
   */
  commit<R extends CheckedRecord>(
    records: readonly R[],
    before: JournalTail,
    root: () => Buffer,
    fold: (record: R) => void,
  ): void {
    records.forEach((record, index) => {
      if (record.event?.type === 'head.signed') this.signed(root, record, index, before);
      if (record.event?.type === 'journal.compacted') this.compacted(record.event);
      fold(record);
    });
  }

  /**
   * The record naming the journal this one was rewritten from. An anchor kept of that journal's
   * head (its head when it was compacted) is reached here: this chain commits to it. An older
   * anchor of that journal cannot be checked against this one, and fails as a fork.
   */
  private compacted(event: Extract<JournalEvent, { type: 'journal.compacted' }>): void {
    const from: CompactedFrom = {
      offset: event.previousHeadOffset,
      sequence: event.previousHeadSequence,
      headHash: event.previousHeadHash.toString('hex'),
      merkleRoot: event.previousMerkleRoot.toString('hex'),
      horizonOffset: event.horizonOffset,
      horizonAt: new Date(event.atMs),
      recordsDropped: event.recordsDropped,
      compactedAt: new Date(event.compactedAtMs),
    };
    this.compactedFrom = from;
    const { anchor } = this.checks;
    if (anchor === undefined || this.anchorReached || this.anchorFailure !== undefined) return;
    if (
      anchor.sequence === from.sequence &&
      anchor.offset === from.offset &&
      anchor.headHash === from.headHash &&
      anchor.merkleRoot === from.merkleRoot
    ) {
      this.anchorReached = true;
    }
  }

  private signed(
    root: () => Buffer,
    record: CheckedRecord,
    indexInCommit: number,
    before: JournalTail,
  ): void {
    const { publicKey } = this.checks;
    if (record.event?.type !== 'head.signed' || publicKey === undefined) return;
    if (this.signedFailure !== undefined) return;
    const head = signedHeadOfEvent(this.cartridgeId, record.event);
    // Heads signed by other keys prove nothing to this caller; they are neither counted nor
    // failures (a key may have been rotated).
    if (head.publicKey !== this.publicKeyHex) return;
    if (!headSignatureValid(head, publicKey)) {
      this.signedFailure = { code: 'SIGNATURE_INVALID', offset: record.offset };
      return;
    }
    const matches =
      indexInCommit === 0 &&
      head.sequence === record.sequence &&
      head.offset === record.offset &&
      head.headHash === before.lastHash.toString('hex') &&
      head.merkleRoot === root().toString('hex');
    if (!matches) {
      this.signedFailure = { code: 'HEAD_MISMATCH', offset: record.offset };
      return;
    }
    this.lastSigned = head;
  }

  /** Compares the anchor with the head after a commit, when the commit reaches its sequence. */
  /**
   * After a commit: whether it is the anchored head. `merkleRoot` is asked for only then (a
   * root costs up to a block's worth of hashes; asking at every commit made verification a
   * dozen times slower).
   */
  afterCommit(tail: JournalTail, commitOffset: number, merkleRoot: () => Buffer): void {
    const { anchor } = this.checks;
    if (anchor === undefined || this.anchorReached || this.anchorFailure !== undefined) return;
    if (tail.nextSequence < anchor.sequence) return;
    const matches =
      tail.nextSequence === anchor.sequence &&
      tail.endOffset === anchor.offset &&
      tail.lastHash.toString('hex') === anchor.headHash &&
      merkleRoot().toString('hex') === anchor.merkleRoot;
    if (matches) this.anchorReached = true;
    else this.anchorFailure = { code: 'FORK_DETECTED', offset: commitOffset };
  }
}

export function verifyJournal(
  journal: OpenedJournal,
  scope: VerifyScope,
  checks: VerifyChecks = { publicKey: undefined, anchor: undefined },
): VerifyReport {
  const header = journal.headerKeeper.header;
  const projections = freshProjections(NO_PAGES, header.capacityBlocks);
  const heads = new HeadChecks(header.cartridgeId, checks);
  let before: JournalTail = {
    endOffset: JOURNAL_START_OFFSET,
    nextSequence: 0,
    lastHash: chainRootOf(header.cartridgeId),
  };
  const merkleRoot = (): Buffer => projections.merkle.root();
  const erasureRecords = new Set<number>();
  const progress = progressTeller(checks, scope);
  try {
    const result = replay({
      file: journal.file,
      startOffset: JOURNAL_START_OFFSET,
      startTail: before,
      fileSizeBytes: scope.endOffset,
      syncedLength: scope.syncedLength,
      sealing: journal.sealing,
      onCommit: (records, tail) => {
        heads.commit(records, before, merkleRoot, (record) => applyRecord(projections, record));
        heads.afterCommit(tail, before.endOffset, merkleRoot);
        noteErasureRecords(records, erasureRecords);
        before = tail;
        progress.at(tail.endOffset);
      },
    });
    progress.done(result.tail.endOffset);
    const unvouched = unvouchedErasure(result, erasureRecords);
    const clean = result.report.decision !== 'fail-corrupt' && unvouched === undefined;
    const stateMatches =
      clean &&
      indexDigest(projections.catalog.tree) === indexDigest(journal.catalog.tree) &&
      projections.allocator.usedBlocks === journal.allocator.usedBlocks &&
      projections.allocator.liveBytes === journal.allocator.liveBytes &&
      projections.catalog.entryCount === journal.catalog.entryCount;
    const chainFailure: Failure | undefined = stateMatches
      ? undefined
      : { code: 'JOURNAL_CORRUPT', offset: unvouched ?? result.report.damageOffset };
    return reportOf({
      chainFailure,
      erasedRecords: result.erasuresUsed.length,
      heads,
      checks,
      cartridgeId: header.cartridgeId.toString('hex'),
      tail: result.tail,
      merkleRoot: projections.merkle.root().toString('hex'),
      damageOffset: result.report.damageOffset,
      damageReason: result.report.damageReason,
      stateMatches,
      stateChecked: clean,
    });
  } catch (error) {
    // A sealed record whose tag fails was changed (the key opened the records before it): that
    // is damage to report, like a record that does not decode.
    const damage =
      error instanceof CartridgeError &&
      (error.code === 'JOURNAL_CORRUPT' || error.code === 'DECRYPTION_FAILED');
    if (!damage) throw error;
    return damagedReport(error);
  }
}

/**
 * The report of a journal whose damage stopped the check before any record could be counted:
 * a record that passes its checksums but does not decode, or a file that does not even open
 * at a valid prefix (its genesis record is damaged).
 */
export function damagedReport(error: CartridgeError): VerifyReport {
  return {
    ok: false,
    assurance: 'none',
    recordsChecked: 0,
    bytesChecked: 0,
    headHash: '',
    merkleRoot: '',
    code: 'JOURNAL_CORRUPT',
    firstBadOffset: error.offset ?? null,
    damageOffset: error.offset ?? null,
    damageReason: error.message,
    stateMatches: false,
    stateChecked: false,
    signedHead: null,
    erasedRecords: 0,
    compactedFrom: null,
  };
}

/** Collects the offsets of the `content.erased` records of a commit checked in order. */
function noteErasureRecords(
  records: readonly { readonly offset: number; readonly event: JournalEvent | null }[],
  into: Set<number>,
): void {
  for (const record of records) {
    if (record.event?.type === 'content.erased') into.add(record.offset);
  }
}

/**
 * The offset of the first erased blob the walk accepted on the word of a `content.erased`
 * record that the walk itself did not check in its place (one past the end verified, or none
 * at all): such a blob is missing, not erased. Undefined when every erasure is vouched for.
 */
function unvouchedErasure(result: ReplayResult, checked: ReadonlySet<number>): number | undefined {
  for (const erasure of result.erasuresUsed) {
    if (!checked.has(erasure.erasureOffset)) return erasure.erased.recordOffset;
  }
  return undefined;
}

/**
 * Verification of a closed encrypted cartridge without its key: every record's checksums,
 * sequence and chain link, the full chain hash, and the Merkle log, all over the stored
 * (sealed) bytes, and signed heads and the anchor against them, exactly as `verifyJournal`
 * checks them. What it cannot do without the key is replay the records into an index to
 * compare with the checkpoints' pages: the report says so (`stateChecked: false`), and its
 * assurance is what the chain, the Merkle log and the signatures prove of the stored bytes.
 * A record sealed with a key no one has can still be forged by no one: the tags are checked
 * whenever the key opens them, and the chain and signatures pin the bytes.
 */
export function verifyStored(
  file: StorageFile,
  header: FileHeader,
  scope: VerifyScope,
  checks: VerifyChecks,
): VerifyReport {
  const merkle = new MerkleAccumulator();
  const heads = new HeadChecks(header.cartridgeId, checks);
  let before: JournalTail = {
    endOffset: JOURNAL_START_OFFSET,
    nextSequence: 0,
    lastHash: chainRootOf(header.cartridgeId),
  };
  const root = (): Buffer => merkle.root();
  const erasureRecords = new Set<number>();
  const progress = progressTeller(checks, scope);
  try {
    const result = replayStored({
      file,
      startOffset: JOURNAL_START_OFFSET,
      startTail: before,
      fileSizeBytes: scope.endOffset,
      syncedLength: scope.syncedLength,
      onCommit: (records, tail) => {
        heads.commit(records, before, root, (record) => merkle.add(record.leafHash));
        heads.afterCommit(tail, before.endOffset, root);
        noteErasureRecords(records, erasureRecords);
        before = tail;
        progress.at(tail.endOffset);
      },
    });
    progress.done(result.tail.endOffset);
    const damaged = result.report.decision === 'fail-corrupt';
    const unvouched = unvouchedErasure(result, erasureRecords);
    return reportOf({
      erasedRecords: result.erasuresUsed.length,
      chainFailure:
        damaged || unvouched !== undefined
          ? { code: 'JOURNAL_CORRUPT', offset: unvouched ?? result.report.damageOffset }
          : undefined,
      heads,
      checks,
      cartridgeId: header.cartridgeId.toString('hex'),
      tail: result.tail,
      merkleRoot: root().toString('hex'),
      damageOffset: result.report.damageOffset,
      damageReason: result.report.damageReason,
      stateMatches: false,
      stateChecked: false,
    });
  } catch (error) {
    if (!(error instanceof CartridgeError) || error.code !== 'JOURNAL_CORRUPT') throw error;
    return damagedReport(error);
  }
}

interface ReportInput {
  readonly chainFailure: Failure | undefined;
  readonly erasedRecords: number;
  readonly heads: HeadChecks;
  readonly checks: VerifyChecks;
  readonly cartridgeId: string;
  readonly tail: JournalTail;
  readonly merkleRoot: string;
  readonly damageOffset: number | null;
  readonly damageReason: string | null;
  readonly stateMatches: boolean;
  readonly stateChecked: boolean;
}

/** The level reached, and the first failure that stopped it going higher. */
function levelOf(input: ReportInput): { assurance: Assurance; failure: Failure | undefined } {
  const { heads, checks } = input;
  if (input.chainFailure !== undefined) return { assurance: 'none', failure: input.chainFailure };
  let assurance: Assurance = 'chain';
  if (checks.publicKey !== undefined) {
    if (heads.signedFailure !== undefined) return { assurance, failure: heads.signedFailure };
    if (heads.lastSigned === null) {
      return { assurance, failure: { code: 'NOT_SIGNED', offset: null } };
    }
    assurance = 'signed';
  }
  if (checks.anchor !== undefined) {
    const failure = anchorFailure(input);
    if (failure !== undefined) return { assurance, failure };
    assurance = 'anchored';
  }
  return { assurance, failure: undefined };
}

function anchorFailure(input: ReportInput): Failure | undefined {
  const { heads, checks } = input;
  const anchor = checks.anchor as ExportedHead;
  if (anchor.cartridgeId !== input.cartridgeId) return { code: 'FORK_DETECTED', offset: null };
  if (isSignedHead(anchor) && checks.publicKey !== undefined) {
    if (!headSignatureValid(anchor, checks.publicKey)) {
      return { code: 'SIGNATURE_INVALID', offset: null };
    }
  }
  if (heads.anchorFailure !== undefined) return heads.anchorFailure;
  // The journal ends before the head the caller saw: cut, or replaced by an older copy.
  if (!heads.anchorReached) return { code: 'ROLLBACK_DETECTED', offset: input.tail.endOffset };
  return undefined;
}

function reportOf(input: ReportInput): VerifyReport {
  const { assurance, failure } = levelOf(input);
  const { tail } = input;
  return {
    ok: failure === undefined,
    assurance,
    recordsChecked: tail.nextSequence,
    bytesChecked: tail.endOffset - JOURNAL_START_OFFSET,
    headHash: tail.lastHash.toString('hex'),
    merkleRoot: input.merkleRoot,
    code: failure?.code ?? null,
    firstBadOffset: failure?.offset ?? null,
    damageOffset: input.damageOffset,
    damageReason: input.damageReason,
    stateMatches: input.stateMatches,
    stateChecked: input.stateChecked,
    signedHead: assurance === 'signed' || assurance === 'anchored' ? input.heads.lastSigned : null,
    erasedRecords: input.erasedRecords,
    compactedFrom: input.heads.compactedFrom,
  };
}
