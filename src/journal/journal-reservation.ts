import { CartridgeError } from '../errors.js';
import type { StorageFile } from './io/storage.js';

/**
 * Space written ahead of the journal's end, as zeros, so that durable commits overwrite the
 * file instead of growing it.
 *
 * An `fdatasync` after a write that grows a file must also make the new length durable: on
 * ext4 that is a commit of the file system's own journal on top of the data. Measured here
 * (4 KiB records, one `fdatasync` each): 280-390 µs appending, 160-240 µs overwriting bytes
 * the file already had; a durable 4 KiB commit of the engine went from 760-1 150 to 575-670
 * µs. SQLite's WAL gets the same by reusing its file. So in the 'full' durability mode the
 * writer keeps a stretch of zeros past the journal's end, written (not a sparse `ftruncate`,
 * whose holes would still need blocks allocated at the first write into them) and made
 * durable by the next commit's sync.
 *
 * Recovery already reads a run of zeros after the last record as a file that grew before its
 * content arrived (`@zero-tail`): a crash leaves the zeros, and the next writer's open cuts
 * them. A clean close gives them back, so a closed cartridge ends at its journal's end as
 * before, and readers never see a difference in what they read.
 *
 * A failed zero write (a full disk) is not a failed commit: the zeros are cut back and the
 * writer goes on growing the file as before, reserving nothing more.
 */

/** The least the reservation grows by: a few hundred small commits. */
const RESERVATION_STEP_MIN_BYTES = 1024 * 1024;
/** How a writer keeps zeros ahead: how far at most, and which commits pass them by. */
export interface ReservationPolicy {
  /** The most one step adds (the least is RESERVATION_STEP_MIN_BYTES). */
  readonly stepMaxBytes: number;
  /**
   * Commits of at least this many bytes that would pass the zeros grow the file themselves,
   * with no zeros written for them; undefined: every commit keeps zeros ahead.
   */
  readonly largeCommitBytes: number | undefined;
}

/**
 * For a writer that syncs every commit: a large file grows by an eighth at a time, up to 16
 * MiB, so that the syncs that carry new zeros (and the file's new length) are few; every commit,
 * however large, then overwrites.
 */
export const SYNCED_RESERVATION: ReservationPolicy = {
  stepMaxBytes: 16 * 1024 * 1024,
  largeCommitBytes: undefined,
};

/**
 * For other writers, which keep zeros only so that commits are copied into a mapping of the
 * file (`mapped-tail.ts`). Zeros that a sync or the kernel's writeback reaches before a commit
 * does are written to the disk twice, so fewer are kept ahead. And a large commit gains nothing
 * from them: writing its zeros first cost as much as the copy saved (64 KiB writes: a median of
 * 46-62 µs against 74-76 appended, but a zero write of 1-2 MiB every 16-32 writes, 750 µs
 * each, brought the mean to 94-112 against 96-106), so it appends as before.
 */
export const MAPPED_RESERVATION: ReservationPolicy = {
  stepMaxBytes: RESERVATION_STEP_MIN_BYTES,
  largeCommitBytes: 32 * 1024,
};
/** Zeros are written from one buffer of this size, repeated in one `writev`. */
const ZERO_CHUNK_BYTES = 256 * 1024;

let zeroChunk: Buffer | undefined;

export class JournalReservation {
  /** Where the zeros end: the file's length as this writer left it (never before `endOffset`). */
  private reservedEnd: number;
  private stopped = false;

  constructor(
    private readonly file: StorageFile,
    journalEnd: number,
    private readonly policy: ReservationPolicy,
  ) {
    this.reservedEnd = journalEnd;
  }

  /** The length the file has with the journal ending at `journalEnd`. */
  fileEnd(journalEnd: number): number {
    return Math.max(journalEnd, this.reservedEnd);
  }

  /**
   * Before a commit writes `[journalEnd, commitEnd)`: makes sure zeros already lie there, so
   * that the commit overwrites. Throws only when a failed zero write could not be cut back
   * (the file's length is then unknown, and the caller poisons the writer).
   */
  reserve(journalEnd: number, commitEnd: number): void {
    if (this.stopped || commitEnd <= this.reservedEnd) return;
    const { largeCommitBytes, stepMaxBytes } = this.policy;
    if (largeCommitBytes !== undefined && commitEnd - journalEnd >= largeCommitBytes) return;
    // The commit's own bytes are not zeroed first: it writes them itself (a large write would
    // otherwise be written twice), growing the file this once.
    const from = Math.max(commitEnd, this.reservedEnd);
    const stepBytes = Math.min(
      stepMaxBytes,
      Math.max(RESERVATION_STEP_MIN_BYTES, Math.floor(commitEnd / 8)),
    );
    // Ends on a multiple of the step's minimum, so the zeros end on a page boundary.
    const to =
      Math.ceil((commitEnd + stepBytes) / RESERVATION_STEP_MIN_BYTES) * RESERVATION_STEP_MIN_BYTES;
    try {
      writeZeros(this.file, from, to - from);
      this.reservedEnd = to;
    } catch (error) {
      this.stopped = true;
      this.cutBackTo(journalEnd, error);
    }
  }

  /** A failed commit cut the file back to `offset`: the zeros past it went with it. */
  cutTo(offset: number): void {
    this.reservedEnd = offset;
  }

  /**
   * Gives the zeros back (at close, and before anything that needs the file to end at the
   * journal's end): the file is cut to `journalEnd`, the next sync makes that durable.
   */
  release(journalEnd: number): void {
    if (this.reservedEnd <= journalEnd) return;
    this.file.truncate(journalEnd);
    this.reservedEnd = journalEnd;
  }

  private cutBackTo(journalEnd: number, cause: unknown): void {
    try {
      this.file.truncate(journalEnd);
      this.reservedEnd = journalEnd;
    } catch {
      throw new CartridgeError('POISONED', 'a failed reservation could not be undone', { cause });
    }
  }
}

function writeZeros(file: StorageFile, position: number, lengthBytes: number): void {
  zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
  const pieces: Uint8Array[] = [];
  for (let remaining = lengthBytes; remaining > 0; remaining -= ZERO_CHUNK_BYTES) {
    pieces.push(remaining >= ZERO_CHUNK_BYTES ? zeroChunk : zeroChunk.subarray(0, remaining));
  }
  file.write(pieces, position);
}
