/**
 * What a record says happened. The frame's `type` byte is the discriminant on disk; the body
 * is a msgpack array whose positions are fixed per type (see `docs/FORMAT.md`).
 */

export const enum RecordType {
  Genesis = 1,
  Data = 2,
  FileCreated = 3,
  FileWritten = 4,
  FileAppended = 5,
  EntryDeleted = 6,
  DirectoryCreated = 7,
  IndexPage = 8,
  CheckpointRoot = 9,
  ExtentsConsolidated = 10,
  SnapshotCreated = 11,
  SnapshotDeleted = 12,
  RestoreStarted = 13,
  EntryRestored = 14,
  AuditBatch = 15,
  PolicySet = 16,
  HeadSigned = 17,
  KeyRotated = 18,
  FilePatched = 19,
  ContentErased = 21,
  SubjectKey = 22,
  ErasureSettled = 23,
  PathMoved = 24,
  JournalCompacted = 20,
}

/** What an operation did, in the policy language's terms. */
export type AuditAction = 'Read' | 'Write' | 'Create' | 'Delete' | 'List' | 'All';

/**
 * One audit entry: who did what to which path, when, whether the policy allowed it (and which
 * statement decided), and the record of the change it made, if it made one that committed.
 */
export interface AuditEntry {
  readonly atMs: number;
  readonly actor: string;
  readonly action: AuditAction;
  readonly path: string;
  readonly allowed: boolean;
  /** The `Sid` of the deciding statement; null without a policy, or for the default deny. */
  readonly sid: string | null;
  /** The offset of the first record of the change the operation made; null when none. */
  readonly changeOffset: number | null;
  /** True when the operation ran inside a transaction that rolled back. */
  readonly rolledBack: boolean;
}

/**
 * Where a run of file bytes lives: inside the blob of the record at `recordOffset`, whose
 * sequence number is `recordSequence`. The sequence binds the extent to one record, so a stale
 * or misdirected block that happens to hold a valid record at that offset is detected on read.
 * `recordLengthBytes` is the whole record's size in the journal: each content record is
 * referred to by one extent at most, so the live bytes of the journal are the sum of these,
 * and adjacent records can be read with one `pread`.
 */
export interface Extent {
  readonly recordOffset: number;
  readonly recordSequence: number;
  readonly blobOffset: number;
  readonly lengthBytes: number;
  readonly recordLengthBytes: number;
}

/**
 * The Merkle log's section of a checkpoint root (see `merkle-log.ts`): the tree's size, where
 * its unfinished block starts and that block's leaf hashes, the right edge of complete
 * subtrees, the nodes not yet written into the index, and the last signed head.
 */
export interface MerkleSection {
  readonly size: number;
  readonly blockStartOffset: number;
  /** The leaf hashes of the unfinished block, back to back (32 bytes each). */
  readonly pendingLeaves: Buffer;
  /** `[level, hash, firstOffset, ...]`: the right edge of complete subtrees, highest first. */
  readonly frontier: readonly (number | Buffer)[];
  /** `[level, index, hash, firstOffset, ...]`: complete nodes not in the index yet. */
  readonly unwritten: readonly (number | Buffer)[];
  /** The offset of the last `head.signed` record, or null when none was written. */
  readonly lastSignedOffset: number | null;
}

/** The state a checkpoint root records, one section per projection. */
export interface CheckpointSections {
  /** [rootOffset, rootSequence, nextInode, entryCount, fileCount] */
  readonly catalog: readonly number[];
  /** [usedBlocks, liveBytes] */
  readonly allocator: readonly number[];
  /** [lastCommitAtMs] */
  readonly timeline: readonly number[];
  readonly merkle: MerkleSection;
  /**
   * [erasedBlobCount, redactedVersionCount, pendingErasureCount, subjectKeyCount]: what the
   * erasure index holds, so that open and the first read answer "none" without a walk. Absent
   * in roots written before the section existed (the index is then asked by walking it).
   */
  readonly erasures?: readonly number[];
}

/**
 * Every event that changes a catalog entry names the record of the entry's previous change
 * (`previous`, a journal offset, or null for a path never seen before): each path's versions
 * form a chain backwards through the journal, which `history(path)` walks. A deleted path
 * keeps a tombstone in the index, so a file created again continues the chain.
 */
export type VersionLink = number | null;

/**
 * One step of a move (see the `path.moved` event): a file moves whole; a directory is opened at
 * the target (an empty copy of its entry) before its children move and closed at the source
 * (its now empty entry removed) after them. The steps of a move are a walk of the subtree, so
 * the catalog is a tree after every step and a move can be cut into records anywhere.
 */
export const enum MoveStep {
  File = 0,
  DirectoryOpened = 1,
  DirectoryClosed = 2,
}

