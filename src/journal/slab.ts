/**
 * Memory carved front to back and never rewritten: bytes that live only until their record is
 * written (a transaction's appended text, its compressed blob) are cut from a shared slab
 * instead of costing a native allocation of their own each. A slab is replaced when the room
 * asked for does not fit, and freed once no view into it is left, so a piece kept longer only
 * holds its own slab alive. Pieces start at multiples of SLAB_ALIGNMENT_BYTES, as a fresh
 * allocation would.
 */
const SLAB_ALIGNMENT_BYTES = 8;

export class Slab {
  private buffer = Buffer.allocUnsafe(0);
  private usedBytes = 0;

  constructor(
    private readonly sizeBytes: number,
    /** Called with each new slab's memory before any of it is handed out. */
    private readonly prepare?: (memory: ArrayBuffer) => void,
  ) {}

  /**
   * Room for at least `lengthBytes` (at most the slab's size) at the slab's free end, for the
   * caller to write into; nothing is kept until `keep` says how much was written.
   */
  room(lengthBytes: number): Buffer {
    this.makeRoom(lengthBytes);
    return this.buffer.subarray(this.usedBytes);
  }

  /** Keeps the first `lengthBytes` of the last room given, and returns them. */
  keep(lengthBytes: number): Buffer {
    const start = this.usedBytes;
    const end = start + lengthBytes;
    this.usedBytes = Math.ceil(end / SLAB_ALIGNMENT_BYTES) * SLAB_ALIGNMENT_BYTES;
    return this.buffer.subarray(start, end);
  }

  /**
   * `lengthBytes` (at most the slab's size) carved for the caller to fill: `room` and `keep`
   * in one, with one view instead of two (a read's result takes this path every time).
   */
  take(lengthBytes: number): Buffer {
    this.makeRoom(lengthBytes);
    return this.keep(lengthBytes);
  }

  private makeRoom(lengthBytes: number): void {
    if (this.buffer.length - this.usedBytes < lengthBytes) {
      this.buffer = Buffer.allocUnsafeSlow(this.sizeBytes);
      this.usedBytes = 0;
      this.prepare?.(this.buffer.buffer);
    }
  }
}
