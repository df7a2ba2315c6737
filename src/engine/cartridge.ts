import { assert } from '../assert.js';
import { CartridgeError, limitExceeded } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { MemoryStorage } from '../journal/io/memory-storage.js';
import { NodeStorage } from '../journal/io/node-storage.js';
import type { Storage } from '../journal/io/storage.js';
import type { Extent, JournalEvent, JournalRecord } from '../journal/journal-event.js';
import type { RecoveryReport } from '../journal/recovery.js';
import {
  DATA_RECORD_MAX_BYTES,
  DIRTY_PAGES_CHECKPOINT,
  FILE_SIZE_MAX_BYTES,
  PAGE_SIZE_BYTES,
  TRANSACTION_DEPTH_MAX,
} from '../limits.js';
import {
  ancestorsOf,
  canonicalPath,
  nameOf,
  parentOf,
  parsePath,
  ROOT_PATH,
} from '../path/canonical-path.js';
import { BufferPool } from '../projections/buffer-pool.js';
import {
  type CatalogNode,
  DIRECTORY_MODE_DEFAULT,
  type DirectoryNode,
  FILE_MODE_DEFAULT,
  type FileNode,
  SMALL_EXTENT_BYTES,
} from '../projections/catalog.js';
import type { CompressionEffort } from '../journal/compression.js';
import type { FlushedPage } from '../projections/index/paged-tree.js';
import { applyRecord } from '../projections/projection-set.js';
import { AppendBuffer, lengthBytesAtMost } from './append-buffer.js';
import type {
  CartridgeStats,
  CreateDirectoryOptions,
  EntryMetadata,
  VerifyReport,
} from './cartridge-types.js';
import { booleanOption, requireHostPath, requireOptionsObject } from './arguments.js';
import { trickleIndexPages, writeCheckpoint } from './checkpointer.js';
import { consolidationDue } from './consolidation.js';
import { ContentReader } from './content-reader.js';
import { SyncDeadline } from './durability.js';
import { createJournal, type OpenedJournal, openJournal } from './open-journal.js';
import { refuseAsyncBody, refuseThenableResult } from './synchronous-body.js';
import { type CartridgeOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { verifyJournal } from './verify.js';

/** Content accepted by the write calls: bytes, or text stored as UTF-8. */
export type Content = Uint8Array | string;

const MEMORY_PATH = 'memory.cart';
/**
 * On close, a checkpoint is written when at least this much journal follows the last one: the
 * next open then replays at most this much. A checkpoint costs only the index pages still
 * dirty, so the bound can be small.
 */
const CLOSE_CHECKPOINT_BYTES = 64 * 1024;

function blocksFor(sizeBytes: number): number {
  return Math.ceil(sizeBytes / PAGE_SIZE_BYTES);
}

function toBytes(content: unknown, copy: boolean): Uint8Array {
  let bytes: Uint8Array;
  if (typeof content === 'string') bytes = Buffer.from(content, 'utf8');
  else if (content instanceof Uint8Array) bytes = copy ? Buffer.from(content) : content;
  else throw new CartridgeError('EINVAL', 'content must be a string or a Uint8Array');
  if (bytes.length > FILE_SIZE_MAX_BYTES)
    throw limitExceeded('content length', bytes.length, FILE_SIZE_MAX_BYTES);
  return bytes;
}

/**
 * A cartridge: a file system in one file (or in memory) whose every mutation is a journal
 * record. Reads are served synchronously from the projections and the buffer pool; writes
 * stage records, apply them to the projections and commit them, all synchronously.
 */
export class Cartridge {
  private readonly journal: OpenedJournal;
  private readonly options: ResolvedOptions;
  private readonly pool: BufferPool;
  private readonly content: ContentReader;
  private readonly appends = new AppendBuffer();
  private closed = false;
  private transactionDepth = 0;
  /** The time of the open transaction's commit: one clock reading per commit. */
  private commitTimeMs = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  private checkpointOffset: number;
  private checkpointEnd: number;
  /** After a failed automatic checkpoint, the next one waits until the head passes this. */
  private checkpointRetryOffset = 0;
  private backgroundError: unknown;
  private readonly syncDeadline: SyncDeadline;

  private constructor(journal: OpenedJournal, options: ResolvedOptions) {
    this.journal = journal;
    this.options = options;
    this.syncDeadline = new SyncDeadline(options.syncIntervalMs);
    this.pool = new BufferPool(options.bufferPoolBytes);
    this.content = new ContentReader(journal.file, journal.writer, this.pool);
    this.checkpointOffset = journal.headerKeeper.header.checkpointOffset;
    this.checkpointEnd = journal.checkpointEnd;
  }

  /** A cartridge held in memory; nothing touches the disk. */
  static memory(options: CartridgeOptions = {}): Cartridge {
    // Validated as for create (a non-object is INVALID_ARGUMENT); `storage` is never used.
    const resolved = resolveOptions(options);
    return new Cartridge(
      createJournal(new MemoryStorage(), MEMORY_PATH, resolved, false),
      resolved,
    );
  }

  /** Creates a cartridge file at `path`, replacing any file there. */
  static create(path: string, options: CartridgeOptions = {}): Cartridge {
    requireHostPath(path);
    const resolved = resolveOptions(options);
    if (resolved.readOnly)
      throw new CartridgeError('INVALID_ARGUMENT', 'cannot create a read-only cartridge');
    return new Cartridge(createJournal(storageOf(options), path, resolved, true), resolved);
  }

  /** Opens an existing cartridge file, replaying its journal from the last checkpoint. */
  static open(path: string, options: CartridgeOptions = {}): Cartridge {
    requireHostPath(path);
    const resolved = resolveOptions(options);
    return new Cartridge(openJournal(storageOf(options), path, resolved), resolved);
  }

  /** The journal offset after the last commit. */
  get head(): number {
    return this.journal.writer.committedTail.endOffset;
  }

  /** What open found and did: a clean journal, a torn tail cut away, or a damaged prefix. */
  get recovery(): RecoveryReport {
    return this.journal.recovery;
  }

  get readOnly(): boolean {
    return this.journal.readOnly;
  }

  get cartridgeId(): string {
    return this.journal.headerKeeper.header.cartridgeId.toString('hex');
  }

  // ---- reads ------------------------------------------------------------------------------

  readFile(path: string): Buffer {
    this.ensureReadable();
    const canonical = this.fileOperandPath(path);
    const node = this.nodeAt(canonical);
    if (node.kind !== 'file')
      throw new CartridgeError('EISDIR', `${canonical} is a directory`, { path: canonical });
    return this.content.read(this.journal.catalog.extentsOf(node), node.sizeBytes, canonical);
  }

  listDir(path: string): string[] {
    this.ensureReadable();
    const canonical = canonicalPath(path);
    const node = this.nodeAt(canonical);
    if (node.kind !== 'directory')
      throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
    return this.journal.catalog.childrenOf(canonical);
  }

  exists(path: string): boolean {
    this.ensureReadable();
    const { path: canonical, mustBeDirectory } = parsePath(path);
    const node = this.journal.catalog.get(canonical);
    return node !== undefined && (!mustBeDirectory || node.kind === 'directory');
  }

  metadata(path: string): EntryMetadata {
    this.ensureReadable();
    const canonical = this.fileOperandPath(path);
    const node = this.nodeAt(canonical);
    const sizeBytes = node.kind === 'file' ? node.sizeBytes : 0;
    return {
      type: node.kind,
      path: canonical,
      sizeBytes,
      createdAtMs: node.createdAtMs,
      modifiedAtMs: node.modifiedAtMs,
      mode: node.mode,
      inode: node.inode,
      blockCount: blocksFor(sizeBytes),
    };
  }

  stats(): CartridgeStats {
    this.ensureReadable();
    const { allocator, catalog, writer, headerKeeper } = this.journal;
    const capacity = allocator.capacityBlocks;
    const totalBlocks = capacity ?? allocator.usedBlocks;
    const journalBytes = this.head - JOURNAL_START_OFFSET;
    const fileCount = catalog.fileCount;
    return {
      totalBlocks,
      usedBlocks: allocator.usedBlocks,
      freeBlocks: totalBlocks - allocator.usedBlocks,
      capacityBlocks: capacity,
      journalBytes,
      liveBytes: allocator.liveBytes,
      deadBytes: journalBytes - allocator.liveBytes,
      fragmentation: journalBytes === 0 ? 0 : (journalBytes - allocator.liveBytes) / journalBytes,
      livePages: allocator.livePages,
      recordCount: writer.committedTail.nextSequence,
      head: this.head,
      syncedLength: headerKeeper.header.syncedLength,
      fileCount,
      directoryCount: catalog.entryCount - fileCount,
      checkpointOffset: this.checkpointOffset,
      dirtyIndexPages: catalog.tree.dirtyCount,
      durability: this.options.durability,
      bufferPool: this.pool.stats(),
    };
  }

  /**
   * The canonical path of an operand that may be a file. A trailing `/` (or `/.`, `/..`) can
   * only name a directory, so on a file it is `ENOTDIR`, and creating a file by it `EISDIR`,
   * as in POSIX; without that, `/file/` would read or create `/file`.
   */
  private fileOperandPath(path: string, creating = false): string {
    const { path: canonical, mustBeDirectory } = parsePath(path);
    if (!mustBeDirectory) return canonical;
    const node = this.journal.catalog.get(canonical);
    if (node?.kind === 'file')
      throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
    if (node === undefined && creating) {
      throw new CartridgeError('EISDIR', `${canonical}/ names a directory`, { path: canonical });
    }
    return canonical;
  }

  private nodeAt(path: string): CatalogNode {
    const node = this.journal.catalog.get(path);
    if (node !== undefined) return node;
    for (const ancestor of ancestorsOf(path)) {
      const above = this.journal.catalog.get(ancestor);
      if (above === undefined) break;
      if (above.kind === 'file')
        throw new CartridgeError('ENOTDIR', `${ancestor} is a file`, { path });
    }
    throw new CartridgeError('ENOENT', `no such file or directory: ${path}`, { path });
  }

  // ---- writes -----------------------------------------------------------------------------

  createFile(path: string, content: Content): void {
    this.mutate(() => {
      const canonical = this.fileOperandPath(path, true);
      const bytes = toBytes(content, this.transactionDepth > 1);
      if (this.journal.catalog.get(canonical) !== undefined) {
        throw new CartridgeError('EEXIST', `${canonical} already exists`, { path: canonical });
      }
      if (canonical === ROOT_PATH)
        throw new CartridgeError('EEXIST', 'the root exists', { path: canonical });
      // Path errors (ENOTDIR) before space errors, as in writeFile; a refusal undoes the parents.
      this.ensureParents(canonical);
      this.requireSpace(blocksFor(bytes.length), 0, canonical);
      const inode = this.journal.catalog.nextInode;
      const atMs = this.commitTimeMs;
      this.appendWithContent(bytes, (extents) => ({
        type: 'file.created',
        path: canonical,
        inode,
        mode: FILE_MODE_DEFAULT,
        atMs,
        sizeBytes: bytes.length,
        extents,
      }));
    });
  }

  writeFile(path: string, content: Content): void {
    this.mutate(() => {
      const canonical = this.fileOperandPath(path);
      const file = this.existingFile(canonical);
      const bytes = toBytes(content, this.transactionDepth > 1);
      this.requireSpace(blocksFor(bytes.length), blocksFor(file.sizeBytes), canonical);
      const atMs = this.commitTimeMs;
      this.appendWithContent(bytes, (extents) => ({
        type: 'file.written',
        path: canonical,
        atMs,
        sizeBytes: bytes.length,
        extents,
      }));
    });
  }

  /**
   * Appends to a file. Inside a transaction, appends to one file are buffered and become one
   * record (see `AppendBuffer`); the checks (the file exists, the size limit, the capacity)
   * happen here, at the call.
   */
  appendFile(path: string, content: Content): void {
    this.ensureWritable();
    // Every check comes before the one change (adding to the buffer), so inside a caller's
    // transaction no savepoint is needed (a savepoint would stage the buffer), and the buffer,
    // which outlives the call there, keeps its own copy of the bytes.
    if (this.transactionDepth > 0) this.bufferAppend(path, content, true);
    else this.transaction(() => this.bufferAppend(path, content, false));
  }

  private bufferAppend(path: string, content: Content, copy: boolean): void {
    // The hot path of a log written in transactions: the same file as the bytes buffered.
    let file = this.appends.fileFor(path);
    let canonical = this.appends.path as string;
    if (file === undefined) {
      canonical = this.fileOperandPath(path);
      if (this.appends.path !== undefined && this.appends.path !== canonical) this.settle();
      file = this.existingFile(canonical);
    }
    // Text stays text in the buffer: one conversion for the whole record when it is staged.
    const piece = typeof content === 'string' ? content : toBytes(content, copy);
    if (piece.length === 0) return;
    // Text is measured only when its upper bound could fail a check (see `AppendBuffer`).
    const sizeBytesAtMost =
      file.sizeBytes + this.appends.sizeBytesAtMost + lengthBytesAtMost(piece);
    const withinBound =
      sizeBytesAtMost <= FILE_SIZE_MAX_BYTES &&
      this.journal.allocator.fits(blocksFor(sizeBytesAtMost), blocksFor(file.sizeBytes));
    if (!withinBound) {
      const lengthBytes =
        typeof piece === 'string' ? Buffer.byteLength(piece, 'utf8') : piece.length;
      if (lengthBytes > FILE_SIZE_MAX_BYTES)
        throw limitExceeded('content length', lengthBytes, FILE_SIZE_MAX_BYTES);
      const sizeBytes = file.sizeBytes + this.appends.sizeBytes + lengthBytes;
      if (sizeBytes > FILE_SIZE_MAX_BYTES)
        throw limitExceeded('file size', sizeBytes, FILE_SIZE_MAX_BYTES);
      this.requireSpace(blocksFor(sizeBytes), blocksFor(file.sizeBytes), canonical);
    }
    this.appends.add(canonical, path, file, piece);
    if (
      this.appends.sizeBytesAtMost >= DATA_RECORD_MAX_BYTES &&
      this.appends.sizeBytes >= DATA_RECORD_MAX_BYTES
    ) {
      this.settle();
    }
  }

  /** Stages the buffered appends, if any, as one record (then consolidates if it is due). */
  private settle(): void {
    const pending = this.appends.take();
    if (pending === undefined) return;
    const atMs = this.commitTimeMs;
    // The entry the buffer captured is current: every other operation stages the buffer first.
    const sizeBytes = pending.file.sizeBytes + pending.bytes.length;
    // A small piece will be rewritten, compressed, by consolidation: compressing it now too
    // would spend the codec twice on the same bytes.
    const effort = pending.bytes.length < SMALL_EXTENT_BYTES ? 'none' : 'normal';
    this.appendWithContent(
      pending.bytes,
      (extents) => ({ type: 'file.appended', path: pending.path, atMs, sizeBytes, extents }),
      effort,
    );
    this.consolidate(pending.path);
  }

  /** Rewrites a file's trailing run of small extents into one record when it is due. */
  private consolidate(path: string): void {
    const file = this.existingFile(path);
    const step = consolidationDue(file);
    if (step === undefined) return;
    const { catalog } = this.journal;
    const extents = catalog.extentsFrom(file, step.fileOffset);
    const bytes = this.content.read(extents, step.sizeBytes, path);
    this.append(
      {
        type: 'extents.consolidated',
        path,
        fileOffset: step.fileOffset,
        replacedCount: step.replacedCount,
      },
      bytes,
    );
  }

  deleteFile(path: string): void {
    this.mutate(() => {
      const canonical = this.fileOperandPath(path);
      if (canonical === ROOT_PATH)
        throw new CartridgeError('EINVAL', 'the root cannot be deleted', { path: canonical });
      const node = this.nodeAt(canonical);
      if (node.kind === 'directory' && node.childCount > 0) {
        throw new CartridgeError('ENOTEMPTY', `${canonical} is not empty`, { path: canonical });
      }
      this.append({ type: 'entry.deleted', path: canonical, atMs: this.commitTimeMs });
    });
  }

  createDir(path: string, options: CreateDirectoryOptions = {}): void {
    this.mutate(() => {
      const canonical = canonicalPath(path);
      const given = requireOptionsObject('createDir options', options);
      const recursive = booleanOption('recursive', given.recursive, false);
      const existing = this.journal.catalog.get(canonical);
      if (existing !== undefined) {
        if (recursive && existing.kind === 'directory') return;
        throw new CartridgeError('EEXIST', `${canonical} already exists`, { path: canonical });
      }
      if (recursive) this.ensureParents(canonical);
      else this.requireParent(canonical);
      this.append({
        type: 'directory.created',
        path: canonical,
        inode: this.journal.catalog.nextInode,
        mode: DIRECTORY_MODE_DEFAULT,
        atMs: this.commitTimeMs,
      });
    });
  }

  private existingFile(path: string): FileNode {
    const node = this.nodeAt(path);
    if (node.kind !== 'file')
      throw new CartridgeError('EISDIR', `${path} is a directory`, { path });
    return node;
  }

  private requireSpace(addedBlocks: number, releasedBlocks: number, path: string): void {
    if (!this.journal.allocator.fits(addedBlocks, releasedBlocks)) {
      throw new CartridgeError('ENOSPC', `no room for ${addedBlocks} blocks at ${path}`, { path });
    }
  }

  private requireParent(path: string): DirectoryNode {
    const parent = this.nodeAt(parentOf(path));
    if (parent.kind !== 'directory')
      throw new CartridgeError('ENOTDIR', `${parentOf(path)} is a file`, { path });
    return parent;
  }

  /** Creates every missing ancestor directory, as the seed's examples expect of createFile. */
  private ensureParents(path: string): void {
    for (const ancestor of ancestorsOf(path)) {
      const node = this.journal.catalog.get(ancestor);
      if (node?.kind === 'directory') continue;
      if (node?.kind === 'file')
        throw new CartridgeError('ENOTDIR', `${ancestor} is a file`, { path });
      this.append({
        type: 'directory.created',
        path: ancestor,
        inode: this.journal.catalog.nextInode,
        mode: DIRECTORY_MODE_DEFAULT,
        atMs: this.commitTimeMs,
      });
    }
    assert(nameOf(path).length > 0, 'a created entry has a name');
  }

  /**
   * Stages content: chunks beyond the first megabytes go into data records, the last chunk
   * rides inside the operation's own record, so a small file is one record.
   */
  private appendWithContent(
    bytes: Uint8Array,
    eventOf: (extents: Extent[]) => JournalEvent,
    effort: CompressionEffort = 'normal',
  ): void {
    const extents: Extent[] = [];
    let start = 0;
    while (bytes.length - start > DATA_RECORD_MAX_BYTES) {
      const chunk = bytes.subarray(start, start + DATA_RECORD_MAX_BYTES);
      const record = this.append({ type: 'data' }, chunk);
      extents.push({
        recordOffset: record.offset,
        recordSequence: record.sequence,
        blobOffset: 0,
        lengthBytes: chunk.length,
        recordLengthBytes: record.lengthBytes,
      });
      start += chunk.length;
    }
    const inline = bytes.subarray(start);
    // The record's own blob is the file's last extent; the body lists only the data records.
    this.append(eventOf(extents), inline.length > 0 ? inline : undefined, effort);
  }

  private append(
    event: JournalEvent,
    blob?: Uint8Array,
    effort: CompressionEffort = 'normal',
  ): JournalRecord {
    const record = this.journal.writer.stage(event, blob, effort);
    applyRecord(this.journal, record);
    return record;
  }

  // ---- transactions -----------------------------------------------------------------------

  /**
   * Runs `body` as one all-or-nothing commit. Nested calls are savepoints: an inner failure
   * undoes the inner work only, and rethrows. `body` must be synchronous.
   */
  transaction<T>(body: () => T): T {
    this.ensureWritable();
    refuseAsyncBody(body);
    if (this.transactionDepth >= TRANSACTION_DEPTH_MAX) {
      throw limitExceeded('transaction depth', this.transactionDepth + 1, TRANSACTION_DEPTH_MAX);
    }
    if (this.transactionDepth > 0) return this.savepoint(body);
    const { undo, writer } = this.journal;
    undo.begin();
    this.transactionDepth = 1;
    this.commitTimeMs = this.options.clock.now();
    let result: T;
    let committed = false;
    let trickled: FlushedPage[] = [];
    try {
      result = body();
      refuseThenableResult(result);
      this.settle();
      if (writer.stagedCount > 0) {
        trickled = trickleIndexPages(this.journal, writer);
        writer.commit(this.options.durability === 'full');
        committed = true;
      }
    } catch (error) {
      this.appends.clear();
      writer.discardStaged();
      undo.end(false);
      throw error;
    } finally {
      this.transactionDepth = 0;
    }
    undo.end(true);
    for (const page of trickled) this.journal.pages.remember(page.ref, page.node);
    // A transaction that mutates nothing writes nothing: no sync, no automatic checkpoint.
    if (committed) this.afterCommit();
    return result;
  }

  private savepoint<T>(body: () => T): T {
    const { undo, writer } = this.journal;
    // Buffered appends from before the savepoint must survive its rollback: stage them now.
    this.settle();
    const undoMark = undo.mark();
    const stagedMark = writer.stagedCount;
    this.transactionDepth++;
    try {
      const result = body();
      refuseThenableResult(result);
      return result;
    } catch (error) {
      this.appends.clear();
      undo.rollbackTo(undoMark);
      writer.rollbackTo(stagedMark);
      throw error;
    } finally {
      this.transactionDepth--;
    }
  }

  /** Every mutation runs inside a transaction: the caller's, or one of its own. */
  private mutate(body: () => void): void {
    this.ensureWritable();
    this.settle();
    this.transaction(body);
  }

  private afterCommit(): void {
    if (this.options.durability === 'normal') {
      if (this.syncDeadline.committed()) this.syncQuietly();
      else this.scheduleSync();
    }
    const { catalog } = this.journal;
    const due =
      this.head - this.checkpointEnd >= this.options.checkpointIntervalBytes ||
      catalog.tree.dirtyCount >= DIRTY_PAGES_CHECKPOINT;
    if (due && this.head >= this.checkpointRetryOffset) this.checkpointQuietly();
  }

  // ---- durability and checkpoints -----------------------------------------------------------

  /**
   * Writes the index pages changed since the last checkpoint and a root naming them, so that
   * the next open starts there and replays only what follows. Runs on its own every
   * `checkpointIntervalBytes` of journal (or when many index pages are dirty) and at close;
   * callable by hand. Its cost follows the pages changed, not the size of the catalog.
   */
  checkpoint(): void {
    this.ensureWritable();
    if (this.transactionDepth > 0)
      throw new CartridgeError('INVALID_ARGUMENT', 'checkpoint inside a transaction');
    const { writer, headerKeeper, pages } = this.journal;
    const result = writeCheckpoint(this.journal, writer, pages, this.options.durability === 'full');
    this.checkpointOffset = result.rootOffset;
    this.checkpointEnd = this.head;
    // The header may only name records that are durable, so outside 'full' the new checkpoint
    // is published by the next sync (flush, close, the timer), never before it.
    if (this.options.durability === 'full') {
      headerKeeper.update({ checkpointOffset: result.rootOffset, syncedLength: this.head });
      writer.sync();
    }
  }

  /**
   * An automatic checkpoint after a successful commit must not turn that commit into a
   * reported failure. A failed one backs off for an interval instead of being retried (and
   * failing again, say on a full disk) on every commit.
   */
  private checkpointQuietly(): void {
    try {
      this.checkpoint();
    } catch (error) {
      this.backgroundError = error;
      this.checkpointRetryOffset = this.head + this.options.checkpointIntervalBytes;
    }
  }

  /** Makes every commit so far durable (fsync), whatever the durability mode. */
  flush(): void {
    this.ensureOpen();
    if (this.journal.readOnly) return;
    if (this.transactionDepth === 0) this.settle();
    this.syncNow();
  }

  private syncNow(): void {
    const { writer, headerKeeper } = this.journal;
    this.clearSyncTimer();
    writer.sync();
    this.syncDeadline.synced();
    const header = headerKeeper.header;
    if (header.syncedLength !== this.head || header.checkpointOffset !== this.checkpointOffset) {
      headerKeeper.update({ syncedLength: this.head, checkpointOffset: this.checkpointOffset });
      writer.sync();
    }
  }

  private scheduleSync(): void {
    if (this.syncTimer !== undefined) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (!this.closed) this.syncQuietly();
    }, this.options.syncIntervalMs);
    this.syncTimer.unref();
  }

  /**
   * A sync the caller did not ask for (the timer, a passed deadline). Its commit already
   * returned, so a failure is kept for `lastBackgroundError`; the failed fsync has poisoned the
   * cartridge, so the next write reports it.
   */
  private syncQuietly(): void {
    try {
      this.syncNow();
    } catch (error) {
      this.backgroundError = error;
    }
  }

  private clearSyncTimer(): void {
    if (this.syncTimer === undefined) return;
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
  }

  /** The last error of background work (timed sync, automatic checkpoint), if any. */
  get lastBackgroundError(): unknown {
    return this.backgroundError;
  }

  /**
   * Re-reads the whole journal, checking every record's checksum, hash and chain link, and
   * replays it to confirm it yields the current state. Never throws for damage: it reports.
   */
  verify(): VerifyReport {
    this.ensureReadable();
    if (this.transactionDepth > 0)
      throw new CartridgeError('INVALID_ARGUMENT', 'verify inside a transaction');
    return verifyJournal(this.journal, this.head);
  }

  /**
   * Flushes (in every durability mode), writes a checkpoint when much journal follows
   * the last one, and releases the file. Any later call throws `CARTRIDGE_CLOSED`.
   */
  close(): void {
    if (this.closed) return;
    if (this.transactionDepth > 0) {
      throw new CartridgeError(
        'INVALID_ARGUMENT',
        'close inside a transaction; let it finish first',
      );
    }
    this.clearSyncTimer();
    let checkpointError: unknown;
    try {
      // A poisoned cartridge cannot make anything durable; close releases it and says so,
      // rather than returning as if the last commits were safe.
      if (!this.journal.readOnly) this.journal.writer.throwIfPoisoned();
      if (!this.journal.readOnly) {
        // The checkpoint only shortens the next open; the sync below is the promise. So a
        // checkpoint that fails (a full disk) is reported after the sync, never instead of it.
        if (this.head - this.checkpointEnd >= CLOSE_CHECKPOINT_BYTES) {
          try {
            this.checkpoint();
          } catch (error) {
            checkpointError = error;
          }
        }
        // Close syncs in every mode, 'off' included: it is the one moment the caller says the
        // work is done, and it publishes the last checkpoint in the header.
        this.syncNow();
      }
    } finally {
      this.closed = true;
      this.pool.clear();
      this.journal.pages.clear();
      this.journal.file.close();
    }
    if (checkpointError !== undefined) throw checkpointError;
  }

  /**
   * True after an fsync failed (or a failed write could not be undone): the kernel may have
   * dropped unsynced pages, so nothing more can be made durable through this handle. Reads
   * still work but may meet `JOURNAL_CORRUPT` for content that was lost; reopen to continue.
   */
  get poisoned(): boolean {
    return this.journal.writer.poisoned !== undefined;
  }

  private ensureOpen(): void {
    if (this.closed) throw new CartridgeError('CARTRIDGE_CLOSED', 'the cartridge is closed');
  }

  /** Reads see buffered appends: inside a transaction, they are staged first. */
  private ensureReadable(): void {
    this.ensureOpen();
    this.settle();
  }

  private ensureWritable(): void {
    this.ensureOpen();
    if (this.journal.readOnly)
      throw new CartridgeError('READ_ONLY', 'the cartridge is open read-only');
    this.journal.writer.throwIfPoisoned();
  }
}

function storageOf(options: CartridgeOptions): Storage {
  return options.storage ?? new NodeStorage();
}