/**
 * An entry a move changes: `relativePath` below the move's `from` and `to` ('' for the entry
 * moved itself), the source's last change (`previousFrom`: null for an opened directory, whose
 * source stays) and the target's (`previousTo`: null for a closed directory, and for a target
 * path never used), and a moved file's size (0 for directories).
 */
export interface MovedEntry {
  readonly step: MoveStep;
  readonly relativePath: string;
  readonly previousFrom: VersionLink;
  readonly previousTo: VersionLink;
  readonly sizeBytes: number;
}

/**
 * File content events list the extents of the data records written before them in the same
 * commit; when the record carries a blob of its own, that blob is the file's last extent.
 */
export type JournalEvent =
  | {
      readonly type: 'genesis';
      readonly cartridgeId: string;
      readonly createdAtMs: number;
      readonly capacityBlocks: number | null;
    }
  | { readonly type: 'data' }
  | {
      readonly type: 'file.created';
      readonly path: string;
      readonly inode: number;
      readonly mode: number;
      readonly atMs: number;
      readonly sizeBytes: number;
      readonly extents: readonly Extent[];
      readonly previous: VersionLink;
    }
  | {
      readonly type: 'file.written';
      readonly path: string;
      readonly atMs: number;
      readonly sizeBytes: number;
      readonly extents: readonly Extent[];
      readonly previous: VersionLink;
    }
  | {
      readonly type: 'file.appended';
      readonly path: string;
      readonly atMs: number;
      readonly sizeBytes: number;
      readonly extents: readonly Extent[];
      readonly previous: VersionLink;
    }
  | {
      /**
       * Replaces byte ranges of a file in place (the pages of one SQLite commit): the file is
       * first cut or kept to `sizeBytes`, then each range `[fileOffset, fileOffset +
       * lengthBytes)` of `ranges` (a flat list, ascending, not overlapping) takes the next
       * bytes of the patch content. The content is the blobs of the data records listed in
       * `extents` followed by the record's own blob, as for `file.written`. Bytes beyond the old
       * size that no range covers would be undefined, so such a record is forged.
       */
      readonly type: 'file.patched';
      readonly path: string;
      readonly atMs: number;
      readonly sizeBytes: number;
      readonly ranges: readonly number[];
      readonly extents: readonly Extent[];
      readonly previous: VersionLink;
    }
  | {
      readonly type: 'entry.deleted';
      readonly path: string;
      readonly atMs: number;
      readonly previous: VersionLink;
    }
  | {
      /**
       * Moves entries from under `from` to under `to` without touching their content (a file
       * keeps its inode, and with it its extents). `entries` are steps of one walk of the
       * subtree (see `MovedEntry`); a large subtree is several records of one commit.
       */
      readonly type: 'path.moved';
      readonly from: string;
      readonly to: string;
      readonly atMs: number;
      readonly entries: readonly MovedEntry[];
    }
  | {
      readonly type: 'directory.created';
      readonly path: string;
      readonly inode: number;
      readonly mode: number;
      readonly atMs: number;
      readonly previous: VersionLink;
    }
  | { readonly type: 'index.page' }
  | {
      readonly type: 'checkpoint';
      /** The full chain hash of the record before the root, so open resumes the chain here. */
      readonly chainBefore: Buffer;
      readonly sections: CheckpointSections;
    }
  | {
      readonly type: 'extents.consolidated';
      readonly path: string;
      /** Where in the file the run of extents starts that the record's blob replaces. */
      readonly fileOffset: number;
      /** How many extents the run had (a check on replay). */
      readonly replacedCount: number;
    }
  | {
      readonly type: 'snapshot.created';
      readonly name: string;
      readonly atMs: number;
      readonly description: string | null;
    }
  | { readonly type: 'snapshot.deleted'; readonly name: string; readonly atMs: number }
  | {
      /** Opens a restore transaction: the entries that follow bring the head to this target. */
      readonly type: 'restore.started';
      /** The state restored: the head (journal offset) right after its last commit. */
      readonly targetHead: number;
      readonly snapshot: string | null;
      readonly atMs: number;
    }
  | {
      /**
       * Sets one entry to how it was at a restore's target: kind, metadata and, for a file, its
       * content, as extents of the records that already hold it (nothing is copied). A file
       * with more extents than one body may list comes as several records: the first has
       * `fileOffset` 0 and replaces the entry, each later one continues at the size so far.
       */
      readonly type: 'entry.restored';
      readonly path: string;
      readonly atMs: number;
      readonly previous: VersionLink;
      readonly kind: 'file' | 'directory';
      readonly inode: number;
      readonly mode: number;
      readonly createdAtMs: number;
      readonly modifiedAtMs: number;
      /** For a file: the record that produced the content being restored (diff compares it). */
      readonly contentOffset: number;
      readonly sizeBytes: number;
      readonly fileOffset: number;
      readonly extents: readonly Extent[];
    }
  | {
      /** Audit entries of the audit lane, written with a commit or on their own. */
      readonly type: 'audit.batch';
      readonly entries: readonly AuditEntry[];
    }
  | {
      /** The access policy from now on: its canonical JSON, or null for none. */
      readonly type: 'policy.set';
      readonly policy: string | null;
      readonly atMs: number;
    }
  | {
      /**
       * Records from this one on are sealed with the key `keyId` names (8 lowercase hex
       * digits); the key itself is never stored.
       */
      readonly type: 'key.rotated';
      readonly keyId: string;
      readonly atMs: number;
    }
  | {
      /**
       * An Ed25519 signature over the head right before this record (see `signed-head.ts`):
       * `sequence` records, ending at `offset`, whose last chain hash is `headHash` and whose
       * Merkle root is `merkleRoot`.
       */
      readonly type: 'head.signed';
      readonly sequence: number;
      readonly offset: number;
      readonly headHash: Buffer;
      readonly merkleRoot: Buffer;
      readonly publicKey: Buffer;
      readonly signature: Buffer;
    }
  | {
      /**
       * The stored blobs of `erasures` are erased: overwritten in place with the erasure marker
       * (see `erasure-marker.ts`), after this record is durable. Stored in the clear, like a
       * signed head, so that the chain is checked across erased blobs without the key.
       */
      readonly type: 'content.erased';
      readonly kind: ErasureKind;
      readonly erasures: readonly ErasedBlob[];
      /**
       * The offsets of the version records whose content a redaction removes (none for a
       * shred): reading those versions is refused even where all their bytes live on in a
       * version kept (an append's earlier part), which no blob erasure could say.
       */
      readonly versions: readonly number[];
    }
  | {
      /**
       * A subject's data key: content under the path `subject` written after this record is
       * sealed with the key this record's blob holds (32 bytes, sealed, that is wrapped, by
       * the cartridge key like every blob).
       */
      readonly type: 'subject.key';
      readonly subject: string;
      readonly atMs: number;
    }
  | {
      /** Every blob the `content.erased` record at `erasureOffset` names is overwritten. */
      readonly type: 'erasure.settled';
      readonly erasureOffset: number;
    }
  | {
      /**
       * The record after the genesis of a compacted cartridge (see `compaction.ts`): it names
       * the head of the journal it was rewritten from, so the new chain, which covers this
       * body, commits to the old one. Never sealed: it holds only hashes and offsets.
       */
      readonly type: 'journal.compacted';
      /** The previous journal's head: its end offset, record count and last chain hash. */
      readonly previousHeadOffset: number;
      readonly previousHeadSequence: number;
      readonly previousHeadHash: Buffer;
      /** The previous journal's Merkle root over every record, as a signed head holds it. */
      readonly previousMerkleRoot: Buffer;
      /** Where the history kept began in the previous journal (a commit boundary). */
      readonly horizonOffset: number;
      /** How many records of the previous journal were not carried over. */
      readonly recordsDropped: number;
      /**
       * The commit time: the horizon's, so that commit times never go back (the records that
       * follow carry the times they had).
       */
      readonly atMs: number;
      /** When the compaction ran. */
      readonly compactedAtMs: number;
    };

