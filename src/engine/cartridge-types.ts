export type { DiffEntry } from '../projections/catalog-diff.js';
import type { BufferPoolStats } from '../projections/buffer-pool.js';
import type { Durability } from './options.js';

/** What `metadata(path)` returns. Times are milliseconds since the Unix epoch. */
export interface EntryMetadata {
  readonly type: 'file' | 'directory';
  readonly path: string;
  /** Content length for a file; 0 for a directory. */
  readonly sizeBytes: number;
  readonly createdAtMs: number;
  readonly modifiedAtMs: number;
  /** POSIX permission bits (0o644 for files, 0o755 for directories by default). */
  readonly mode: number;
  readonly inode: number;
  /** Number of 4 KiB blocks charged to the entry's content. */
  readonly blockCount: number;
}

/** What `stats()` returns. */
export interface CartridgeStats {
  /** The capacity in 4 KiB blocks, or, without a capacity, the used blocks (it grows). */
  readonly totalBlocks: number;
  readonly usedBlocks: number;
  readonly freeBlocks: number;
  readonly capacityBlocks: number | null;
  /** Share of the journal's bytes that no live file refers to (what compaction would reclaim). */
  readonly fragmentation: number;
  readonly journalBytes: number;
  readonly liveBytes: number;
  readonly deadBytes: number;
  /** `liveBytes` in 4 KiB pages, rounded up. */
  readonly livePages: number;
  readonly recordCount: number;
  /** Journal offset after the last commit. */
  readonly head: number;
  /** Journal offset up to which the header records the journal as durable. */
  readonly syncedLength: number;
  readonly fileCount: number;
  readonly directoryCount: number;
  /** Offset of the latest checkpoint root this handle knows of; `0` when there is none. */
  readonly checkpointOffset: number;
  /**
   * The oldest journal offset that history must keep: named snapshots, open change streams and
   * live checkout views pin their positions against compaction. Null when nothing is pinned.
   */
  readonly oldestPinnedOffset: number | null;
  /** Catalog index pages changed since the last checkpoint (what the next one will write). */
  readonly dirtyIndexPages: number;
  readonly durability: Durability;
  readonly bufferPool: BufferPoolStats;
}

export interface VerifyReport {
  /** True when every record checks out and replaying all of them gives the current state. */
  readonly ok: boolean;
  /** What the check can prove: the hash chain detects edits; truncation needs an anchor. */
  readonly assurance: 'hash-chain';
  readonly recordsChecked: number;
  readonly bytesChecked: number;
  /** The chain hash of the last record, hex; keep it elsewhere to detect truncation later. */
  readonly headHash: string;
  readonly damageOffset: number | null;
  readonly damageReason: string | null;
  /** Whether replaying the whole journal gives the same catalog index, page for page. */
  readonly stateMatches: boolean;
}

/**
 * Bytes `[start, end)` of a file for `readFile`: `start` defaults to 0, `end` to the file's
 * size, and a range past the end stops at the end (as `Buffer.subarray` does).
 */
export interface ByteRange {
  readonly start?: number;
  readonly end?: number;
}

export interface CreateDirectoryOptions {
  /** Create missing parents, and succeed when the directory already exists. */
  readonly recursive?: boolean;
}

export interface DiffOptions {
  /** Only entries at or under this path (default `/`). */
  readonly prefix?: string;
}

export interface HistoryOptions {
  /** At most this many versions, the newest (default: all). */
  readonly limit?: number;
}

export interface RestoreResult {
  /** The state restored: the head right after its last commit. */
  readonly targetHead: number;
  readonly snapshot: string | null;
  /** Entries the restore deleted or set. */
  readonly changedCount: number;
  /** The head after the restore's commit. */
  readonly head: number;
}
