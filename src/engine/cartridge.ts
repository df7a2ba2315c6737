import { assert } from '../assert.js';
import { CartridgeError, journalCorrupt, limitExceeded } from '../errors.js';
import { MemoryStorage } from '../journal/io/memory-storage.js';
import { NodeStorage } from '../journal/io/node-storage.js';
import type { Storage } from '../journal/io/storage.js';
import {
  type Extent,
  type JournalEvent,
  type JournalRecord,
  RecordType,
} from '../journal/journal-event.js';
import { blobOf, readRecordAt } from '../journal/journal-reader.js';
import type { RecoveryReport } from '../journal/recovery.js';
import {
  DATA_RECORD_MAX_BYTES,
  FILE_SIZE_MAX_BYTES,
  PAGE_SIZE_BYTES,
  TRANSACTION_DEPTH_MAX,
} from '../limits.js';
import { BufferPool } from '../projections/buffer-pool.js';
import {
  type CatalogNode,
  DIRECTORY_MODE_DEFAULT,
  type DirectoryNode,
  FILE_MODE_DEFAULT,
  type FileNode,
} from '../projections/catalog.js';
import {
  ancestorsOf,
  canonicalPath,
  nameOf,
  parentOf,
  parsePath,
  ROOT_PATH,
} from '../vfs/canonical-path.js';
import type {
  CartridgeStats,
  CreateDirectoryOptions,
  EntryMetadata,
  VerifyReport,
} from './cartridge-types.js';
import { encodeCheckpointState } from './checkpoint.js';
import { booleanOption, requireHostPath, requireOptionsObject } from './arguments.js';
import { SyncDeadline } from './durability.js';
import { refuseAsyncBody, refuseThenableResult } from './synchronous-body.js';
import { applyRecord, createJournal, type OpenedJournal, openJournal } from './open-journal.js';
import { type CartridgeOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { verifyJournal } from './verify.js';

/** Content accepted by the write calls: bytes, or text stored as UTF-8. */
export type Content = Uint8Array | string;

const MEMORY_PATH = 'memory.cart';
/** Record types whose blob holds file content (and may be read through an extent). */
const CONTENT_RECORD_TYPES = new Set<number>([
  RecordType.Data,
  RecordType.FileCreated,
  RecordType.FileWritten,
  RecordType.FileAppended,
]);
/** On close, a checkpoint is written when at least this much journal follows the last one. */
const CLOSE_CHECKPOINT_BYTES = 1024 * 1024;

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
  private closed = false;
  private transactionDepth = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  private checkpointOffset: number;
  private checkpointEnd: number;
  private lastCheckpointBytes = 0;
  private backgroundError: unknown;
  private readonly syncDeadline: SyncDeadline;

  private constructor(journal: OpenedJournal, options: ResolvedOptions) {
    this.journal = journal;
    this.options = options;
    this.syncDeadline = new SyncDeadline(options.syncIntervalMs);
    this.pool = new BufferPool(options.bufferPoolBytes);
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
    this.ensureOpen();
    const canonical = this.fileOperandPath(path);
    const node = this.nodeAt(canonical);
    if (node.kind !== 'file')
      throw new CartridgeError('EISDIR', `${canonical} is a directory`, { path: canonical });
    return this.readContent(node, canonical);
  }

  listDir(path: string): string[] {
    this.ensureOpen();
    const canonical = canonicalPath(path);
    const node = this.nodeAt(canonical);
    if (node.kind !== 'directory')
      throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
    return this.journal.catalog.childrenOf(node);
  }

  exists(path: string): boolean {
    this.ensureOpen();
    const { path: canonical, mustBeDirectory } = parsePath(path);
    const node = this.journal.catalog.get(canonical);
    return node !== undefined && (!mustBeDirectory || node.kind === 'directory');
  }

  metadata(path: string): EntryMetadata {
    this.ensureOpen();
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
    this.ensureOpen();
    const { allocator, catalog, writer, headerKeeper } = this.journal;
    const capacity = allocator.capacityBlocks;
    const totalBlocks = capacity ?? allocator.usedBlocks;
    const journalBytes = allocator.journalBytes;
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

  private readContent(file: FileNode, path: string): Buffer {
    // Size and extents come from the journal: check they agree, within the limit, before
    // allocating by them (a forged size would throw a RangeError or allocate gigabytes).
    let extentBytes = 0;
    for (const extent of file.extents) extentBytes += extent.lengthBytes;
    if (extentBytes !== file.sizeBytes || file.sizeBytes > FILE_SIZE_MAX_BYTES)
      throw journalCorrupt(file.extents[0]?.recordOffset ?? 0, `size of ${path} disagrees`);
    const result = Buffer.allocUnsafe(file.sizeBytes);
    let position = 0;
    for (const extent of file.extents) {
      const blob = this.blobAt(extent.recordOffset, extent.recordSequence);
      if (extent.blobOffset + extent.lengthBytes > blob.length) {
        throw journalCorrupt(extent.recordOffset, `content of ${path} lies outside its record`);
      }
      result.set(
        blob.subarray(extent.blobOffset, extent.blobOffset + extent.lengthBytes),
        position,
      );
      position += extent.lengthBytes;
    }
    if (position !== file.sizeBytes)
      throw journalCorrupt(file.extents[0]?.recordOffset ?? 0, `size of ${path} disagrees`);
    return result;
  }

  /** The decoded blob of a content record: staged, cached, or read and checked from disk. */
  private blobAt(offset: number, sequence: number): Uint8Array {
    const staged = this.journal.writer.stagedBlob(offset);
    if (staged !== undefined) return staged;
    const cached = this.pool.get(offset);
    if (cached !== undefined) return cached;
    const raw = readRecordAt(this.journal.file, offset);
    // A valid record of the wrong identity (a stale or misdirected block) must not pass.
    if (raw.header.sequence !== sequence)
      throw journalCorrupt(offset, 'extent points at another record');
    if (!CONTENT_RECORD_TYPES.has(raw.header.type)) {
      throw journalCorrupt(offset, 'extent points at a record without content');
    }
    const blob = blobOf(raw);
    this.pool.set(offset, blob);
    return blob;
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
      const atMs = Date.now();
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
      const atMs = Date.now();
      this.appendWithContent(bytes, (extents) => ({
        type: 'file.written',
        path: canonical,
        atMs,
        sizeBytes: bytes.length,
        extents,
      }));
    });
  }

  appendFile(path: string, content: Content): void {
    this.mutate(() => {
      const canonical = this.fileOperandPath(path);
      const file = this.existingFile(canonical);
      const bytes = toBytes(content, this.transactionDepth > 1);
      if (bytes.length === 0) return;
      const sizeBytes = file.sizeBytes + bytes.length;
      if (sizeBytes > FILE_SIZE_MAX_BYTES)
        throw limitExceeded('file size', sizeBytes, FILE_SIZE_MAX_BYTES);
      this.requireSpace(blocksFor(sizeBytes), blocksFor(file.sizeBytes), canonical);
      const atMs = Date.now();
      this.appendWithContent(bytes, (extents) => ({
        type: 'file.appended',
        path: canonical,
        atMs,
        sizeBytes,
        extents,
      }));
    });
  }

  deleteFile(path: string): void {
    this.mutate(() => {
      const canonical = this.fileOperandPath(path);
      if (canonical === ROOT_PATH)
        throw new CartridgeError('EINVAL', 'the root cannot be deleted', { path: canonical });
      const node = this.nodeAt(canonical);
      if (node.kind === 'directory' && node.children.size > 0) {
        throw new CartridgeError('ENOTEMPTY', `${canonical} is not empty`, { path: canonical });
      }
      this.append({ type: 'entry.deleted', path: canonical, atMs: Date.now() });
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
        atMs: Date.now(),
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
        atMs: Date.now(),
      });
    }
    assert(nameOf(path).length > 0, 'a created entry has a name');
  }

  /**
   * Stages content: chunks beyond the first megabytes go into data records, the last chunk
   * rides inside the operation's own record, so a small file is one record.
   */
  private appendWithContent(bytes: Uint8Array, eventOf: (extents: Extent[]) => JournalEvent): void {
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
      });
      start += chunk.length;
    }
    const inline = bytes.subarray(start);
    if (inline.length > 0) {
      const { writer } = this.journal;
      extents.push({
        recordOffset: writer.nextOffset(),
        recordSequence: writer.nextSequence(),
        blobOffset: 0,
        lengthBytes: inline.length,
      });
    }
    this.append(eventOf(extents), inline.length > 0 ? inline : undefined);
  }

  private append(event: JournalEvent, blob?: Uint8Array): JournalRecord {
    const record = this.journal.writer.stage(event, blob);
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
    let result: T;
    let committed = false;
    try {
      result = body();
      refuseThenableResult(result);
      if (writer.stagedCount > 0) {
        writer.commit(this.options.durability === 'full');
        committed = true;
      }
    } catch (error) {
      writer.discardStaged();
      undo.end(false);
      throw error;
    } finally {
      this.transactionDepth = 0;
    }
    undo.end(true);
    // A transaction that mutates nothing writes nothing: no sync, no automatic checkpoint.
    if (committed) this.afterCommit();
    return result;
  }

  private savepoint<T>(body: () => T): T {
    const { undo, writer } = this.journal;
    const undoMark = undo.mark();
    const stagedMark = writer.stagedCount;
    this.transactionDepth++;
    try {
      const result = body();
      refuseThenableResult(result);
      return result;
    } catch (error) {
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
    this.transaction(body);
  }

  private afterCommit(): void {
    if (this.options.durability === 'normal') {
      if (this.syncDeadline.committed()) this.syncQuietly();
      else this.scheduleSync();
    }
    const sinceCheckpoint = this.head - this.checkpointEnd;
    if (
      sinceCheckpoint >=
      Math.max(this.options.checkpointIntervalBytes, 2 * this.lastCheckpointBytes)
    ) {
      this.checkpointQuietly();
    }
  }

  // ---- durability and checkpoints -----------------------------------------------------------

  /**
   * Writes the projection state into the journal so that the next open replays only what
   * follows. Runs on its own every `checkpointIntervalBytes` of journal; callable by hand.
   */
  checkpoint(): void {
    this.ensureWritable();
    if (this.transactionDepth > 0)
      throw new CartridgeError('INVALID_ARGUMENT', 'checkpoint inside a transaction');
    const { undo, writer, catalog, allocator, headerKeeper } = this.journal;
    const parts = encodeCheckpointState(catalog, allocator);
    undo.begin();
    let firstOffset = 0;
    try {
      parts.forEach((part, index) => {
        const record = this.append(
          { type: 'checkpoint', part: index, partCount: parts.length, stateSizeBytes: part.length },
          part,
        );
        if (index === 0) firstOffset = record.offset;
      });
      writer.commit(this.options.durability === 'full');
    } catch (error) {
      writer.discardStaged();
      undo.end(false);
      throw error;
    }
    undo.end(true);
    this.checkpointOffset = firstOffset;
    this.checkpointEnd = this.head;
    this.lastCheckpointBytes = parts.reduce((sum, part) => sum + part.length, 0);
    // The header may only name records that are durable, so outside 'full' the new checkpoint
    // is published by the next sync (flush, close, the timer), never before it.
    if (this.options.durability === 'full') {
      headerKeeper.update({ checkpointOffset: firstOffset, syncedLength: this.head });
      writer.sync();
    }
  }

  /** A checkpoint after a successful commit must not turn that commit into a reported failure. */
  private checkpointQuietly(): void {
    try {
      this.checkpoint();
    } catch (error) {
      this.backgroundError = error;
    }
  }

  /** Makes every commit so far durable (fsync), whatever the durability mode. */
  flush(): void {
    this.ensureOpen();
    if (this.journal.readOnly) return;
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
    this.ensureOpen();
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
        // work is done, one fsync is cheap next to it, and it publishes the last checkpoint
        // so that the next open does not replay the whole journal.
        this.syncNow();
      }
    } finally {
      this.closed = true;
      this.pool.clear();
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
