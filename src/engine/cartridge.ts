import { CartridgeError } from '../errors.js';
import { MemoryStorage } from '../journal/io/memory-storage.js';
import { NodeStorage } from '../journal/io/node-storage.js';
import type { Storage, StorageFile } from '../journal/io/storage.js';
import type { RecoveryReport } from '../journal/recovery.js';
import type { RequestAction } from '../iam/action.js';
import { canonicalPath, type ParsedPath, parsePath, ROOT_PATH } from '../path/canonical-path.js';
import { BufferPool, CONTENT_ENTRY_OVERHEAD_BYTES } from '../projections/buffer-pool.js';
import type { Projections } from '../projections/projection-set.js';
import type {
  ByteRange,
  CartridgeStats,
  CreateDirectoryOptions,
  DiffEntry,
  DiffOptions,
  EntryMetadata,
  HistoryOptions,
  RestoreResult,
  VerifyOptions,
  VerifyReport,
  WriteFileOptions,
} from './cartridge-types.js';
import {
  ed25519PrivateKey,
  type ExportedHead,
  type KeyInput,
  type SignedHead,
} from '../proof/signed-head.js';
import type { RecordProof } from '../proof/inclusion-proof.js';
import { committedHead, stageSignedHead } from './signing.js';
import { proveRecordAt, type RecordTarget } from './record-proof.js';
import { verifyChecksOf } from './verify-options.js';
import {
  booleanOption,
  byteRangeOption,
  integerOption,
  requireHostPath,
  requireRequestActions,
  requireOptionsObject,
} from './arguments.js';
import { ContentReader } from './content-reader.js';
import { DurabilityKeeper } from './durability-keeper.js';
import { followedFileGuardOf } from './file-identity.js';
import { createJournal, type OpenedJournal, openHeaderOnly, openJournal } from './open-journal.js';
import {
  type CartridgeOptions,
  requireActor,
  requireContext,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { ReadModel } from './read-model.js';
import { damagedReport, type VerifyChecks, verifyJournal, verifyStored } from './verify.js';
import type { Observable } from 'rxjs';
import { type ChangeEvent, type ChangesOptions, changeStream } from './change-stream.js';
import { CommitBus } from './commit-bus.js';
import { PinSet } from './pins.js';
import { AuditTrail } from './audit-trail.js';
import { ActorScope, actingAs } from './actor-scope.js';
import { OperationGate, type Principal } from './operation-gate.js';
import { AccessControl, canonicalPolicyText, policyDocument } from './access-control.js';
import {
  type AuditExportResult,
  type AuditQuery,
  type AuditRecord,
  exportAuditLines,
  queryAudit,
} from './audit-query.js';
import { FollowTimer, followCommits } from './journal-follower.js';
import { CartridgeView, type ViewHost } from './cartridge-view.js';
import { type CheckoutTarget, stateAt } from './checkout.js';
import { historyOf, type PathVersion } from './history.js';
import { decideRestore, restoreRecords } from './restore.js';
import {
  requireSnapshotDescription,
  requireSnapshotName,
  type SnapshotInfo,
  snapshotInfo,
} from './snapshots.js';
import { diffEntries } from '../projections/catalog-diff.js';
import { type Content, type FilePatch, WritePath } from './write-path.js';
import { Transactions } from './transactions.js';
import {
  type ErasureCounts,
  type ErasureSteps,
  eraseBlobs,
  erasedBlobsOf,
  settlePendingErasures,
} from './erasure.js';
import { planRedaction, type RedactVersions, requireRedactVersions } from './redaction-plan.js';
import { SubjectKeys } from './subject-keys.js';
import { requireEncryptionKey } from './encryption.js';
import { type EncryptionInfo, encryptionInfoOf, rotateKey } from './key-rotation.js';
import type { SnapshotEntry } from '../projections/timeline.js';
import {
  checkFreezeOptions,
  type FreezeOptions,
  type FreezeResult,
  freezeState,
} from './freeze.js';
import { Engram } from '../engram/reader.js';
import { thawInto } from './thaw.js';
import { type CartridgeFs, createFs } from '../vfs/cartridge-fs.js';
import { repairCartridge, type RepairOptions, type RepairReport } from './repair.js';
import {
  checkCompactOptions,
  compact,
  type CompactOptions,
  type CompactResult,
} from './compaction.js';
import { inspect } from 'node:util';
import type { Database, DatabaseOptions } from '../sqlite/database.js';
import { openDatabase } from '../sqlite/open-database.js';
import {
  exportDatabase,
  type ExportDatabaseOptions,
  importDatabase,
} from '../sqlite/native-interop.js';
import { loadSqlite } from '../sqlite/sqlite-module.js';

export type { Content, FilePatch } from './write-path.js';

/** Options of `patchFile`. */
export interface PatchFileOptions {
  /** The file's size after the patch; by default its size, grown to the last patch's end. */
  readonly sizeBytes?: number;
}

/** Options of `redact`. */
export interface RedactOptions {
  /** Which versions lose their content: all but the current, all, or those named. */
  readonly versions: RedactVersions;
}

/** What `redact` did. */
export interface RedactResult extends ErasureCounts {
  /** The versions whose content was removed (some may have shared every record with others). */
  readonly versionsRedacted: number;
}

/** What `shred` did. */
export interface ShredResult {
  /** The subject's data keys destroyed now (0 when it had none left). */
  readonly keysShredded: number;
}

const MEMORY_PATH = 'memory.cart';

/**
 * A cartridge: a file system in one file (or in memory) whose every mutation is a journal
 * record. Reads are served synchronously from the projections and the buffer pool; writes
 * stage records, apply them to the projections and commit them, all synchronously.
 */
export class Cartridge {
  /** Replaced only by `refresh()` of a read-only handle, when it adopts a newer root. */
  private journal: OpenedJournal;
  private readonly options: ResolvedOptions;
  /** Replaced, with the content reader, when compaction swaps in a new file. */
  private pool: BufferPool;
  private content: ContentReader;
  /**
   * Files compaction replaced: views made before it go on reading them (the path names the new
   * file, these are unlinked), so they stay open until the handle closes.
   */
  private readonly retiredFiles: StorageFile[] = [];
  private reads: ReadModel;
  private readonly bus = new CommitBus();
  private readonly pins = new PinSet();
  private readonly actors: ActorScope;
  private readonly access: AccessControl;
  private readonly trail: AuditTrail;
  private readonly gate: OperationGate;
  private readonly writes: WritePath;
  private readonly transactions: Transactions;
  private readonly durability: DurabilityKeeper;
  private readonly subjects: SubjectKeys;
  private readonly followTimer = new FollowTimer(() => this.refreshQuietly());
  /** A read-only handle's check that its path still names the file it follows. */
  private followedFileGuard: (() => void) | undefined;
  private closedValue = false;
  private backgroundError: unknown;
  /**
   * The fs facade of each handle: this one and every `as()` handle on it (a proxy, which must
   * get its own facade, acting as its own actor).
   */
  private readonly fsFacades = new WeakMap<object, CartridgeFs>();

  /**
   * Builds the parts of the handle. Each reaches the others through callbacks, which run only
   * once the handle is built, so the order below matters only for parts passed as values.
   */
  private constructor(
    journal: OpenedJournal,
    options: ResolvedOptions,
    private readonly hostPath: string | null,
    /** The I/O seam the file lives in (a memory cartridge's own, for compaction). */
    private readonly storage: Storage,
  ) {
    this.journal = journal;
    this.options = options;
    this.durability = new DurabilityKeeper({
      options,
      journal: () => this.journal,
      head: () => this.head,
      isClosed: () => this.closedValue,
      failedInBackground: (error) => {
        this.backgroundError = error;
      },
    });
    this.pool = new BufferPool(options.bufferPoolBytes, CONTENT_ENTRY_OVERHEAD_BYTES);
    this.subjects = new SubjectKeys({
      journal: () => this.journal,
      subjectRoot: options.subjectRoot,
      append: (event, blob) => this.writes.append(event, blob),
      commitTimeMs: () => this.transactions.commitTimeMs,
    });
    this.content = this.contentReaderOf(journal);
    this.reads = new ReadModel(journal, this.content);
    this.actors = new ActorScope(options.actor);
    this.access = new AccessControl(() => this.journal.policy);
    this.trail = new AuditTrail({
      options,
      journal: () => this.journal,
      isClosed: () => this.closedValue,
      transactionDepth: () => this.transactions.depth,
      commitTimeMs: () => this.transactions.commitTimeMs,
      append: (event) => this.writes.append(event),
      commitLane: () => this.transaction(() => undefined),
      failedInBackground: (error) => {
        this.backgroundError = error;
      },
    });
    this.gate = new OperationGate({
      decider: () => this.access.decider(),
      audits: (action) => this.trail.audits(action),
      lane: this.trail.lane,
      accessTimeMs: () => this.trail.accessTimeMs(),
      stagedMark: () => ({
        count: this.journal.writer.stagedCount,
        nextOffset: this.journal.writer.nextOffset(),
      }),
      noted: () => this.trail.noted(),
    });
    this.writes = new WritePath({
      journal: () => this.journal,
      reads: () => this.reads,
      content: () => this.content,
      gate: this.gate,
      lane: this.trail.lane,
      actor: () => this.actor,
      commitTimeMs: () => this.transactions.commitTimeMs,
      transactionDepth: () => this.transactions.depth,
      blobKeyFor: (path) => this.subjects.keyForWrite(path),
    });
    this.transactions = new Transactions({
      options,
      journal: () => this.journal,
      writes: this.writes,
      trail: this.trail,
      committed: () => this.afterCommit(),
    });
  }

  /** A cartridge held in memory; nothing touches the disk. */
  static memory(options: CartridgeOptions = {}): Cartridge {
    // Validated as for create (a non-object is INVALID_ARGUMENT); `storage` is never used.
    const resolved = resolveOptions(options);
    const storage = new MemoryStorage();
    return new Cartridge(
      createJournal(storage, MEMORY_PATH, resolved, false),
      resolved,
      null,
      storage,
    );
  }

  /** Creates a cartridge file at `path`, replacing any file there. */
  static create(path: string, options: CartridgeOptions = {}): Cartridge {
    requireHostPath(path);
    const resolved = resolveOptions(options);
    if (resolved.readOnly)
      throw new CartridgeError('INVALID_ARGUMENT', 'cannot create a read-only cartridge');
    const storage = storageOf(options);
    return new Cartridge(createJournal(storage, path, resolved, true), resolved, path, storage);
  }

  /**
   * Thaws the Engram archive at `engramPath` into a new cartridge at `cartridgePath` (see
   * `thaw.ts`) and returns it open. On failure no cartridge is left at `cartridgePath`.
   */
  static fromEngram(
    engramPath: string,
    cartridgePath: string,
    options: CartridgeOptions = {},
  ): Cartridge {
    requireHostPath(engramPath);
    requireHostPath(cartridgePath);
    const engram = Engram.open(engramPath, { storage: options.storage });
    try {
      const cartridge = Cartridge.create(cartridgePath, options);
      try {
        thawInto(engram, cartridge);
      } catch (error) {
        cartridge.close();
        storageOf(options).remove(cartridgePath);
        throw error;
      }
      return cartridge;
    } finally {
      engram.close();
    }
  }

  /**
   * Opens an existing cartridge file, replaying its journal from the last checkpoint. A
   * writable open also finishes an erasure a crash interrupted (see `erasure.ts`).
   */
  static open(path: string, options: CartridgeOptions = {}): Cartridge {
    requireHostPath(path);
    const resolved = resolveOptions(options);
    const storage = storageOf(options);
    const cartridge = new Cartridge(openJournal(storage, path, resolved), resolved, path, storage);
    if (!cartridge.readOnly) cartridge.settleErasuresLeft();
    return cartridge;
  }

  /**
   * Repairs a cartridge that does not open cleanly: cuts a torn tail, or copies the valid
   * prefix of a file damaged inside into a new file, never touching the damaged original (see
   * `repair.ts`).
   */
  static repair(path: string, options: RepairOptions = {}): RepairReport {
    requireHostPath(path);
    return repairCartridge(Cartridge, storageOf(options), path, options);
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

  /** The cipher and the id of the key sealing new records; null for a plain cartridge. */
  get encryption(): EncryptionInfo | null {
    return encryptionInfoOf(this.journal.sealing);
  }

  /** The cartridge file's path as given to `create` or `open`; null for a memory cartridge. */
  get path(): string | null {
    return this.hostPath;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.closedValue;
  }

  /** Whether a `transaction()` body is running on this cartridge. */
  get inTransaction(): boolean {
    return this.transactions.depth > 0;
  }

  /** `using cart = Cartridge.open(...)` closes it at the end of the block (if still open). */
  [Symbol.dispose](): void {
    if (!this.closedValue) this.close();
  }

  /** What `util.inspect(cart)` (and so printing it) shows: a short summary, not the internals. */
  [inspect.custom](): string {
    const state = this.closedValue
      ? 'closed'
      : `head ${this.head}${this.readOnly ? ', read-only' : ''}`;
    return `Cartridge { ${this.hostPath ?? 'memory'}, ${state} }`;
  }

  /**
   * The `node:fs` facade of this handle (`readFileSync`, `writeFileSync`, streams, `watch`,
   * `promises`, ...), acting as this handle's actor. See `src/vfs/cartridge-fs.ts`.
   */
  get fs(): CartridgeFs {
    let facade = this.fsFacades.get(this);
    if (facade === undefined) {
      facade = createFs(this);
      this.fsFacades.set(this, facade);
    }
    return facade;
  }

  // ---- reads ------------------------------------------------------------------------------

  readFile(path: string, range?: ByteRange): Buffer {
    this.ensureReadable();
    const bytes = byteRangeOption(range);
    // The policy decides on the canonical path before anything looks the path up, so an error
    // (ENOENT, ENOTDIR from a trailing slash) never tells a refused actor what exists.
    const parsed = parsePath(path);
    return this.gate.read(this.actor, 'Read', parsed.path, () =>
      this.reads.readFile(this.reads.fileOperand(parsed), bytes),
    );
  }

  listDir(path: string): string[] {
    this.ensureReadable();
    const canonical = canonicalPath(path);
    return this.gate.read(this.actor, 'List', canonical, () => this.reads.listDir(canonical));
  }

  exists(path: string): boolean {
    this.ensureReadable();
    const parsed = parsePath(path);
    return this.gate.read(this.actor, 'Read', parsed.path, () => this.reads.exists(parsed));
  }

  metadata(path: string): EntryMetadata {
    this.ensureReadable();
    const parsed = parsePath(path);
    return this.gate.read(this.actor, 'Read', parsed.path, () =>
      this.reads.metadata(this.reads.fileOperand(parsed)),
    );
  }

  /**
   * What a file system built on the cartridge (the fs facade) looks at before a change: POSIX
   * walks the path first (the parent must be a directory, the target must not be one). The
   * metadata of the entry at `path`, or undefined when nothing is there. When the policy allows
   * the actor one of `actions` on `target`, the catalog is looked at without a decision of its
   * own, as the engine's own writes look before they change (the change is decided, and noted,
   * when it runs); otherwise it is asked as `metadata` asks (`Read` on `path`), so an actor
   * learns nothing the policy hides from it.
   */
  metadataBeforeChange(
    actions: readonly RequestAction[],
    target: string,
    path: string,
  ): EntryMetadata | undefined {
    this.ensureReadable();
    const asked = requireRequestActions('actions', actions);
    const changed = parsePath(target).path;
    const parsed = parsePath(path);
    const reads = this.reads;
    if (!asked.some((action) => this.gate.allows(this.actor, action, changed))) {
      return this.gate.read(this.actor, 'Read', parsed.path, () =>
        reads.metadataOrAbsent(reads.fileOperand(parsed)),
      );
    }
    return reads.metadataOrAbsent(reads.fileOperand(parsed));
  }

  stats(): CartridgeStats {
    this.ensureReadable();
    this.gate.check(this.actor, 'Read', ROOT_PATH);
    return this.reads.stats(this.head, {
      recordCount: this.journal.writer.committedTail.nextSequence,
      syncedLength: this.journal.headerKeeper.header.syncedLength,
      checkpointOffset: this.durability.checkpointOffset,
      oldestPinnedOffset: this.oldestPinnedOffset(),
      durability: this.options.durability,
      bufferPool: this.pool.stats(),
    });
  }

  // ---- writes -----------------------------------------------------------------------------

  createFile(path: string, content: Content): void {
    this.mutate(() => this.createParsed(parsePath(path), content));
  }

  /**
   * Replaces a file's content. With `{ create: true }` a missing file is created instead (as
   * `createFile` would), so that "write, creating if needed" is one call and one decision.
   */
  writeFile(path: string, content: Content, options: WriteFileOptions = {}): void {
    this.mutate(() => {
      const parsed = parsePath(path);
      const given = requireOptionsObject('writeFile options', options);
      const create = booleanOption('create', given.create, false);
      if (create && this.journal.catalog.get(parsed.path) === undefined) {
        this.createParsed(parsed, content);
        return;
      }
      this.gate.run(this.actor, 'Write', parsed.path, () =>
        this.writes.writeAt(this.reads.fileOperand(parsed), content),
      );
    });
  }

  private createParsed(parsed: ParsedPath, content: Content): void {
    this.gate.run(this.actor, 'Create', parsed.path, () =>
      this.writes.createAt(this.reads.fileOperand(parsed, true), content),
    );
  }

  // ---- databases ----------------------------------------------------------------------------

  /**
   * Loads SQLite (a WebAssembly module) once per process; `openDatabase` needs it loaded.
   * See `src/sqlite/sqlite-module.ts` for why this is a step of its own.
   */
  static loadSqlite(): Promise<void> {
    return loadSqlite().then(() => undefined);
  }

  /**
   * Opens the SQLite database in the file at `path` (created empty when missing): a
   * synchronous handle shaped like better-sqlite3's. Each SQLite commit is one journal
   * commit of the pages it changed. See `src/sqlite/`.
   */
  openDatabase(path: string, options?: DatabaseOptions): Database {
    this.ensureReadable();
    // The handle outlives this call: its page reads and commits run as the actor opening it
    // (`as(actor).openDatabase(...)`), not as whoever the handle's default actor is later.
    return openDatabase(actingAs(this, this.actors, this.actors.current), path, options);
  }

  /** Copies a native SQLite file into a new file at `path` (needs better-sqlite3). */
  importDatabase(nativeFile: string, path: string): void {
    this.ensureWritable();
    importDatabase(this, nativeFile, path);
  }

  /** Writes the database at `path` (now, or at `options.at`) to a new native SQLite file. */
  exportDatabase(path: string, nativeFile: string, options?: ExportDatabaseOptions): void {
    this.ensureReadable();
    exportDatabase(this, path, nativeFile, options);
  }

  /**
   * Replaces byte ranges of an existing file in place, as one `file.patched` record: only the
   * bytes given are written. `sizeBytes` (default: the file's size, or the end of the last
   * patch if that is further) cuts or grows the file first; a patch may not leave a hole.
   * The SQLite page store writes each commit's dirty pages through this.
   */
  patchFile(path: string, patches: readonly FilePatch[], options: PatchFileOptions = {}): void {
    this.mutate(() => {
      const parsed = parsePath(path);
      const given = requireOptionsObject('patchFile options', options);
      if (!Array.isArray(patches))
        throw new CartridgeError('EINVAL', 'patches must be an array', { path });
      this.gate.run(this.actor, 'Write', parsed.path, () => {
        const canonical = this.reads.fileOperand(parsed);
        let sizeBytes = given.sizeBytes as number | undefined;
        if (sizeBytes === undefined) {
          sizeBytes = this.reads.metadata(canonical).sizeBytes;
          const last = patches[patches.length - 1];
          if (last !== undefined) {
            const lengthBytes =
              typeof last.content === 'string'
                ? Buffer.byteLength(last.content, 'utf8')
                : last.content.length;
            sizeBytes = Math.max(sizeBytes, last.offsetBytes + lengthBytes);
          }
        }
        this.writes.patchAt(canonical, patches, sizeBytes);
      });
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
    if (this.transactions.depth > 0) this.writes.bufferAppend(path, content, true);
    else this.transaction(() => this.writes.bufferAppend(path, content, false));
  }

  deleteFile(path: string): void {
    this.mutate(() => {
      const parsed = parsePath(path);
      this.gate.run(this.actor, 'Delete', parsed.path, () =>
        this.writes.deleteAt(this.reads.fileOperand(parsed)),
      );
    });
  }

  /**
   * Moves a file, or a directory with its whole subtree, to `to` in one commit, without
   * copying content: the entries change paths, a file keeps its inode and extents. `to` must
   * not exist and its parent must be a directory. The actor needs `Delete` on every source path
   * and `Write` on every target path.
   */
  rename(from: string, to: string): void {
    this.mutate(() => {
      const source = canonicalPath(from);
      const target = canonicalPath(to);
      const actor = this.actor;
      this.gate.run(actor, 'Delete', source, () =>
        this.gate.run(actor, 'Write', target, () =>
          this.writes.moveAt(source, target, (moved) => {
            if (moved.source === source) return;
            this.gate.check(actor, 'Delete', moved.source);
            this.gate.check(actor, 'Write', moved.target);
          }),
        ),
      );
    });
  }

  createDir(path: string, options: CreateDirectoryOptions = {}): void {
    this.mutate(() => {
      const canonical = canonicalPath(path);
      const given = requireOptionsObject('createDir options', options);
      const recursive = booleanOption('recursive', given.recursive, false);
      this.gate.run(this.actor, 'Create', canonical, () =>
        this.writes.createDirAt(canonical, recursive),
      );
    });
  }

  // ---- time travel ------------------------------------------------------------------------

  /**
   * A read-only view of the state at `target` (an offset, a `Position`, a snapshot name or a
   * `Date`; see `checkout.ts`). Its cost is one index lookup and the replay of at most one
   * checkpoint interval, whatever the length of history or the size of the catalog.
   */
  checkout(target: CheckoutTarget): CartridgeView {
    this.ensureReadable();
    this.refuseInsideTransaction('checkout');
    this.gate.check(this.actor, 'Read', ROOT_PATH);
    const past = stateAt(this.journal, target, this.head);
    const view = new CartridgeView(past.projections, past.head, past.snapshot, this.viewHost);
    this.pins.pin(view, () => view.head);
    return view;
  }

  /** Names the current state; one small record, whatever the size of the data. */
  createSnapshot(name: string, description?: string): SnapshotInfo {
    const checkedName = requireSnapshotName(name, true);
    const checkedDescription = requireSnapshotDescription(description);
    // The snapshot's state is rebuilt from the nearest root before it: one written now keeps
    // that replay short whatever came since the last checkpoint.
    this.ensureWritable();
    if (this.transactions.depth === 0) this.durability.checkpointBeforeSnapshot();
    this.mutate(() => {
      this.gate.run(this.actor, 'All', ROOT_PATH, () =>
        this.stageSnapshot(checkedName, checkedDescription),
      );
    });
    return snapshotInfo(this.journal.timeline.snapshot(checkedName) as SnapshotEntry);
  }

  private stageSnapshot(checkedName: string, checkedDescription: string | null): void {
    if (this.journal.timeline.snapshot(checkedName) !== undefined) {
      throw new CartridgeError('SNAPSHOT_EXISTS', `a snapshot named ${checkedName} exists`);
    }
    this.writes.append({
      type: 'snapshot.created',
      name: checkedName,
      atMs: this.transactions.commitTimeMs,
      description: checkedDescription,
    });
  }

  /** The named snapshots, by name. */
  listSnapshots(): SnapshotInfo[] {
    this.ensureReadable();
    this.gate.check(this.actor, 'Read', ROOT_PATH);
    return this.journal.timeline.snapshots().map(snapshotInfo);
  }

  /** Removes a snapshot's name (the history it named stays until compaction). */
  deleteSnapshot(name: string): void {
    const checkedName = requireSnapshotName(name);
    this.mutate(() => {
      this.gate.run(this.actor, 'All', ROOT_PATH, () => {
        if (this.journal.timeline.snapshot(checkedName) === undefined) {
          throw new CartridgeError('SNAPSHOT_NOT_FOUND', `no snapshot named ${checkedName}`);
        }
        this.writes.append({
          type: 'snapshot.deleted',
          name: checkedName,
          atMs: this.transactions.commitTimeMs,
        });
      });
    });
  }

  /**
   * Brings the head to the state at `target` with one transaction: a `restore.started` record
   * naming the target, then the entries that differ, set to what they were (file content is
   * referred to where it already lies, not copied). History before and after stays readable.
   */
  restoreSnapshot(target: CheckoutTarget): RestoreResult {
    this.ensureWritable();
    this.refuseInsideTransaction('restoreSnapshot');
    this.gate.check(this.actor, 'All', ROOT_PATH);
    this.writes.settle();
    const past = stateAt(this.journal, target, this.head);
    const steps = decideRestore(this.journal, past.projections);
    this.transaction(() => {
      const atMs = this.transactions.commitTimeMs;
      for (const event of restoreRecords(this.journal, past, steps, atMs)) {
        this.writes.append(event);
      }
    });
    return {
      targetHead: past.head,
      snapshot: past.snapshot,
      changedCount: steps.length,
      head: this.head,
    };
  }

  /**
   * The entries that differ between two states (targets as for `checkout`, or views; `to`
   * defaults to the head), under `options.prefix`. Computed from the index: the pages both
   * states share are skipped, so a small change in a large cartridge costs little.
   */
  diff(
    from: CheckoutTarget | CartridgeView,
    to?: CheckoutTarget | CartridgeView,
    options: DiffOptions = {},
  ): DiffEntry[] {
    this.ensureReadable();
    this.refuseInsideTransaction('diff');
    const given = requireOptionsObject('diff options', options);
    this.gate.check(
      this.actor,
      'Read',
      canonicalPath(given.prefix === undefined ? ROOT_PATH : given.prefix),
    );
    const prefix = canonicalPath(given.prefix === undefined ? ROOT_PATH : given.prefix);
    const after = to === undefined ? this.journal : this.stateOf(to);
    // Only the paths the actor may read: a name is information too.
    const actor = this.actor;
    return diffEntries(this.stateOf(from).catalog, after.catalog, prefix).filter((entry) =>
      this.gate.allows(actor, 'Read', entry.path),
    );
  }

  /** The versions of one path, newest first, with their positions and commit times. */
  history(path: string, options: HistoryOptions = {}): PathVersion[] {
    this.ensureReadable();
    this.refuseInsideTransaction('history');
    const given = requireOptionsObject('history options', options);
    const limit = integerOption(
      'limit',
      given.limit,
      Number.MAX_SAFE_INTEGER,
      1,
      Number.MAX_SAFE_INTEGER,
    );
    const canonical = canonicalPath(path);
    this.gate.check(this.actor, 'Read', canonical);
    return historyOf(this.journal, canonical, limit);
  }

  private stateOf(target: CheckoutTarget | CartridgeView): Projections {
    if (target instanceof CartridgeView) return target.projections;
    return stateAt(this.journal, target, this.head).projections;
  }

  private get viewHost(): ViewHost {
    const actor = this.actor;
    return {
      content: this.content,
      cartridgeId: this.cartridgeId,
      isOpen: () => !this.closedValue,
      poolStats: () => this.pool.stats(),
      authorize: (action, path) => this.gate.check(actor, action, path),
    };
  }

  /** The oldest position a snapshot, an open stream or a live view needs kept, or null. */
  private oldestPinnedOffset(): number | null {
    let oldest = this.pins.oldest();
    for (const snapshot of this.journal.timeline.snapshots()) {
      if (oldest === null || snapshot.offset < oldest) oldest = snapshot.offset;
    }
    return oldest;
  }

  private refuseInsideTransaction(operation: string): void {
    if (this.transactions.depth > 0) {
      throw new CartridgeError('INVALID_ARGUMENT', `${operation} inside a transaction`);
    }
  }

  // ---- compaction --------------------------------------------------------------------------

  /**
   * Rewrites the cartridge into a new file holding the state at `keepHistoryFrom` (default:
   * the head) and the history after it, never dropping what snapshots, open streams and views
   * pin, and swaps it in atomically (see `compaction.ts`). An administrative operation (`All`
   * on `/`). Open streams move into the new file; views made before go on reading the old one.
   */
  compact(options: CompactOptions = {}): CompactResult {
    const checked = checkCompactOptions(options);
    this.ensureWritable();
    this.refuseInsideTransaction('compact');
    // Whatever is buffered or noted is committed into the journal being compacted.
    this.writes.settle();
    this.trail.flush();
    return this.gate.run(this.actor, 'All', ROOT_PATH, () => {
      const compaction = compact(
        {
          storage: this.storage,
          path: this.hostPath ?? MEMORY_PATH,
          journal: this.journal,
          options: this.options,
          headOffset: this.head,
          oldestPinnedOffset: this.oldestPinnedOffset(),
          pinnedOffsets: this.pins.offsets(),
          nowMs: this.options.clock.now(),
        },
        checked,
      );
      this.adoptCompacted(compaction.journal);
      this.pins.relocate(compaction.journal, compaction.boundaries);
      this.bus.publish(this.head);
      return compaction.result;
    });
  }

  /** Reads `journal`'s content through the handle's pool, erasures and subject keys. */
  private contentReaderOf(journal: OpenedJournal): ContentReader {
    return new ContentReader(
      journal.file,
      journal.writer,
      this.pool,
      journal.sealing,
      () => this.journal.erasures,
      (path) => this.subjects.keysForRead(path),
    );
  }

  /** Reads, writes and durability move to the compacted journal; the old file is retired. */
  private adoptCompacted(journal: OpenedJournal): void {
    this.retiredFiles.push(this.journal.file);
    this.journal = journal;
    this.pool = new BufferPool(this.options.bufferPoolBytes, CONTENT_ENTRY_OVERHEAD_BYTES);
    this.content = this.contentReaderOf(journal);
    this.reads = new ReadModel(journal, this.content);
    this.durability.compacted(journal);
  }

  // ---- freeze ------------------------------------------------------------------------------

  /**
   * Writes every live file of the state at `options.at` (default the head) into an Engram v1
   * archive at `outPath` (see `freeze.ts`): each file read through the gate as the actor.
   */
  freeze(outPath: string, options: FreezeOptions): FreezeResult {
    this.ensureReadable();
    this.refuseInsideTransaction('freeze');
    requireHostPath(outPath);
    const checked = checkFreezeOptions(options);
    const actor = this.actor;
    const past =
      options.at === undefined ? undefined : stateAt(this.journal, options.at, this.head);
    const state = past === undefined ? this.journal : past.projections;
    return freezeState(
      {
        storage: this.options.storage ?? new NodeStorage(),
        cartridgeId: this.cartridgeId,
        state,
        reads: past === undefined ? this.reads : new ReadModel(state, this.content),
        offset: past === undefined ? this.head : past.head,
        headHash: past === undefined ? this.journal.writer.committedTail.lastHash : past.headHash,
        snapshot: past === undefined ? null : past.snapshot,
        nowMs: this.options.clock.now(),
        authorizeRead: (path) => {
          this.gate.check(actor, 'Read', path);
        },
      },
      outPath,
      checked,
    );
  }

  // ---- change streams ---------------------------------------------------------------------

  /**
   * The changes from `options.from` on (default: from now), then live, as an rxjs Observable
   * (see `change-stream.ts`). On a read-only handle, the stream follows the file as another
   * process appends to it (see `journal-follower.ts`).
   */
  changes(options: ChangesOptions = {}): Observable<ChangeEvent> {
    this.ensureOpen();
    // The subscriber sees only the paths its actor may read, under the policy of the moment.
    const actor = this.actor;
    this.gate.check(actor, 'List', ROOT_PATH);
    return changeStream(
      {
        journal: () => this.journal,
        bus: this.bus,
        isOpen: () => !this.closedValue,
        follow: () => this.follow(),
        pin: (holder, offset, relocate) => this.pins.pin(holder, offset, relocate),
        mayRead: (path) => this.gate.allows(actor, 'Read', path ?? ROOT_PATH),
      },
      options,
    );
  }

  /**
   * A read-only handle reads the commits another process appended since it opened (or last
   * refreshed) and moves its head to them; returns the head. A writable handle is always
   * current: it returns its head.
   */
  refresh(): number {
    this.ensureOpen();
    if (!this.journal.readOnly) return this.head;
    // A path that names another file now (the writer compacted) would leave this handle
    // reading a file nobody writes: FILE_CHANGED, rather than a head that never moves.
    if (this.hostPath !== null) {
      this.followedFileGuard ??= followedFileGuardOf(
        this.storage,
        this.hostPath,
        this.journal.file,
      );
      this.followedFileGuard();
    }
    const { journal, advanced } = followCommits(this.journal);
    if (journal !== this.journal) {
      this.journal = journal;
      this.reads = new ReadModel(journal, this.content);
      this.durability.adopted(journal);
    }
    if (advanced) this.bus.publish(this.head);
    return this.head;
  }

  /** Starts polling the file for a stream on a read-only handle; returns how to stop. */
  private follow(): () => void {
    if (!this.journal.readOnly) return () => undefined;
    return this.followTimer.start();
  }

  /**
   * A poll of the followed file. Its failure (the file replaced, unreadable) ends the streams
   * that depend on it with the error, rather than leaving them waiting for commits forever.
   */
  private refreshQuietly(): void {
    try {
      this.refresh();
    } catch (error) {
      this.backgroundError = error;
      this.bus.fail(error);
    }
  }

  // ---- actors, access policy and audit ----------------------------------------------------

  /**
   * This cartridge as `actor`: a handle whose every call runs as that actor (policies decide
   * for it, audit entries name it). It shares everything else with this handle.
   */
  as(actor: string, context?: Readonly<Record<string, string | number | Date>>): Cartridge {
    return actingAs(this, this.actors, {
      actor: requireActor(actor),
      context: requireContext(context),
    });
  }

  /** The actor this handle's operations run as. */
  get currentActor(): string {
    return this.actors.current.actor;
  }

  /** Who operations run as now: the handle's actor, or the one `as()` set for a call. */
  private get actor(): Principal {
    return this.actors.current;
  }

  /**
   * Sets the access policy (its JSON form, as text or an object; null for none). It is a
   * journal record: it survives reopen and is on the timeline. Once a policy is set, only an
   * actor it allows every action on `/` may change it.
   */
  setPolicy(policy: unknown): void {
    const text = canonicalPolicyText(policy);
    this.mutate(() => {
      this.gate.run(this.actor, 'All', ROOT_PATH, () =>
        this.writes.append({
          type: 'policy.set',
          policy: text,
          atMs: this.transactions.commitTimeMs,
        }),
      );
    });
  }

  /** The policy in force, in its canonical JSON form, or null when there is none. */
  policy(): unknown {
    this.ensureReadable();
    this.gate.check(this.actor, 'Read', ROOT_PATH);
    return policyDocument(this.journal.policy.policyJson());
  }

  /**
   * Audit entries (see `audit-query.ts`): by offsets or dates, actor, path glob, action and
   * decision, oldest or newest first, through the audit index. Reading the trail is an
   * administrative operation (`All` on `/`).
   */
  audit(query: AuditQuery = {}): AuditRecord[] {
    this.ensureReadable();
    this.gate.check(this.actor, 'All', ROOT_PATH);
    this.trail.flush();
    return queryAudit(this.journal, query, this.head);
  }

  /** Writes the audit trail (optionally between `from` and `to`) to `outPath` as JSON Lines. */
  exportAudit(outPath: string, options: Pick<AuditQuery, 'from' | 'to'> = {}): AuditExportResult {
    this.ensureReadable();
    requireHostPath(outPath);
    this.gate.check(this.actor, 'All', ROOT_PATH);
    this.trail.flush();
    const storage = this.options.storage ?? new NodeStorage();
    return exportAuditLines(this.journal, storage, outPath, options, this.head);
  }

  // ---- encryption ---------------------------------------------------------------------------

  /**
   * Seals new records with `newKey` from now on (see `key-rotation.ts`); older records keep
   * their key, which reopening needs in `keyring`. An administrative operation (`All` on `/`),
   * durable when it returns. Returns the new key's id.
   */
  rotateKey(newKey: Uint8Array): string {
    const key = requireEncryptionKey('newKey', newKey);
    this.ensureWritable();
    this.refuseInsideTransaction('rotateKey');
    return rotateKey(key, {
      sealing: this.journal.sealing,
      commit: (keyId) =>
        this.mutate(() => {
          this.gate.run(this.actor, 'All', ROOT_PATH, () =>
            this.writes.append({
              type: 'key.rotated',
              keyId,
              atMs: this.transactions.commitTimeMs,
            }),
          );
        }),
      syncNow: () => this.durability.syncNow(),
    });
  }

  // ---- erasure ------------------------------------------------------------------------------

  /**
   * Removes the content of versions of `path` from the file: `'past'` (every version but the
   * current one), `'all'`, or the versions named by their positions (or offsets) as `history`
   * gives them. The records that only those versions use have their blobs overwritten in
   * place with a marker, after a `content.erased` record naming them is durable; the chain,
   * the Merkle log and signed heads still verify (see `erasure.ts`, SECURITY.md). Reading the
   * content of a redacted version is `REDACTED` from then on, at the head, in checkouts and in
   * history. An administrative operation (`All` on `/`) and a `Delete` on the path, both
   * audited; durable when it returns.
   */
  redact(path: string, options: RedactOptions): RedactResult {
    this.ensureWritable();
    this.refuseInsideTransaction('redact');
    const given = requireOptionsObject('redact options', options);
    const versions = requireRedactVersions(given.versions);
    const canonical = canonicalPath(path);
    // Buffered appends are committed first: the plan reads the committed journal.
    this.writes.settle();
    this.transaction(() => undefined);
    let versionCount = 0;
    const counts = eraseBlobs(this.erasureSteps(canonical), 'redacted', () => {
      const plan = planRedaction(this.journal, canonical, versions, this.head);
      versionCount = plan.versions.length;
      const erasures = this.journal.erasures;
      return {
        erased: erasedBlobsOf(this.journal, plan.recordOffsets),
        // A version named again is not named twice.
        versions: plan.versions
          .map((version) => version.offset)
          .filter((offset) => !erasures.isVersionRedacted(offset)),
      };
    });
    return { versionsRedacted: versionCount, ...counts };
  }

  /**
   * Crypto-shredding: destroys the data keys of `subject` (a path, as `subjectOf` gives it), so
   * that every version of its content is `SHREDDED` from then on, in this file, in copies made
   * afterwards and in shipped segments copied afterwards, while everything else reads and
   * verifies. The keys' blobs are erased like redacted content (see `erasure.ts`). Writing to
   * the subject afterwards gives it a new key. An administrative operation (`All` on `/`) and
   * a `Delete` on the subject's path, both audited; durable when it returns. See
   * `subject-keys.ts`.
   */
  shred(subject: string): ShredResult {
    this.ensureWritable();
    this.refuseInsideTransaction('shred');
    if (this.journal.sealing === undefined) {
      throw new CartridgeError(
        'INVALID_ARGUMENT',
        'shred needs an encrypted cartridge with encryption.perSubjectKeys',
      );
    }
    const canonical = canonicalPath(subject);
    this.writes.settle();
    this.transaction(() => undefined);
    const counts = eraseBlobs(this.erasureSteps(canonical), 'shredded', () => ({
      erased: erasedBlobsOf(
        this.journal,
        this.journal.erasures.subjectKeys(canonical).map((key) => key.offset),
      ),
      versions: [],
    }));
    // Plaintext of the subject's content may be cached: nothing of it is kept.
    this.subjects.forgetKeys();
    this.pool.clear();
    return { keysShredded: counts.recordsErased };
  }

  /**
   * The subject `path` belongs to (the path of the subject, as `shred` takes it): the one it
   * has a key under, or the one `encryption.subjectRoot` gives it; null for none.
   */
  subjectOf(path: string): string | null {
    this.ensureOpen();
    return this.subjects.subjectOf(canonicalPath(path)) ?? null;
  }

  /**
   * Finishes the erasures a crash interrupted (their overwrite and `erasure.settled`). Damage
   * in the index pages the lookup needs does not fail the open: like any damaged page, it fails
   * the operations that need it, and the erasure is finished by a later open; the record
   * already makes readers refuse the content.
   */
  private settleErasuresLeft(): void {
    try {
      settlePendingErasures(this.erasureSteps(ROOT_PATH));
    } catch (error) {
      if (error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT') return;
      this.journal.file.close();
      throw error;
    }
  }

  /** The steps of an erasure (`erasure.ts`), gated as an administrative operation on `path`. */
  private erasureSteps(path: string): ErasureSteps {
    return {
      journal: () => this.journal,
      append: (event) => this.writes.append(event),
      // Administrative (`All` on `/`, as restore is: history changes for everyone), and a
      // `Delete` on the path itself, so that the audit trail names what was erased.
      commitGated: (body) =>
        this.transaction(() =>
          this.gate.run(this.actor, 'All', ROOT_PATH, () => {
            this.gate.check(this.actor, 'Delete', path);
            body();
          }),
        ),
      commitQuietly: (body) => this.transaction(body),
      syncNow: () => this.durability.syncNow(),
      forget: (offset) => {
        this.pool.delete(offset);
        this.journal.writer.forgetBlob(offset);
      },
    };
  }

  // ---- transactions -----------------------------------------------------------------------

  /**
   * Runs `body` as one all-or-nothing commit. Nested calls are savepoints: an inner failure
   * undoes the inner work only, and rethrows. `body` must be synchronous.
   */
  transaction<T>(body: () => T): T {
    this.ensureWritable();
    return this.transactions.run(body);
  }

  /** Every mutation runs inside a transaction: the caller's, or one of its own. */
  private mutate(body: () => void): void {
    this.ensureWritable();
    this.writes.settle();
    this.transaction(body);
  }

  private afterCommit(): void {
    // Streams only hear that the head moved; they read the commit from the journal when their
    // turn comes, after this call has returned (and, in 'full', after the commit is durable).
    this.bus.publish(this.head);
    this.durability.committed();
  }

  // ---- durability and checkpoints -----------------------------------------------------------

  /**
   * Writes the index pages changed since the last checkpoint and a root naming them, so that
   * the next open starts there and replays only what follows. Runs on its own every checkpoint
   * interval (`checkpointIntervalBytes`, `checkpointIntervalRecords`), when many index pages
   * are dirty, before a snapshot that many records precede, and at close; callable by hand.
   * Its cost follows the pages changed, not the size of the catalog.
   */
  checkpoint(): void {
    this.ensureWritable();
    if (this.transactions.depth > 0)
      throw new CartridgeError('INVALID_ARGUMENT', 'checkpoint inside a transaction');
    this.durability.checkpoint();
  }

  /** Makes every commit so far durable (fsync), whatever the durability mode. */
  flush(): void {
    this.ensureOpen();
    if (this.journal.readOnly) return;
    if (this.transactions.depth === 0) {
      this.writes.settle();
      this.trail.flush();
    }
    this.durability.syncNow();
  }

  /** The last error of background work (timed sync, automatic checkpoint), if any. */
  get lastBackgroundError(): unknown {
    return this.backgroundError;
  }

  /**
   * Re-reads the whole journal, checking every record's checksum, hash and chain link, and
   * replays it to confirm it yields the current state; with `publicKey`, checks the heads that
   * key signed, and with `anchor`, that the journal continues a head kept elsewhere (see
   * `verify.ts`). Never throws for damage or tampering: it reports, with the assurance reached.
   */
  verify(options: VerifyOptions = {}): VerifyReport {
    const checks = verifyChecksOf(options);
    this.ensureReadable();
    if (this.transactions.depth > 0)
      throw new CartridgeError('INVALID_ARGUMENT', 'verify inside a transaction');
    return verifyJournal(this.journal, { endOffset: this.head, syncedLength: this.head }, checks);
  }

  /**
   * Verifies a cartridge file that no handle needs to have open: opened read-only (no writer
   * lock, nothing written, no key but the public one), verified as `verify()` does, closed.
   *
   * An encrypted cartridge needs no key either: without one, the chain, the Merkle log, signed
   * heads and the anchor are checked over the stored (sealed) bytes, every level reachable,
   * but the replay that compares the index needs the plaintext and is skipped
   * (`stateChecked: false`). With `encryptionKey` (and `keyring`), it is opened and verified
   * in full.
   */
  static verifyFile(path: string, options: VerifyFileOptions = {}): VerifyReport {
    requireHostPath(path);
    requireOptionsObject('verifyFile options', options);
    const checks = verifyChecksOf({
      publicKey: options.publicKey,
      anchor: options.anchor,
      onProgress: options.onProgress,
    });
    const keyGiven = options.encryptionKey !== undefined || options.keyring !== undefined;
    if (!keyGiven) {
      const stored = verifyEncryptedWithoutKey(storageOf(options), path, checks);
      if (stored !== undefined) return stored;
    }
    let cartridge: Cartridge;
    try {
      cartridge = Cartridge.open(path, {
        readOnly: true,
        recovery: 'read-only-prefix',
        ...(options.storage === undefined ? {} : { storage: options.storage }),
        ...(options.encryptionKey === undefined ? {} : { encryptionKey: options.encryptionKey }),
        ...(options.keyring === undefined ? {} : { keyring: options.keyring }),
        ...(options.cipher === undefined ? {} : { cipher: options.cipher }),
      });
    } catch (error) {
      // Not even a prefix opens (the genesis record is damaged), or, with the key, a record
      // does not authenticate (changed by someone who recomputed the checksums; a wrong key is
      // refused before any record is read, and names no offset): damage, reported as such.
      const damage =
        error instanceof CartridgeError &&
        (error.code === 'JOURNAL_CORRUPT' ||
          (error.code === 'DECRYPTION_FAILED' && error.offset !== undefined));
      if (damage) return damagedReport(error);
      throw error;
    }
    try {
      // A file that opened cleanly (a torn unsynced tail aside) is checked up to the head the
      // open found, so that commits a writer appends meanwhile are not mistaken for damage. A
      // damaged one opened at its valid prefix: it is checked to its end, so that the damage is
      // reported rather than the prefix verified.
      const { file, headerKeeper, recovery } = cartridge.journal;
      const damaged = recovery.decision === 'fail-corrupt';
      const scope = damaged
        ? { endOffset: file.sizeBytes(), syncedLength: headerKeeper.header.syncedLength }
        : { endOffset: cartridge.head, syncedLength: cartridge.head };
      return verifyJournal(cartridge.journal, scope, checks);
    } finally {
      cartridge.close();
    }
  }

  // ---- tamper evidence ----------------------------------------------------------------------

  /**
   * Signs the committed head (cartridge id, record count, offset, chain hash and Merkle root)
   * with an Ed25519 private key, stores the signature in the journal as a `head.signed`
   * record, and returns it to be kept elsewhere too. An administrative operation.
   */
  signCheckpoint(signingKey: KeyInput): SignedHead {
    const key = ed25519PrivateKey(signingKey);
    this.ensureWritable();
    this.refuseInsideTransaction('signCheckpoint');
    // What is buffered or settled is committed first: the signed head is a commit of its own,
    // whose first record is the signature over everything before it.
    this.writes.settle();
    this.transaction(() => undefined);
    let signed: SignedHead | undefined;
    this.transaction(() => {
      this.gate.run(this.actor, 'All', ROOT_PATH, () => {
        signed = stageSignedHead(this.journal, key, (event) => this.writes.append(event));
      });
    });
    return signed as SignedHead;
  }

  /** The committed head, unsigned, to keep elsewhere as an anchor for `verify()`. */
  exportHead(): ExportedHead {
    this.ensureReadable();
    this.refuseInsideTransaction('exportHead');
    this.gate.check(this.actor, 'Read', ROOT_PATH);
    if (this.journal.writer.stagedCount > 0) this.transaction(() => undefined);
    return committedHead(this.journal);
  }

  /**
   * The proof that the record at `position` (its offset, or a `Position`) is part of the last
   * signed head: check it anywhere with `verifyProof(proof, publicKey)`. Reading a record's
   * body is an administrative operation, as reading the audit trail is.
   */
  proveRecord(position: RecordTarget): RecordProof {
    this.ensureReadable();
    this.refuseInsideTransaction('proveRecord');
    this.gate.check(this.actor, 'All', ROOT_PATH);
    return proveRecordAt(this.journal, position);
  }

  /**
   * Flushes (in every durability mode), writes a checkpoint when much journal follows
   * the last one, and releases the file. Any later call throws `CARTRIDGE_CLOSED`.
   */
  close(): void {
    if (this.closedValue) return;
    if (this.transactions.depth > 0) {
      throw new CartridgeError(
        'INVALID_ARGUMENT',
        'close inside a transaction; let it finish first',
      );
    }
    this.durability.cancel();
    let closeError: unknown;
    try {
      // A poisoned cartridge cannot make anything durable; close releases it and says so,
      // rather than returning as if the last commits were safe.
      if (!this.journal.readOnly) this.journal.writer.throwIfPoisoned();
      if (!this.journal.readOnly) {
        // Like the checkpoint, rewriting the trailing runs of small appends only makes later
        // reads cheaper: one that fails (a full disk) is reported after the sync.
        try {
          this.transactions.run(() => this.writes.consolidateTails());
        } catch (error) {
          closeError = error;
        }
        // What the lane holds is written before the sync that makes it durable.
        this.trail.flush();
        // The checkpoint only shortens the next open; the sync below is the promise. So a
        // checkpoint that fails (a full disk) is reported after the sync, never instead of it.
        if (this.durability.checkpointDueAtClose) {
          try {
            this.checkpoint();
          } catch (error) {
            closeError ??= error;
          }
        }
        // A closed cartridge ends at its journal's end ('full' keeps zeros past it while open).
        this.journal.writer.releaseReservation();
        // Close syncs in every mode, 'off' included: it is the one moment the caller says the
        // work is done, and it publishes the last checkpoint in the header.
        this.durability.syncNow();
      }
    } finally {
      this.closedValue = true;
      this.followTimer.stop();
      this.trail.stop();
      this.bus.close();
      this.pool.clear();
      this.journal.pages.clear();
      this.journal.file.close();
      for (const file of this.retiredFiles.splice(0)) file.close();
    }
    if (closeError !== undefined) throw closeError;
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
    if (this.closedValue) throw new CartridgeError('CARTRIDGE_CLOSED', 'the cartridge is closed');
  }

  /** Reads see buffered appends: inside a transaction, they are staged first. */
  private ensureReadable(): void {
    this.ensureOpen();
    this.writes.settle();
  }

  private ensureWritable(): void {
    this.ensureOpen();
    if (this.journal.readOnly)
      throw new CartridgeError('READ_ONLY', 'the cartridge is open read-only');
    this.journal.writer.throwIfPoisoned();
  }
}

/** What `Cartridge.verifyFile` takes: the checks, and how to read the file. */
export type VerifyFileOptions = VerifyOptions &
  Pick<CartridgeOptions, 'storage' | 'encryptionKey' | 'keyring' | 'cipher'>;

/**
 * The key-less verification of an encrypted file (see `verifyStored`); undefined for a plain
 * file, which the caller verifies in full.
 */
function verifyEncryptedWithoutKey(
  storage: Storage,
  path: string,
  checks: VerifyChecks,
): VerifyReport | undefined {
  let opened;
  try {
    opened = openHeaderOnly(storage, path);
  } catch {
    // No header to read: the full path opens the file again and reports or throws as for any.
    return undefined;
  }
  const { file, header } = opened;
  try {
    if (header.cipherCode === 0) return undefined;
    // Checked to the end of the file, as a damaged file is: nothing was opened to say where a
    // clean journal ends, and a torn unsynced tail is told from damage by the synced length.
    return verifyStored(
      file,
      header,
      { endOffset: file.sizeBytes(), syncedLength: header.syncedLength },
      checks,
    );
  } finally {
    file.close();
  }
}

function storageOf(options: CartridgeOptions): Storage {
  return options.storage ?? new NodeStorage();
}
