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
  CheckpointPart = 8,
}

/**
 * Where a run of file bytes lives: inside the blob of the record at `recordOffset`, whose
 * sequence number is `recordSequence`. The sequence binds the extent to one record, so a stale
 * or misdirected block that happens to hold a valid record at that offset is detected on read.
 */
export interface Extent {
  readonly recordOffset: number;
  readonly recordSequence: number;
  readonly blobOffset: number;
  readonly lengthBytes: number;
}

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
  | {
      readonly type: 'checkpoint';
      readonly part: number;
      readonly partCount: number;
      readonly stateSizeBytes: number;
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
