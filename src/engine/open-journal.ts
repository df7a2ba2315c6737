import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { CartridgeError, fromSystemError, journalCorrupt } from '../errors.js';
import { codecOf } from '../journal/compression.js';
import {
  chooseFileHeader,
  type FileHeader,
  HEADER_SLOT_BYTES,
  JOURNAL_START_OFFSET,
} from '../journal/file-header.js';
import { chainRootOf } from '../journal/hashing.js';
import type { Storage, StorageFile } from '../journal/io/storage.js';
import { type JournalRecord, RecordType } from '../journal/journal-event.js';
import { blobOf, type RawRecord, readRecordAt } from '../journal/journal-reader.js';
import { JournalWriter, type JournalTail } from '../journal/journal-writer.js';
import { chainHashOf, isCommit, recordLengthOf } from '../journal/record-frame.js';
import { corruptionError, type RecoveryReport, replay } from '../journal/recovery.js';
import { Allocator } from '../projections/allocator.js';
import { Catalog, type FileNode } from '../projections/catalog.js';
import { UndoLog } from '../projections/undo-log.js';
import { CheckpointDecoder, projectionSink } from './checkpoint.js';
import { fileGuardOf } from './file-identity.js';
import { HeaderKeeper } from './header-keeper.js';
import { takeWriterLock } from './writer-lock.js';
import { CHECKPOINT_PARTS_MAX } from '../limits.js';
import type { ResolvedOptions } from './options.js';

/**
 * Creating and opening the journal: header, checkpoint, replay of the tail, and the recovery
 * decision. The result is everything a `Cartridge` holds.
 */

export interface OpenedJournal {
  readonly file: StorageFile;
  readonly headerKeeper: HeaderKeeper;
  readonly undo: UndoLog;
  readonly catalog: Catalog;
  readonly allocator: Allocator;
  readonly writer: JournalWriter;
  readonly recovery: RecoveryReport;
  readonly readOnly: boolean;
  /** Where the checkpoint open started from ended (the journal start when there was none). */
  readonly checkpointEnd: number;
}

export interface Projections {
  readonly undo: UndoLog;
  readonly catalog: Catalog;
  readonly allocator: Allocator;
}

export function freshProjections(capacityBlocks: number | null): Projections {
  const undo = new UndoLog();
  const catalog = new Catalog(undo);
  const fileBefore = (path: string): FileNode | undefined => {
    const node = catalog.get(path);
    return node?.kind === 'file' ? node : undefined;
  };
  const allocator = new Allocator(undo, capacityBlocks, JOURNAL_START_OFFSET, fileBefore);
  return { undo, catalog, allocator };
}

export function applyRecord(projections: Projections, record: JournalRecord): void {
  // The allocator reads each file as it was before the record, so it goes first.
  projections.allocator.evolve(record);
  projections.catalog.evolve(record);
}

function openFile(
  storage: Storage,
  path: string,
  readOnly: boolean,
  truncate: boolean,
  create = false,
): StorageFile {
  try {
    return storage.open(path, { create, truncate, readOnly });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT')
      throw new CartridgeError('ENOENT', `no cartridge at ${path}`, { cause: error });
    if (code === 'EFTYPE') {
      throw new CartridgeError('NOT_A_CARTRIDGE', `${path} is not a regular file`, {
        cause: error,
      });
    }
    throw fromSystemError(error, `open ${path}`);
  }
}

export function createJournal(
  storage: Storage,
  path: string,
  options: ResolvedOptions,
  durableDirectory: boolean,
): OpenedJournal {
  // Not truncated at open: the lock comes first, so that a live cartridge is never destroyed.
  const file = openFile(storage, path, false, false, true);
  try {
    takeWriterLock(file, path);
  } catch (error) {
    closeQuietly(file);
    throw error;
  }
  const cartridgeId = randomBytes(16);
  const createdAtMs = Date.now();
  const projections = freshProjections(options.capacityBlocks);
  const tail: JournalTail = {
    endOffset: JOURNAL_START_OFFSET,
    nextSequence: 0,
    lastHash: chainRootOf(cartridgeId),
  };
  const writer = new JournalWriter(file, tail, codecOf(options.compression), 0);
  let headerKeeper: HeaderKeeper;
  try {
    file.truncate(0);
    const genesis = writer.stage({
      type: 'genesis',
      cartridgeId: cartridgeId.toString('hex'),
      createdAtMs,
      capacityBlocks: options.capacityBlocks,
    });
    writer.commit(false);
    applyRecord(projections, genesis);
    // A new cartridge is made durable whatever the durability mode: its genesis record, then
    // its header, then its directory entry. The header goes last so that a create that fails
    // (a full disk) or crashes leaves a file without a header, which no open accepts, never an
    // empty cartridge without its genesis record.
    writer.sync();
    headerKeeper = new HeaderKeeper(file, {
      generation: 0,
      cartridgeId,
      createdAtMs,
      capacityBlocks: options.capacityBlocks,
      syncedLength: writer.committedTail.endOffset,
      checkpointOffset: 0,
      compressionCodec: codecOf(options.compression),
    });
    headerKeeper.writeBoth();
    writer.sync();
    if (durableDirectory) storage.syncDirectory(dirname(path));
    writer.guardWith(fileGuardOf(storage, path, file));
  } catch (error) {
    // Removed while this handle still holds the lock, so that it cannot remove a cartridge
    // another writer creates at the path once the lock is free.
    removeQuietly(storage, path);
    closeQuietly(file);
    throw fromSystemError(error, `create ${path}`);
  }
  return {
    file,
    headerKeeper,
    ...projections,
    writer,
    readOnly: false,
    checkpointEnd: JOURNAL_START_OFFSET,
    recovery: {
      label: '@clean',
      decision: 'accept',
      validEndOffset: writer.committedTail.endOffset,
      damageOffset: null,
      damageReason: null,
      droppedBytes: 0,
    },
  };
}

