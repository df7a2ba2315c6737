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

/** The state a checkpoint root records, one section per projection. */
export interface CheckpointSections {
  /** [rootOffset, rootSequence, nextInode, entryCount, fileCount] */
  readonly catalog: readonly number[];
  /** [usedBlocks, liveBytes] */
  readonly allocator: readonly number[];
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
    }
  | {
      readonly type: 'file.written';
      readonly path: string;
      readonly atMs: number;
      readonly sizeBytes: number;
      readonly extents: readonly Extent[];
    }
  | {
      readonly type: 'file.appended';
      readonly path: string;
      readonly atMs: number;
      readonly sizeBytes: number;
      readonly extents: readonly Extent[];
    }
  | { readonly type: 'entry.deleted'; readonly path: string; readonly atMs: number }
  | {
      readonly type: 'directory.created';
      readonly path: string;
      readonly inode: number;
      readonly mode: number;
      readonly atMs: number;
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
    };

export type JournalEventType = JournalEvent['type'];

/** A record as the projections see it: what happened, and where it sits in the journal. */
export interface JournalRecord {
  readonly offset: number;
  readonly sequence: number;
  /** Bytes the record occupies in the journal, header included. */
  readonly lengthBytes: number;
  readonly rawBlobLength: number;
  readonly event: JournalEvent;
}
