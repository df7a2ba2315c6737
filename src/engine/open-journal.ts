import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { CartridgeError, fromSystemError } from '../errors.js';
import { codecOf } from '../journal/compression.js';
import {
  chooseFileHeader,
  type FileHeader,
  HEADER_SLOT_BYTES,
  JOURNAL_START_OFFSET,
} from '../journal/file-header.js';
import { chainRootOf } from '../journal/hashing.js';
import type { Storage, StorageFile } from '../journal/io/storage.js';
import { RecordType } from '../journal/journal-event.js';
import {
  chainHashOfRecord,
  leafHashOfRaw,
  readRecordAt,
  storedBlobHashOf,
  toJournalRecord,
} from '../journal/journal-reader.js';
import { JournalWriter, type JournalTail } from '../journal/journal-writer.js';
import { MAPPED_RESERVATION, SYNCED_RESERVATION } from '../journal/journal-reservation.js';
import { isCommit, linkOf } from '../journal/record-frame.js';
import {
  corruptionError,
  endOfWrittenBytes,
  type RecoveryReport,
  type ReplayResult,
  replay,
} from '../journal/recovery.js';
import {
  applyRecord,
  freshProjections,
  type Projections,
  projectionsAt,
} from '../projections/projection-set.js';
import { fileGuardOf } from './file-identity.js';
import { HeaderKeeper } from './header-keeper.js';
import { IndexPageStore } from './index-page-store.js';
import { takeWriterLock } from './writer-lock.js';
import type { RecordSealing } from '../journal/record-sealing.js';
import { keyIdAfter } from '../projections/key-epoch.js';
import { headerEncryptionOf, sealingForCreate, sealingForOpen } from './encryption.js';
import { commitTimeAfter } from './commit-time.js';
import type { ResolvedOptions } from './options.js';
import { type Position, positionAfter } from '../position.js';

/**
 * Creating and opening the journal: header, checkpoint, replay of the tail, and the recovery
 * decision. The result is everything a `Cartridge` holds.
 */

