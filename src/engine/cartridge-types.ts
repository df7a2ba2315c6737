import type { ExportedHead, KeyInput, SignedHead } from '../proof/signed-head.js';
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

/**
 * What a verification reached: `'none'` (the chain is broken or the state does not replay),
 * `'chain'` (every record checks and chains: edits that were not re-chained are ruled out),
 * `'signed'` (also: the last head signed by the given key matches the journal at its place, so
 * nothing before it was edited, re-chained, removed, inserted or reordered), `'anchored'`
 * (also: the journal continues the head the caller kept, so it was not rolled back or forked).
 */
export type Assurance = 'none' | 'chain' | 'signed' | 'anchored';

/** Why a report is not ok (see docs/API.md, "Error codes"). */
export type VerifyFailureCode =
  | 'JOURNAL_CORRUPT'
  | 'SIGNATURE_INVALID'
  | 'NOT_SIGNED'
  | 'HEAD_MISMATCH'
  | 'ROLLBACK_DETECTED'
  | 'FORK_DETECTED';

export interface VerifyReport {
  /** True when every check asked for passed (the assurance reached is the one asked for). */
  readonly ok: boolean;
  /** The level every check reached, never more than was checked. */
  readonly assurance: Assurance;
  readonly recordsChecked: number;
  readonly bytesChecked: number;
  /** The chain hash of the last record, hex. */
  readonly headHash: string;
  /** The Merkle root over every record checked, hex. */
  readonly merkleRoot: string;
  /** Why the report is not ok; null when it is. */
  readonly code: VerifyFailureCode | null;
  /** The journal offset of the first record found bad, when the failure has one. */
  readonly firstBadOffset: number | null;
  readonly damageOffset: number | null;
  readonly damageReason: string | null;
  /** Whether replaying the whole journal gives the same catalog index, page for page. */
  readonly stateMatches: boolean;
  /**
   * Whether that replay was done. It needs the records' plaintext: verifying an encrypted
   * cartridge without its key checks the chain, the Merkle log and signed heads over the stored
   * bytes, and leaves this false (and `stateMatches` with it).
   */
  readonly stateChecked: boolean;
  /** The last head signed by the given key that checked out, when the level is signed or more. */
  readonly signedHead: SignedHead | null;
  /**
   * Records whose blob was found erased (redacted, or a shredded subject key), each checked
   * through the hash and body checksum its `content.erased` record keeps, which the walk also
   * checked in its place. Their content is gone; the chain, the Merkle log and signatures over
   * them still hold.
   */
  readonly erasedRecords: number;
  /**
   * For a compacted cartridge: the head of the journal it was rewritten from, as the
   * `journal.compacted` record after the genesis names it. The chain checked covers that
   * record, so this journal commits to that head; an anchor equal to it is reached (the old
   * journal's head when it was compacted). Null for a cartridge never compacted.
   */
  readonly compactedFrom: CompactedFrom | null;
}

/** The journal a compacted cartridge was rewritten from (see `VerifyReport.compactedFrom`). */
export interface CompactedFrom {
  /** The old journal's head: its end offset, record count, chain hash and Merkle root (hex). */
  readonly offset: number;
  readonly sequence: number;
  readonly headHash: string;
  readonly merkleRoot: string;
  /** Where the history kept began in the old journal, and that state's commit time. */
  readonly horizonOffset: number;
  readonly horizonAt: Date;
  readonly recordsDropped: number;
  readonly compactedAt: Date;
}

/** What `verify()` and `Cartridge.verifyFile()` check beyond the chain. */
export interface VerifyOptions {
  /** An Ed25519 public key: check the heads it signed (reaching 'signed'). */
  readonly publicKey?: KeyInput;
  /** A head kept elsewhere (`exportHead()` or `signCheckpoint()`): reaching 'anchored'. */
  readonly anchor?: ExportedHead | SignedHead;
  /**
   * Told how far the walk through the journal has come: after each mebibyte checked, and once
   * at the end. For progress bars; a throw from it stops the verification.
   */
  readonly onProgress?: (progress: VerifyProgress) => void;
}

/** How far a verification has come: journal bytes checked of those it will check. */
export interface VerifyProgress {
  readonly bytesChecked: number;
  readonly bytesTotal: number;
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

export interface WriteFileOptions {
  /**
   * Create the file (and its missing parents, as `createFile` does) when nothing is at the
   * path, instead of failing with `ENOENT`. The policy then decides `Create`, not `Write`.
   */
  readonly create?: boolean;
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
