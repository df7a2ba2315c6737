import { journalCorrupt } from '../errors.js';
import type { JournalRecord } from '../journal/journal-event.js';
import { PAGE_SIZE_BYTES } from '../limits.js';
import type { FileChange } from './catalog.js';
import type { UndoLog } from './undo-log.js';

/**
 * The allocator: the capacity account and the space account of the journal.
 *
 * Capacity is counted the way users think of it: a file of S bytes holds ceil(S / 4 KiB)
 * blocks, and the cartridge refuses (`ENOSPC`) content beyond `capacityBlocks`.
 *
 * The journal is append-only, so space is live (records some file's extents point into) or
 * dead (superseded history, reclaimable by compaction). Each content record is referred to by
 * one extent at most, and every file entry carries the journal bytes of its records, so the
 * live bytes are a sum the allocator keeps from each file's before and after: no per-record
 * map in memory, nothing that grows with the number of records.
 *
 * Its checkpoint section is `[usedBlocks, liveBytes]`.
 */

function blocksFor(sizeBytes: number): number {
  return Math.ceil(sizeBytes / PAGE_SIZE_BYTES);
}

export interface AllocatorState {
  readonly usedBlocks: number;
  readonly liveBytes: number;
}

export class Allocator {
  readonly name = 'allocator';
  private state: AllocatorState;

  constructor(
    private readonly undo: UndoLog,
    readonly capacityBlocks: number | null,
    state: AllocatorState = { usedBlocks: 0, liveBytes: 0 },
  ) {
    this.state = state;
  }

  get usedBlocks(): number {
    return this.state.usedBlocks;
  }

  /** Journal bytes of records that some file still refers to. */
  get liveBytes(): number {
    return this.state.liveBytes;
  }

  /** The live bytes in 4 KiB pages, rounded up. */
  get livePages(): number {
    return blocksFor(this.state.liveBytes);
  }

  get section(): AllocatorState {
    return this.state;
  }

  /** Whether `addedBlocks` more blocks fit after `releasedBlocks` are given back. */
  fits(addedBlocks: number, releasedBlocks: number): boolean {
    if (this.capacityBlocks === null) return true;
    return this.state.usedBlocks - releasedBlocks + addedBlocks <= this.capacityBlocks;
  }

  /** Folds what one record did to a file (the catalog reports it) into the accounts. */
  evolve(record: JournalRecord, change: FileChange): void {
    const { before, after } = change;
    if (before === undefined && after === undefined) return;
    const stateBefore = this.state;
    const usedBlocks =
      stateBefore.usedBlocks + blocksFor(after?.sizeBytes ?? 0) - blocksFor(before?.sizeBytes ?? 0);
    const liveBytes =
      stateBefore.liveBytes + (after?.recordBytes ?? 0) - (before?.recordBytes ?? 0);
    // The sections a checkpoint root carries are untrusted: an undercounted one shows here.
    if (usedBlocks < 0 || liveBytes < 0) {
      throw journalCorrupt(record.offset, 'the space account went below zero');
    }
    this.state = { usedBlocks, liveBytes };
    this.undo.push(() => {
      this.state = stateBefore;
    });
  }
}
