import { PAGE_SIZE_BYTES, PATCH_RANGES_MAX } from '../limits.js';
import type { FilePatch } from '../engine/write-path.js';

/**
 * Where a database's committed bytes live: a file of a cartridge (or of a view of one). Every
 * call goes through the cartridge's public API, so the access policy and the audit see
 * database reads and writes like any other.
 */
export interface PageSource {
  /** A key that names the database among the process's open ones (for the lock table). */
  readonly key: string;
  readonly readOnly: boolean;
  /** The committed size of the file. */
  sizeBytes(): number;
  /** Committed bytes `[start, end)`; `end` is at most the committed size. */
  read(start: number, end: number): Buffer;
  /** Writes the patches as one cartridge transaction (so one journal commit). */
  commit(patches: readonly FilePatch[][], sizeBytes: number): void;
}

/**
 * The pages of one open database file: committed pages are read from the source, and pages
 * written since SQLite's last sync are held here. SQLite runs with `journal_mode=MEMORY`,
 * `locking_mode=EXCLUSIVE`, `synchronous=NORMAL` and `cache_spill=OFF`, so the pages it writes
 * between two syncs are exactly one SQLite commit: `sync()` writes them as one cartridge
 * transaction, and a crash keeps either all of them or none.
 */
export class PageStore {
  /** Pages written since the last sync, by page index: each a full page. */
  private readonly dirty = new Map<number, Buffer>();
  private committedSizeBytes: number;
  private pendingSizeBytes: number;
  /**
   * Set by a failed sync until the next one succeeds. SQLite then rolls its transaction back by
   * writing the pages' old content again and syncing; those pages equal what the cartridge
   * holds, so they are dropped rather than written (a commit the policy or a full cartridge
   * refused would otherwise be refused again for its rollback).
   */
  private recovering = false;

  constructor(readonly source: PageSource) {
    this.committedSizeBytes = source.sizeBytes();
    this.pendingSizeBytes = this.committedSizeBytes;
  }

  get sizeBytes(): number {
    return this.pendingSizeBytes;
  }

  get dirtyPageCount(): number {
    return this.dirty.size;
  }

  /**
   * Fills `into` with the bytes from `offsetBytes`; returns false for a short read (past the
   * end), whose missing bytes are zero, as SQLite expects of `xRead`.
   */
  read(offsetBytes: number, into: Uint8Array): boolean {
    const endBytes = offsetBytes + into.length;
    let position = offsetBytes;
    while (position < endBytes) {
      const pageIndex = Math.floor(position / PAGE_SIZE_BYTES);
      const pageStart = pageIndex * PAGE_SIZE_BYTES;
      const pieceEnd = Math.min(endBytes, pageStart + PAGE_SIZE_BYTES);
      const page = this.dirty.get(pageIndex);
      if (page !== undefined) {
        into.set(page.subarray(position - pageStart, pieceEnd - pageStart), position - offsetBytes);
      } else {
        // Committed bytes, up to the size SQLite sees now; past it the read is short.
        const readableEnd = Math.min(pieceEnd, this.committedSizeBytes, this.pendingSizeBytes);
        if (readableEnd > position) {
          into.set(this.source.read(position, readableEnd), position - offsetBytes);
        }
        const zeroFrom = Math.max(readableEnd, position);
        if (zeroFrom < pieceEnd) into.fill(0, zeroFrom - offsetBytes, pieceEnd - offsetBytes);
      }
      position = pieceEnd;
    }
    if (endBytes > this.pendingSizeBytes) {
      into.fill(0, Math.max(0, this.pendingSizeBytes - offsetBytes));
      return false;
    }
    return true;
  }

  write(offsetBytes: number, bytes: Uint8Array): void {
    const endBytes = offsetBytes + bytes.length;
    let position = offsetBytes;
    while (position < endBytes) {
      const pageIndex = Math.floor(position / PAGE_SIZE_BYTES);
      const pageStart = pageIndex * PAGE_SIZE_BYTES;
      const pieceEnd = Math.min(endBytes, pageStart + PAGE_SIZE_BYTES);
      let page = this.dirty.get(pageIndex);
      if (page === undefined) {
        if (pieceEnd - position < PAGE_SIZE_BYTES) {
          // A partial page keeps the rest of its bytes: read them first (SQLite writes whole
          // pages to a database file, so this is rare).
          page = Buffer.alloc(PAGE_SIZE_BYTES);
          this.read(pageStart, page);
        } else {
          // Every byte is about to be overwritten: no need to zero the page first.
          page = Buffer.allocUnsafe(PAGE_SIZE_BYTES);
        }
        this.dirty.set(pageIndex, page);
      }
      page.set(
        bytes.subarray(position - offsetBytes, pieceEnd - offsetBytes),
        position - pageStart,
      );
      if (this.recovering && this.equalsCommitted(pageIndex, page)) this.dirty.delete(pageIndex);
      position = pieceEnd;
    }
    this.pendingSizeBytes = Math.max(this.pendingSizeBytes, endBytes);
  }

