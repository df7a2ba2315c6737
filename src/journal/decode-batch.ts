import { assert } from '../assert.js';
import { journalCorrupt } from '../errors.js';
import { Codec } from './compression.js';
import { LZ4_BLOCKS_PER_CALL_MAX, nativeLz4 } from './native-lz4.js';

/**
 * The LZ4 blobs of one read, decoded together. A log read back whole is a hundred or more
 * consolidated records; decoding them one call each kept one core busy while the other idled.
 * Collected here, they are decoded in one call to the addon, which splits them between the
 * calling thread and a helper when they are large enough (see `native/cartridge-lz4.c`).
 *
 * The caller keeps every `stored` buffer unchanged until `flush` (the run buffers of the read),
 * and the targets are disjoint parts of its result. Nothing is decoded until `flush`, which the
 * batch also calls itself once it holds PENDING_MAX_BYTES of stored bytes or as many blocks as
 * one call takes, so that a read holds a bounded amount of stored bytes at once.
 */

/** Stored bytes a batch holds before it decodes them. */
const PENDING_MAX_BYTES = 16 * 1024 * 1024;

export class DecodeBatch {
  private sources: Uint8Array[] = [];
  private targets: Uint8Array[] = [];
  private offsets: number[] = [];
  private pendingBytes = 0;

  /** Whether blobs of `codec` wait in the batch (LZ4, when the addon decodes it). */
  static accepts(codec: Codec): boolean {
    return codec === Codec.Lz4 && nativeLz4 !== undefined;
  }

  /** Whether nothing waits: the buffers the waiting blobs lie in may then be reused. */
  get isEmpty(): boolean {
    return this.sources.length === 0;
  }

  /**
   * Queues the blob `stored` (of the record at `recordOffset`) to be decoded into `target`,
   * exactly its length; `JOURNAL_CORRUPT` with that offset, from `flush`, when it does not.
   */
  add(stored: Uint8Array, target: Uint8Array, recordOffset: number): void {
    this.sources.push(stored);
    this.targets.push(target);
    this.offsets.push(recordOffset);
    this.pendingBytes += stored.length;
    if (this.pendingBytes >= PENDING_MAX_BYTES || this.sources.length >= LZ4_BLOCKS_PER_CALL_MAX) {
      this.flush();
    }
  }

  /** Decodes everything queued. */
  flush(): void {
    if (this.sources.length === 0) return;
    const { sources, targets, offsets } = this;
    this.sources = [];
    this.targets = [];
    this.offsets = [];
    this.pendingBytes = 0;
    assert(nativeLz4 !== undefined, 'only blobs the addon decodes wait in a batch');
    const failed = nativeLz4.decodeBlocks(sources, targets);
    if (failed !== -1) {
      throw journalCorrupt(
        offsets[failed] as number,
        'compressed blob does not decode to its length',
      );
    }
  }
}
