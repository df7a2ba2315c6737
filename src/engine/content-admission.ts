/**
 * Which blobs read from the journal are offered to the buffer pool. A small blob is offered on
 * its first read, as ARC expects: it was read into memory Node carves from a shared slab, and
 * keeping it costs a small copy. A larger one (from LARGE_BLOB_MIN_BYTES, where a buffer is an
 * allocation of its own) is offered only when it is read again while its first read is still
 * remembered: until then the caller gets the bytes the record was read into, with no second
 * buffer and no copy. A 64 KiB read that missed the pool took 180-200 µs with the copy and the
 * pool's bookkeeping, 100-130 without; a cold 4 KiB get, read straight into a result's room in
 * the result slabs, 15-23 µs against 16-25 (ARCHITECTURE.md §92). A file read once (a backup, a
 * scan, a stream, a cold lookup) then costs the pool nothing, and a file read twice is kept
 * from its second read on.
 *
 * The memory of first reads is a bounded list of record offsets, oldest forgotten first: as
 * many as the pool could hold large blobs, within limits. An offset reused by another record
 * (a journal tail cut and written again) only changes what is cached, never what is read.
 */

export const LARGE_BLOB_MIN_BYTES = 4 * 1024;
const REMEMBERED_MIN = 64;
const REMEMBERED_MAX = 16_384;

export class ContentAdmission {
  /** Offsets of large blobs read once, in the order they were read (a Map keeps it). */
  private readonly readOnce = new Map<number, true>();
  private readonly rememberedMax: number;

  constructor(poolCapacityBytes: number) {
    this.rememberedMax = Math.min(
      REMEMBERED_MAX,
      Math.max(REMEMBERED_MIN, Math.floor(poolCapacityBytes / LARGE_BLOB_MIN_BYTES)),
    );
  }

  /** Whether the blob of `lengthBytes` just read from the record at `offset` goes to the pool. */
  admits(offset: number, lengthBytes: number): boolean {
    if (lengthBytes < LARGE_BLOB_MIN_BYTES) return true;
    if (this.readOnce.delete(offset)) return true;
    this.readOnce.set(offset, true);
    if (this.readOnce.size > this.rememberedMax) {
      this.readOnce.delete(this.readOnce.keys().next().value as number);
    }
    return false;
  }
}