  private equalsCommitted(pageIndex: number, page: Buffer): boolean {
    const start = pageIndex * PAGE_SIZE_BYTES;
    if (start + PAGE_SIZE_BYTES > this.committedSizeBytes) return false;
    return page.equals(this.source.read(start, start + PAGE_SIZE_BYTES));
  }

  truncate(sizeBytes: number): void {
    for (const pageIndex of [...this.dirty.keys()]) {
      if (pageIndex * PAGE_SIZE_BYTES >= sizeBytes) this.dirty.delete(pageIndex);
    }
    const lastPage = this.dirty.get(Math.floor(sizeBytes / PAGE_SIZE_BYTES));
    if (lastPage !== undefined) lastPage.fill(0, sizeBytes % PAGE_SIZE_BYTES);
    this.pendingSizeBytes = sizeBytes;
  }

  /**
   * Writes the pages of the commit SQLite is syncing as one cartridge transaction. On failure
   * nothing of the commit is in the cartridge: the buffered pages are dropped, and SQLite,
   * told the sync failed, rolls its transaction back.
   */
  sync(): void {
    if (this.dirty.size === 0 && this.pendingSizeBytes === this.committedSizeBytes) {
      this.recovering = false;
      return;
    }
    const sizeBytes = this.pendingSizeBytes;
    // Pages past the committed size that SQLite never wrote would be a hole: they are zero.
    const firstNewPage = Math.ceil(this.committedSizeBytes / PAGE_SIZE_BYTES);
    for (let index = firstNewPage; index * PAGE_SIZE_BYTES < sizeBytes; index++) {
      if (!this.dirty.has(index)) this.dirty.set(index, Buffer.alloc(PAGE_SIZE_BYTES));
    }
    const records = this.recordsOf(sizeBytes);
    try {
      this.recovering = true;
      this.source.commit(records, sizeBytes);
      this.committedSizeBytes = sizeBytes;
      this.recovering = false;
    } finally {
      // Either way the buffered pages are settled: committed, or dropped with the commit.
      this.dirty.clear();
      this.pendingSizeBytes = this.committedSizeBytes;
    }
  }

  /**
   * The dirty pages below `sizeBytes` as the records of one commit: each run of consecutive
   * pages one patch, at most `PATCH_RANGES_MAX` patches a record. A loop rather than a helper
   * closure: this runs once per SQLite commit, and a named closure made per call costs more
   * than the rest of the loop under the TypeScript loader.
   */
  private recordsOf(sizeBytes: number): FilePatch[][] {
    const indexes = [...this.dirty.keys()].sort((left, right) => left - right);
    const records: FilePatch[][] = [];
    let patches: FilePatch[] = [];
    let runStart = 0;
    while (runStart < indexes.length) {
      const firstPage = indexes[runStart] as number;
      const offsetBytes = firstPage * PAGE_SIZE_BYTES;
      // The indexes ascend, so every page from here on lies past the size too.
      if (offsetBytes >= sizeBytes) break;
      let runEnd = runStart + 1;
      while (runEnd < indexes.length && indexes[runEnd] === firstPage + (runEnd - runStart)) {
        runEnd++;
      }
      // A run of one page (most single-row commits) is handed over as it is, without a copy:
      // the sync drops every dirty page and a later write of that page starts a new one, so
      // nothing changes these bytes after the commit, whether or not the journal keeps them.
      const joined =
        runEnd - runStart === 1
          ? (this.dirty.get(firstPage) as Buffer)
          : Buffer.concat(
              indexes.slice(runStart, runEnd).map((index) => this.dirty.get(index) as Buffer),
            );
      patches.push({ offsetBytes, content: joined.subarray(0, sizeBytes - offsetBytes) });
      if (patches.length === PATCH_RANGES_MAX) {
        records.push(patches);
        patches = [];
      }
      runStart = runEnd;
    }
    if (patches.length > 0 || records.length === 0) records.push(patches);
    return records;
  }

  /** Forgets pages not yet synced (the connection closes, or failed). */
  discard(): void {
    this.dirty.clear();
    this.pendingSizeBytes = this.committedSizeBytes;
  }
}
