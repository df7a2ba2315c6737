import { CartridgeError } from '../errors.js';
import { canonicalPath, parsePath } from '../path/canonical-path.js';
import type { BufferPoolStats } from '../projections/buffer-pool.js';
import type { Projections } from '../projections/projection-set.js';
import type { ByteRange, CartridgeStats, EntryMetadata } from './cartridge-types.js';
import { byteRangeOption } from './arguments.js';
import type { ContentReader } from './content-reader.js';
import { policyDocument } from './access-control.js';
import { ReadModel } from './read-model.js';

/**
 * A read-only view of a past state, from `Cartridge.checkout`. It answers the same reads as the
 * cartridge, from the state it was built with; the head moving on does not change it (the
 * journal is append-only, and the view holds its own overlay of the records it replayed). It
 * lives as long as the cartridge that made it: after `close()` of the cartridge, reads throw
 * `CARTRIDGE_CLOSED`. Every write is `READ_ONLY`.
 */
/** What a view needs of the cartridge that made it. */
export interface ViewHost {
  readonly content: ContentReader;
  /**
   * The gate of the cartridge, as the actor that checked the view out: each read is decided by
   * the policy in force now (a past state is no way around today's rules) and audited.
   */
  authorize(action: 'Read' | 'List', path: string): void;
  isOpen(): boolean;
  poolStats(): BufferPoolStats;
  /** The cartridge's id: with the view's head, it names a view's database among open ones. */
  readonly cartridgeId: string;
}

import type { Database, DatabaseOptions } from '../sqlite/database.js';
import { ReadOnlyWrites } from './read-only-writes.js';
import { openViewDatabase } from '../sqlite/open-database.js';

export class CartridgeView extends ReadOnlyWrites {
  protected readonly readOnlyName = 'a checked-out view';
  private readonly reads: ReadModel;

  /** @internal Made by `Cartridge.checkout`. */
  constructor(
    private readonly state: Projections,
    /** The journal offset right after the last commit the view holds. */
    readonly head: number,
    /** The snapshot the view was checked out by, if any. */
    readonly snapshot: string | null,
    private readonly host: ViewHost,
  ) {
    super();
    this.reads = new ReadModel(state, host.content);
  }

  readonly readOnly = true;

  /**
   * Opens the SQLite database at `path` as it was at the view's offset, read-only (SQLite must
   * be loaded: `await Cartridge.loadSqlite()`).
   */
  openDatabase(path: string, options?: DatabaseOptions): Database {
    this.ensureOpen();
    return openViewDatabase(this, this.host.cartridgeId, path, options);
  }

  readFile(path: string, range?: ByteRange): Buffer {
    this.ensureOpen();
    const bytes = byteRangeOption(range);
    // Decided before the lookup a trailing slash makes, as in the cartridge.
    const parsed = parsePath(path);
    this.host.authorize('Read', parsed.path);
    return this.reads.readFile(this.reads.fileOperand(parsed), bytes);
  }

  listDir(path: string): string[] {
    this.ensureOpen();
    const canonical = canonicalPath(path);
    this.host.authorize('List', canonical);
    return this.reads.listDir(canonical);
  }

  exists(path: string): boolean {
    this.ensureOpen();
    const parsed = parsePath(path);
    this.host.authorize('Read', parsed.path);
    return this.reads.exists(parsed);
  }

  metadata(path: string): EntryMetadata {
    this.ensureOpen();
    const parsed = parsePath(path);
    this.host.authorize('Read', parsed.path);
    return this.reads.metadata(this.reads.fileOperand(parsed));
  }

  /**
   * The access policy in force at the view's moment, in its canonical JSON form, or null: what
   * rules applied then (the view's own reads are decided by the policy in force now).
   */
  policy(): unknown {
    this.ensureOpen();
    this.host.authorize('Read', '/');
    return policyDocument(this.state.policy.policyJson());
  }

  /**
   * The counters of the state the view holds. Journal-wide figures describe the journal up to
   * the view's head; the buffer pool's are the cartridge's (the view shares its pool).
   */
  stats(): CartridgeStats {
    this.ensureOpen();
    this.host.authorize('Read', '/');
    // A view is a state, not a journal: it has synced what it holds, and pins its own head.
    return this.reads.stats(this.head, {
      recordCount: 0,
      syncedLength: this.head,
      checkpointOffset: this.state.timeline.lastRoot?.offset ?? 0,
      oldestPinnedOffset: this.head,
      durability: 'full',
      bufferPool: this.host.poolStats(),
    });
  }

  // ---- writes: a view is read-only (the write calls are `ReadOnlyWrites`') ------------------

  transaction(_body: unknown): never {
    throw this.refuseWrite();
  }

  /**
   * @internal The state, for diff and restore. Checked like a read: the state's pages are read
   * from the cartridge that made the view, so a view of a closed cartridge handed to another
   * one's `diff` would otherwise compare pages it can no longer read (or silently skip them).
   */
  get projections(): Projections {
    this.ensureOpen();
    return this.state;
  }

  private ensureOpen(): void {
    if (!this.host.isOpen())
      throw new CartridgeError('CARTRIDGE_CLOSED', 'the cartridge is closed');
  }
}