/** Removes what a failed create made; the file has no header, so it opens as nothing anyway. */
function removeQuietly(storage: Storage, path: string): void {
  try {
    storage.remove(path);
  } catch {
    // The create's own error is the one to report.
  }
}

function readHeader(file: StorageFile): FileHeader {
  const slots = [0, 1].map((index) => {
    const slot = Buffer.alloc(HEADER_SLOT_BYTES);
    let read: number;
    try {
      read = file.read(slot, 0, HEADER_SLOT_BYTES, index * HEADER_SLOT_BYTES);
    } catch (error) {
      throw fromSystemError(error, 'header read');
    }
    return slot.subarray(0, read);
  });
  return chooseFileHeader(slots);
}

/**
 * Loads the checkpoint the header points at. Returns the tail after it, or `undefined` when
 * the checkpoint cannot be used (never written because of a crash, or damaged), in which case
 * open replays from the start of the journal instead.
 */
function loadCheckpoint(
  file: StorageFile,
  offset: number,
  projections: Projections,
): JournalTail | undefined {
  try {
    const decoder = new CheckpointDecoder(
      projectionSink(projections.catalog, projections.allocator),
      offset,
    );
    let position = offset;
    for (let part = 0; part < CHECKPOINT_PARTS_MAX; part++) {
      const raw = readRecordAt(file, position);
      const record = toCheckpointRecord(raw, part);
      decoder.addPart(blobOf(raw));
      position += record.lengthBytes;
      if (isCommit(raw.header)) {
        decoder.finish();
        projections.allocator.setJournalEnd(position);
        return {
          endOffset: position,
          nextSequence: raw.header.sequence + 1,
          lastHash: chainHashOf(raw.headerBytes, raw.body),
        };
      }
    }
    return undefined;
  } catch (error) {
    if (
      error instanceof CartridgeError &&
      (error.code === 'JOURNAL_CORRUPT' || error.code === 'LIMIT_EXCEEDED')
    ) {
      return undefined;
    }
    throw error;
  }
}

function toCheckpointRecord(raw: RawRecord, part: number): { lengthBytes: number } {
  const { header } = raw;
  if (header.type !== RecordType.CheckpointPart || header.commitIndex !== part) {
    throw journalCorrupt(raw.offset, 'not a checkpoint part');
  }
  return { lengthBytes: recordLengthOf(header) };
}

export function openJournal(
  storage: Storage,
  path: string,
  options: ResolvedOptions,
): OpenedJournal {
  const file = openFile(storage, path, options.readOnly, false);
  try {
    if (!options.readOnly) takeWriterLock(file, path);
    const journal = openFromFile(file, options);
    if (!journal.readOnly) journal.writer.guardWith(fileGuardOf(storage, path, file));
    return journal;
  } catch (error) {
    closeQuietly(file);
    throw error;
  }
}

/** Releases a file on an error path; the error being reported matters more than this one. */
function closeQuietly(file: StorageFile): void {
  try {
    file.close();
  } catch {
    // Nothing to do: the handle is unusable either way.
  }
}

function openFromFile(file: StorageFile, options: ResolvedOptions): OpenedJournal {
  const header = readHeader(file);
  let projections = freshProjections(header.capacityBlocks);
  let start: JournalTail | undefined;
  if (header.checkpointOffset > 0)
    start = loadCheckpoint(file, header.checkpointOffset, projections);
  if (start === undefined) {
    projections = freshProjections(header.capacityBlocks);
    start = {
      endOffset: JOURNAL_START_OFFSET,
      nextSequence: 0,
      lastHash: chainRootOf(header.cartridgeId),
    };
  }
  const checkpointEnd = start.endOffset;
  const result = replay({
    file,
    startOffset: start.endOffset,
    startTail: start,
    fileSizeBytes: file.sizeBytes(),
    syncedLength: header.syncedLength,
    onCommit: (records) => {
      for (const record of records) applyRecord(projections, record);
    },
  });
  let readOnly = options.readOnly;
  if (result.report.decision === 'fail-corrupt') {
    if (options.recovery !== 'read-only-prefix') throw corruptionError(result.report);
    readOnly = true;
  }
  const headerKeeper = new HeaderKeeper(file, header);
  let syncedEnd = Math.min(header.syncedLength, result.tail.endOffset);
  if (result.report.decision === 'truncate-tail' && !readOnly) {
    cutTail(file, result.tail.endOffset);
    syncedEnd = result.tail.endOffset;
  }
  const writer = new JournalWriter(file, result.tail, codecOf(options.compression), syncedEnd);
  return {
    file,
    headerKeeper,
    ...projections,
    writer,
    recovery: result.report,
    readOnly,
    checkpointEnd,
  };
}

/**
 * Cuts a torn tail away with ftruncate (not by overwriting, so that the next append lands
 * exactly at the repaired boundary) and makes the cut durable before anything is appended.
 */
function cutTail(file: StorageFile, endOffset: number): void {
  try {
    file.truncate(endOffset);
    file.sync();
  } catch (error) {
    throw fromSystemError(error, 'tail repair');
  }
}