export interface OpenedJournal extends Projections {
  readonly file: StorageFile;
  readonly headerKeeper: HeaderKeeper;
  readonly pages: IndexPageStore;
  readonly writer: JournalWriter;
  readonly recovery: RecoveryReport;
  readonly readOnly: boolean;
  /**
   * Where the checkpoint open started from ended (the journal start when there was none): the
   * position of the first record replayed.
   */
  readonly checkpointEnd: Position;
  /** Seals and opens the records of an encrypted cartridge; undefined for a plain one. */
  readonly sealing: RecordSealing | undefined;
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
  const createdAtMs = commitTimeAfter(options.clock.now(), 0);
  const sealing = sealingForCreate(options.encryption, cartridgeId);
  const pages = new IndexPageStore(file, options.indexCacheBytes, sealing);
  const projections = freshProjections(pages, options.capacityBlocks);
  const tail: JournalTail = {
    endOffset: JOURNAL_START_OFFSET,
    nextSequence: 0,
    lastHash: chainRootOf(cartridgeId),
  };
  const writer = new JournalWriter(file, tail, codecOf(options.compression), 0, sealing);
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
    headerKeeper = new HeaderKeeper(
      file,
      {
        generation: 0,
        cartridgeId,
        createdAtMs,
        capacityBlocks: options.capacityBlocks,
        syncedLength: writer.committedTail.endOffset,
        checkpointOffset: 0,
        compressionCodec: codecOf(options.compression),
        ...headerEncryptionOf(sealing),
        auditRetain: options.auditRetain,
      },
      sealing,
    );
    headerKeeper.writeBoth();
    writer.sync();
    if (durableDirectory) storage.syncDirectory(dirname(path));
    guardWriter(writer, storage, path, file, options);
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
    pages,
    writer,
    readOnly: false,
    checkpointEnd: positionAfter(tail),
    sealing,
    recovery: {
      label: '@clean',
      decision: 'accept',
      validEndOffset: writer.committedTail.endOffset,
      damageOffset: null,
      damageReason: null,
      droppedBytes: 0,
      checkpointOffset: null,
      checkpointRefused: null,
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

export interface CheckpointStart {
  readonly projections: Projections;
  readonly tail: JournalTail;
}

/**
 * Starts from the checkpoint root the header names: one record, whose body holds the
 * projections' sections and the full chain hash of the record before it. Nothing of the index
 * is read here; pages load as lookups need them, so open costs the same for ten files or a
 * million. A root that cannot be used (damaged, not a root, a broken link) makes open replay
 * from the genesis instead, and the report says why.
 */
export function loadCheckpoint(
  file: StorageFile,
  offset: number,
  pages: IndexPageStore,
  capacityBlocks: number | null,
  sealing: RecordSealing | undefined,
): CheckpointStart | string {
  try {
    const raw = readRecordAt(file, offset);
    if (raw.header.type !== RecordType.CheckpointRoot || !isCommit(raw.header)) {
      return 'the header names a record that is not a checkpoint root';
    }
    const blobHash = storedBlobHashOf(raw);
    // A root that does not open (a wrong key, tampering) throws: it is not damage to replay
    // around, and the records after it would not open either.
    const record = toJournalRecord(raw, sealing, leafHashOfRaw(raw, blobHash));
    if (record.event.type !== 'checkpoint') return 'not a checkpoint root';
    const { chainBefore, sections } = record.event;
    if (!raw.header.link.equals(linkOf(chainBefore))) return 'the root breaks the chain';
    const root = { offset, sequence: raw.header.sequence, atMs: sections.timeline[0] as number };
    return {
      projections: projectionsAt(pages, capacityBlocks, sections, root, record),
      tail: {
        endOffset: offset + record.lengthBytes,
        nextSequence: raw.header.sequence + 1,
        lastHash: chainHashOfRecord(chainBefore, raw, blobHash),
      },
    };
  } catch (error) {
    if (
      error instanceof CartridgeError &&
      (error.code === 'JOURNAL_CORRUPT' || error.code === 'LIMIT_EXCEEDED')
    ) {
      return error.message;
    }
    throw error;
  }
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
    if (!journal.readOnly) guardWriter(journal.writer, storage, path, file, options);
    return journal;
  } catch (error) {
    closeQuietly(file);
    throw error;
  }
}

/**
 * Opens the journal in a file this handle already holds open and locked for writing (a
 * compacted journal, renamed over `path`): the same open as `openJournal`, without a second
 * descriptor or lock, and with the sealing that wrote it. On failure the caller still owns
 * the file.
 */
export function openLockedFile(
  storage: Storage,
  path: string,
  file: StorageFile,
  options: ResolvedOptions,
  sealing: RecordSealing | undefined,
): OpenedJournal {
  // The sealing that wrote the file goes on: its keys (the caller's were wiped once used) and
  // its nonce counter, so no nonce is used twice.
  const journal = openFromFile(file, { ...options, readOnly: false }, sealing);
  guardWriter(journal.writer, storage, path, file, options);
  return journal;
}

/**
 * Installs a writer's file check, and the zeros kept ahead of its end (`JournalReservation`):
 * in the 'full' durability mode, where every commit is synced, so that syncs overwrite; in the
 * other modes when the file copies writes inside itself into a mapping, so that commits are
 * copies (a sync after such writes costs twice as much, so 'full' writes with `pwritev`). Such
 * commits raise no inotify event, so their file check may ask a watch on the path before its
 * `stat` (`file-identity.ts`).
 */
function guardWriter(
  writer: JournalWriter,
  storage: Storage,
  path: string,
  file: StorageFile,
  options: ResolvedOptions,
): void {
  const inPlace = options.durability !== 'full' && file.writeInPlace?.() === true;
  writer.guardWith(fileGuardOf(storage, path, file, inPlace, options.clock));
  if (options.durability === 'full') writer.reserveAhead(SYNCED_RESERVATION);
  else if (inPlace) writer.reserveAhead(MAPPED_RESERVATION);
}

/**
 * Opens a cartridge file read-only and reads its header, nothing else: no lock, no record read,
 * no key needed. The caller closes the file.
 */
export function openHeaderOnly(
  storage: Storage,
  path: string,
): { readonly file: StorageFile; readonly header: FileHeader } {
  const file = openFile(storage, path, true, false);
  try {
    return { file, header: readHeader(file) };
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

export function genesisStart(pages: IndexPageStore, header: FileHeader): CheckpointStart {
  return {
    projections: freshProjections(pages, header.capacityBlocks),
    tail: {
      endOffset: JOURNAL_START_OFFSET,
      nextSequence: 0,
      lastHash: chainRootOf(header.cartridgeId),
    },
  };
}

/** A replay, and the id of the key that seals new records after it (see `keyIdAfter`). */
interface KeyedReplay {
  readonly result: ReplayResult;
  readonly keyId: string;
}

function replayFrom(
  file: StorageFile,
  header: FileHeader,
  start: CheckpointStart,
  sealing: RecordSealing | undefined,
  readOnly: boolean,
): KeyedReplay {
  const { projections } = start;
  let keyId = header.keyId.toString('hex');
  const result = replay({
    file,
    startOffset: start.tail.endOffset,
    startTail: start.tail,
    fileSizeBytes: file.sizeBytes(),
    // A reader may share the file with a live writer that keeps zeros ahead of itself: past
    // damage it looks only as far as was written before it scanned (see `endOfWrittenBytes`).
    lookAheadEndOffset: readOnly ? endOfWrittenBytes(file) : undefined,
    syncedLength: header.syncedLength,
    sealing,
    onCommit: (records) => {
      for (const record of records) applyRecord(projections, record);
      if (sealing !== undefined) {
        for (const record of records) keyId = keyIdAfter(keyId, record);
      }
    },
  });
  return { result, keyId };
}

function openFromFile(
  file: StorageFile,
  options: ResolvedOptions,
  knownSealing?: RecordSealing,
): OpenedJournal {
  const header = readHeader(file);
  const sealing = knownSealing ?? sealingForOpen(options.encryption, header);
  let pages = new IndexPageStore(file, options.indexCacheBytes, sealing);
  let start: CheckpointStart | undefined;
  let checkpointRefused: string | null = null;
  if (header.checkpointOffset > 0) {
    const loaded = loadCheckpoint(
      file,
      header.checkpointOffset,
      pages,
      header.capacityBlocks,
      sealing,
    );
    if (typeof loaded === 'string') checkpointRefused = loaded;
    else start = loaded;
  }
  start ??= genesisStart(pages, header);
  let replayed: KeyedReplay;
  try {
    replayed = replayFrom(file, header, start, sealing, options.readOnly);
  } catch (error) {
    // Damage in an index page the tail needed (it lies before the root) does not doom the
    // journal: the records still hold everything, so open rebuilds from the genesis and says so.
    const inIndex =
      error instanceof CartridgeError &&
      error.code === 'JOURNAL_CORRUPT' &&
      start.tail.endOffset > JOURNAL_START_OFFSET &&
      (error.offset ?? Number.POSITIVE_INFINITY) < start.tail.endOffset;
    if (!inIndex) throw error;
    checkpointRefused = `index damaged: ${error.message}`;
    pages = new IndexPageStore(file, options.indexCacheBytes, sealing);
    start = genesisStart(pages, header);
    replayed = replayFrom(file, header, start, sealing, options.readOnly);
  }
  const { result } = replayed;
  // The key named by the last rotation replayed was given: its record opened with it.
  if (sealing !== undefined) sealing.keyring.useKey(Buffer.from(replayed.keyId, 'hex'));
  const { projections } = start;
  const checkpointEnd = positionAfter(start.tail);
  const usedCheckpoint = checkpointRefused === null && header.checkpointOffset > 0;
  const recovery: RecoveryReport = {
    ...result.report,
    checkpointOffset: usedCheckpoint ? header.checkpointOffset : null,
    checkpointRefused,
  };
  let readOnly = options.readOnly;
  if (recovery.decision === 'fail-corrupt') {
    if (options.recovery !== 'read-only-prefix') throw corruptionError(recovery);
    readOnly = true;
  }
  const headerKeeper = new HeaderKeeper(file, header, sealing);
  let syncedEnd = Math.min(header.syncedLength, result.tail.endOffset);
  if (recovery.decision === 'truncate-tail' && !readOnly) {
    cutTail(file, result.tail.endOffset);
    syncedEnd = result.tail.endOffset;
  }
  const writer = new JournalWriter(
    file,
    result.tail,
    codecOf(options.compression),
    syncedEnd,
    sealing,
  );
  return {
    file,
    headerKeeper,
    ...projections,
    pages,
    writer,
    recovery,
    readOnly,
    checkpointEnd,
    sealing,
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
