import { assert } from '../assert.js';
import { journalCorrupt } from '../errors.js';
import type { Codec } from '../journal/compression.js';
import { type FileHeader, JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { chainRootOf } from '../journal/hashing.js';
import type { StorageFile } from '../journal/io/storage.js';
import { type Commit, JournalCursor } from '../journal/journal-cursor.js';
import {
  type AuditEntry,
  type Extent,
  type JournalEvent,
  MoveStep,
} from '../journal/journal-event.js';
import { readRecordAt, storedBlobOf } from '../journal/journal-reader.js';
import { type CompressedBlob, JournalWriter, type JournalTail } from '../journal/journal-writer.js';
import type { RecordSealing } from '../journal/record-sealing.js';
import { positionAfter, positionOf } from '../position.js';
import { type CheckpointInterval, checkpointDue } from './checkpoint-interval.js';
import { ROOT_PATH } from '../path/canonical-path.js';
import type { CatalogNode } from '../projections/catalog-entry.js';
import { applyRecord, freshProjections, type Projections } from '../projections/projection-set.js';
import { writeCheckpoint } from './checkpointer.js';
import { headerEncryptionOf } from './encryption.js';
import { HeaderKeeper } from './header-keeper.js';
import { IndexPageStore } from './index-page-store.js';
import { below } from './move-plan.js';
import type { OpenedJournal } from './open-journal.js';
import { restoreEvents, type RestoreStep } from './restore.js';

/**
 * The rewrite at the heart of compaction: a new journal holding the state at the horizon and
 * every commit after it, record for record, with the offsets inside bodies moved to where the
 * records now stand. Nothing is decided again: the kept records are the old events, folded by
 * the same projections, so the new index is what a replay of the new journal gives (verify
 * checks it page by page).
 *
 * The new journal, in order:
 * 1. the genesis (the same cartridge id and creation time, so the chain root is the same) and
 *    a `journal.compacted` record naming the old head (offset, record count, chain hash, Merkle
 *    root), in one commit: the new chain covers that body, so it commits to the old chain;
 * 2. the base: the content records the horizon's files (and later restores) point into, copied
 *    as `data` records, then one `entry.restored` record per entry at the horizon (the metadata
 *    and content of the entry exactly), and the horizon's policy;
 * 3. every commit after the horizon, translated (see `translate`); index pages, checkpoint
 *    roots, signed heads and key rotations are not carried over (new checkpoints are written;
 *    a signature cannot be made again without its key; every record is sealed with the
 *    current key);
 * 4. a checkpoint, so that open reads one root.
 *
 * Commit times are kept: the first two steps carry the horizon's commit time, so the new
 * journal's times never go back and date targets find the same commits.
 */

/** What the rewrite reads: the old journal, its head, and the state at the horizon. */
export interface RewriteSource {
  readonly journal: OpenedJournal;
  readonly headOffset: number;
  /** The chain state at the horizon: where the first kept commit starts. */
  readonly horizonTail: JournalTail;
  /** The state at the horizon (the fold of every commit before it). */
  readonly horizonState: Projections;
  /**
   * Commit boundaries of the old journal whose new place the caller needs (where open streams
   * stand). Only these, the horizon and the targets of kept restores are remembered, so the
   * rewrite's memory does not grow with the number of commits kept.
   */
  readonly boundariesWanted: ReadonlySet<number>;
}

/** Where the rewrite goes: an empty, locked file, and how to write it. */
export interface RewriteTarget extends CheckpointInterval {
  readonly file: StorageFile;
  readonly sealing: RecordSealing | undefined;
  readonly codec: Codec;
  readonly indexCacheBytes: number;
  readonly nowMs: number;
  /** Told, after each commit written, how many of the records to carry over are carried. */
  readonly onProgress: ((recordsDone: number, recordsTotal: number) => void) | undefined;
}

export interface RewriteResult {
  readonly header: FileHeader;
  /** Records of the old journal whose content or event the new one does not carry. */
  readonly recordsDropped: number;
  /** The boundaries wanted (and the horizon), and the chain state there in the new journal. */
  readonly boundaries: ReadonlyMap<number, JournalTail>;
}

/** Where a carried-over record now stands. */
interface MovedRecord {
  readonly offset: number;
  readonly sequence: number;
  readonly lengthBytes: number;
}

/** The base is committed in pieces of about this many bytes of copied content. */
const BASE_COMMIT_BYTES = 8 * 1024 * 1024;
/** ... or of this many content records, whichever comes first. */
const BASE_COMMIT_RECORDS = 4096;

/** Event types not carried over (see the file comment). */
const DROPPED_TYPES = new Set<JournalEvent['type']>([
  'genesis',
  'index.page',
  'checkpoint',
  'head.signed',
  'key.rotated',
  'journal.compacted',
]);

export function rewriteJournal(source: RewriteSource, target: RewriteTarget): RewriteResult {
  return new JournalRewrite(source, target).run();
}

class JournalRewrite {
  private readonly old: OpenedJournal;
  private readonly oldHeader: FileHeader;
  private readonly writer: JournalWriter;
  private readonly pages: IndexPageStore;
  private readonly projections: Projections;
  /** Old record offset → where its content or event now stands. */
  private readonly moved = new Map<number, MovedRecord>();
  /** Old `contentOffset` values of entries whose content record was not copied. */
  private readonly contentNames = new Map<number, number>();
  private readonly boundaries = new Map<number, JournalTail>();
  private readonly boundariesWanted: Set<number>;
  private lastCheckpointEnd = positionOf(JOURNAL_START_OFFSET, 0);
  private carried = 0;
  private carriedTotal = 0;

  constructor(
    private readonly source: RewriteSource,
    private readonly target: RewriteTarget,
  ) {
    this.old = source.journal;
    this.boundariesWanted = new Set(source.boundariesWanted);
    this.oldHeader = this.old.headerKeeper.header;
    const tail: JournalTail = {
      endOffset: JOURNAL_START_OFFSET,
      nextSequence: 0,
      lastHash: chainRootOf(this.oldHeader.cartridgeId),
    };
    this.writer = new JournalWriter(target.file, tail, target.codec, 0, target.sealing);
    this.pages = new IndexPageStore(target.file, target.indexCacheBytes, target.sealing);
    this.projections = freshProjections(this.pages, this.oldHeader.capacityBlocks);
  }

  run(): RewriteResult {
    const { horizonTail } = this.source;
    const scan = this.scanKeptCommits();
    const baseRecords = this.baseContentRecords(scan);
    const oldRecordCount = this.old.writer.committedTail.nextSequence;
    const keptCount = scan.keptRecords + baseRecords.length;
    this.carriedTotal = keptCount;
    const recordsDropped = oldRecordCount - keptCount;
    this.target.file.truncate(0);
    this.writeGenesis(recordsDropped);
    this.writeBase(baseRecords);
    this.boundaries.set(horizonTail.endOffset, this.writer.committedTail);
    this.copyKeptCommits();
    assert(this.carried === keptCount, 'every kept record was carried over');
    writeCheckpoint(this.projections, this.writer, this.pages, false);
    this.writer.sync();
    const tail = this.writer.committedTail;
    const header: FileHeader = {
      generation: 0,
      cartridgeId: this.oldHeader.cartridgeId,
      createdAtMs: this.oldHeader.createdAtMs,
      capacityBlocks: this.oldHeader.capacityBlocks,
      syncedLength: tail.endOffset,
      checkpointOffset: this.projections.timeline.lastRoot?.offset ?? 0,
      compressionCodec: this.oldHeader.compressionCodec,
      ...headerEncryptionOf(this.target.sealing),
      auditRetain: this.oldHeader.auditRetain,
    };
    new HeaderKeeper(this.target.file, header, this.target.sealing).writeBoth();
    this.writer.sync();
    return { header, recordsDropped, boundaries: this.boundaries };
  }

  // ---- the first pass: what the kept commits need from before the horizon -----------------

  /**
   * Reads the kept commits once without writing: how many of their records are carried over,
   * and which records before the horizon their restores point into (a restore refers to
   * content where it lies, which may be before the horizon).
   */
  private scanKeptCommits(): { keptRecords: number; referenced: Map<number, number> } {
    const horizon = this.source.horizonTail.endOffset;
    const referenced = new Map<number, number>();
    let keptRecords = 0;
    for (const commit of this.keptCommits()) {
      for (const record of commit.records) {
        if (DROPPED_TYPES.has(record.event.type)) continue;
        keptRecords++;
        if (record.event.type === 'restore.started') {
          this.boundariesWanted.add(record.event.targetHead);
        }
        if (record.event.type !== 'entry.restored') continue;
        for (const extent of record.event.extents) {
          if (extent.recordOffset < horizon) {
            referenced.set(extent.recordOffset, extent.recordSequence);
          }
        }
      }
    }
    return { keptRecords, referenced };
  }

  /** The commits after the horizon, read and checked through a cursor. */
  private *keptCommits(): Generator<Commit> {
    const cursor = new JournalCursor(this.old.file, this.source.horizonTail, {
      sealing: this.old.sealing,
    });
    yield* cursor.commits(this.source.headOffset);
    const stop = cursor.stop;
    if (stop !== undefined && stop.reason !== null) throw journalCorrupt(stop.offset, stop.reason);
  }

  /**
   * The content records the base needs, in journal order: every record an entry at the
   * horizon has an extent in, and those the kept restores point into.
   */
  private baseContentRecords(scan: {
    referenced: Map<number, number>;
  }): { offset: number; sequence: number }[] {
    const needed = new Map(scan.referenced);
    const { catalog } = this.source.horizonState;
    this.forEachEntry((_path, node) => {
      if (node.kind !== 'file') return;
      for (const extent of catalog.extentsOf(node)) {
        needed.set(extent.recordOffset, extent.recordSequence);
      }
    });
    return [...needed.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([offset, sequence]) => ({ offset, sequence }));
  }

  /** Every entry of the state at the horizon, parents before their children. */
  private forEachEntry(visit: (path: string, node: CatalogNode) => void): void {
    const { catalog } = this.source.horizonState;
    const pending = [ROOT_PATH];
    while (pending.length > 0) {
      const path = pending.pop() as string;
      const node = catalog.get(path);
      if (node === undefined) throw journalCorrupt(0, `no entry at ${path} in the index`);
      visit(path, node);
      if (node.kind !== 'directory') continue;
      const names = catalog.childrenOf(path);
      // Reversed onto the stack, so that children come out in name order.
      for (let index = names.length - 1; index >= 0; index--) {
        pending.push(path === ROOT_PATH ? `/${names[index]}` : `${path}/${names[index]}`);
      }
    }
  }

  // ---- writing ------------------------------------------------------------------------------

  private stage(event: JournalEvent, blob?: CompressedBlob): MovedRecord {
    const record = this.writer.stage(event, blob);
    applyRecord(this.projections, record);
    return record;
  }

  /** Commits what is staged, settles the Merkle leaves of sealed records, checkpoints. */
  private commit(): void {
    if (this.writer.stagedCount === 0) return;
    const records = this.writer.stagedRecords;
    this.writer.commit(false);
    this.projections.merkle.settle(records);
    this.target.onProgress?.(this.carried, this.carriedTotal);
    const now = positionAfter(this.writer.committedTail);
    const dirtyPageCount = this.projections.catalog.tree.dirtyCount;
    if (checkpointDue(this.lastCheckpointEnd, now, this.target, dirtyPageCount)) {
      writeCheckpoint(this.projections, this.writer, this.pages, false);
      this.lastCheckpointEnd = positionAfter(this.writer.committedTail);
    }
  }

  private writeGenesis(recordsDropped: number): void {
    const oldTail = this.old.writer.committedTail;
    const horizonAtMs = this.source.horizonState.timeline.lastCommitAtMs;
    this.stage({
      type: 'genesis',
      cartridgeId: this.oldHeader.cartridgeId.toString('hex'),
      createdAtMs: this.oldHeader.createdAtMs,
      capacityBlocks: this.oldHeader.capacityBlocks,
    });
    this.stage({
      type: 'journal.compacted',
      previousHeadOffset: oldTail.endOffset,
      previousHeadSequence: oldTail.nextSequence,
      previousHeadHash: oldTail.lastHash,
      previousMerkleRoot: this.old.merkle.root(),
      horizonOffset: this.source.horizonTail.endOffset,
      recordsDropped,
      atMs: horizonAtMs,
      compactedAtMs: Math.max(this.target.nowMs, horizonAtMs),
    });
    this.commit();
  }

  /** The content records, then the entries and the policy of the state at the horizon. */
  private writeBase(records: readonly { offset: number; sequence: number }[]): void {
    let stagedBytes = 0;
    for (const { offset, sequence } of records) {
      const raw = readRecordAt(this.old.file, offset);
      if (raw.header.sequence !== sequence) {
        throw journalCorrupt(offset, 'an extent names a record that is not there');
      }
      // Copied as stored (compressed, opened if sealed), not decoded and compressed again.
      const blob = storedBlobOf(raw, this.old.sealing);
      this.moved.set(offset, this.stage({ type: 'data' }, blob));
      this.carried++;
      stagedBytes += blob.stored.length;
      if (stagedBytes >= BASE_COMMIT_BYTES || this.writer.stagedCount >= BASE_COMMIT_RECORDS) {
        this.commit();
        stagedBytes = 0;
      }
    }
    this.commit();
    const { catalog, policy, timeline } = this.source.horizonState;
    const atMs = timeline.lastCommitAtMs;
    const steps: RestoreStep[] = [];
    this.forEachEntry((path, node) => {
      if (node.kind === 'directory') {
        steps.push({ kind: 'set', path, node, extents: [] });
        return;
      }
      const extents = catalog.extentsOf(node).map((extent) => this.movedExtent(extent));
      steps.push({ kind: 'set', path, node, extents });
    });
    // The entries, the policy and the snapshots are one commit, so that every position inside
    // it (a base entry's version, as `history` lists it) names the whole state at the horizon.
    const linkOf = (path: string): number | null => this.projections.catalog.versionLinkOf(path);
    for (const event of restoreEvents(steps, atMs, linkOf)) {
      // The content offset is moved as the record is staged: a stand-in is that record's own.
      this.stage(
        event.type === 'entry.restored' && event.kind === 'file'
          ? { ...event, contentOffset: this.contentOffsetOf(event.contentOffset) }
          : event,
      );
    }
    const policyJson = policy.policyJson();
    if (policyJson !== null) this.stage({ type: 'policy.set', policy: policyJson, atMs });
    // A snapshot named at the horizon was taken before it and is deleted after it (one alive at
    // the head pins the horizon before its own record): named again here, so that its deletion
    // folds, and a stream sees the deletion as it did. It names the horizon's state now.
    for (const snapshot of timeline.snapshots()) {
      this.stage({
        type: 'snapshot.created',
        name: snapshot.name,
        atMs,
        description: snapshot.description,
      });
    }
    this.commit();
  }

  /**
   * What an entry's `contentOffset` (the record that produced its content; diff compares it)
   * becomes: the copy of that record when it was copied, else one stand-in per old value, so
   * that entries with the same content before still compare equal after.
   */
  private contentOffsetOf(oldOffset: number): number {
    const moved = this.moved.get(oldOffset);
    if (moved !== undefined) return moved.offset;
    let name = this.contentNames.get(oldOffset);
    if (name === undefined) {
      // The offset of the record about to be staged: unique to this content, and in the file.
      name = this.writer.nextOffset();
      this.contentNames.set(oldOffset, name);
    }
    return name;
  }

  private movedExtent(extent: Extent): Extent {
    const moved = this.moved.get(extent.recordOffset);
    if (moved === undefined) {
      throw journalCorrupt(extent.recordOffset, 'an extent names a record that was not carried');
    }
    return {
      recordOffset: moved.offset,
      recordSequence: moved.sequence,
      blobOffset: extent.blobOffset,
      lengthBytes: extent.lengthBytes,
      recordLengthBytes: moved.lengthBytes,
    };
  }

  // ---- the kept commits -----------------------------------------------------------------------

  private copyKeptCommits(): void {
    for (const commit of this.keptCommits()) {
      for (const record of commit.records) {
        if (DROPPED_TYPES.has(record.event.type)) continue;
        const blob =
          record.rawBlobLength > 0
            ? storedBlobOf(readRecordAt(this.old.file, record.offset), this.old.sealing)
            : undefined;
        this.moved.set(record.offset, this.stage(this.translate(record.event), blob));
        this.carried++;
      }
      this.commit();
      if (this.boundariesWanted.has(commit.tail.endOffset)) {
        this.boundaries.set(commit.tail.endOffset, this.writer.committedTail);
      }
    }
  }

  /**
   * A kept event with the offsets it holds moved: extents to the records' new places, version
   * links to the path's last change in the new journal (the same change, or the base entry
   * when it was before the horizon), a restore's target to the new end of that commit (0 when
   * the target lies before the horizon), and an audit entry's change to its record (null when
   * that record was not kept).
   */
  private translate(event: JournalEvent): JournalEvent {
    const linkOf = (path: string): number | null => this.projections.catalog.versionLinkOf(path);
    const extents = (list: readonly Extent[]): Extent[] =>
      list.map((extent) => this.movedExtent(extent));
    switch (event.type) {
      case 'file.created':
      case 'file.written':
      case 'file.appended':
      case 'file.patched':
        return { ...event, extents: extents(event.extents), previous: linkOf(event.path) };
      case 'entry.deleted':
      case 'directory.created':
        return { ...event, previous: linkOf(event.path) };
      case 'entry.restored':
        return {
          ...event,
          previous: linkOf(event.path),
          contentOffset: this.contentOffsetOf(event.contentOffset),
          extents: extents(event.extents),
        };
      case 'restore.started':
        return { ...event, targetHead: this.boundaries.get(event.targetHead)?.endOffset ?? 0 };
      case 'audit.batch':
        return { ...event, entries: event.entries.map((entry) => this.movedAudit(entry)) };
      case 'path.moved':
        // Each step links the source and target paths to their last change, as `planMove`
        // did: a directory is opened at the target (no source link) and closed at the source
        // (no target link). The paths of one move are distinct, so the state before the
        // record gives every link.
        return {
          ...event,
          entries: event.entries.map((entry) => ({
            ...entry,
            previousFrom:
              entry.step === MoveStep.DirectoryOpened
                ? null
                : linkOf(below(event.from, entry.relativePath)),
            previousTo:
              entry.step === MoveStep.DirectoryClosed
                ? null
                : linkOf(below(event.to, entry.relativePath)),
          })),
        };
      default:
        return event;
    }
  }

  private movedAudit(entry: AuditEntry): AuditEntry {
    if (entry.changeOffset === null) return entry;
    return { ...entry, changeOffset: this.moved.get(entry.changeOffset)?.offset ?? null };
  }
}