export type JournalEventType = JournalEvent['type'];

/**
 * One record whose stored blob an erasure removes (see `content.erased`): where it is, and
 * what the chain and the Merkle log need of it once its blob bytes are gone: the BLAKE3 hash
 * of the stored blob as it was, and the CRC32C of its stored body, which the frame's payload
 * checksum no longer vouches for.
 */
export interface ErasedBlob {
  readonly recordOffset: number;
  readonly recordSequence: number;
  readonly storedBlobLength: number;
  readonly bodyChecksum: number;
  readonly blobHash: Buffer;
}

/** Why blobs were erased: `redacted` content, or the `shredded` data key of a subject. */
export type ErasureKind = 'redacted' | 'shredded';

/** A record as the projections see it: what happened, and where it sits in the journal. */
export interface JournalRecord {
  readonly offset: number;
  readonly sequence: number;
  /** Bytes the record occupies in the journal, header included. */
  readonly lengthBytes: number;
  readonly rawBlobLength: number;
  readonly event: JournalEvent;
  /**
   * The record's Merkle leaf hash (see `merkle.ts`). Readers that replay compute it; others
   * (an unchained change stream, a single record read) leave it empty, as nothing folds it.
   */
  readonly leafHash: Buffer;
  /**
   * Set on a record staged in an encrypted cartridge until it is written: its leaf hash is a
   * placeholder until then (it hashes the sealed bytes, which exist only at commit time), and
   * the Merkle log must fold it again once it is final (see `MerkleLog.settle`).
   */
  leafDeferred?: boolean;
}
