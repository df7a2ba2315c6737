import { Slab } from '../journal/slab.js';
import { SMALL_EXTENT_BYTES } from '../limits.js';
import type { FileNode } from '../projections/catalog.js';

/** A UTF-16 code unit takes at most three bytes in UTF-8 (a surrogate pair, four for two). */
const UTF8_BYTES_PER_UNIT_MAX = 3;

/** The bytes `piece` takes in UTF-8 at most, without measuring it. */
export function lengthBytesAtMost(piece: string | Uint8Array): number {
  return typeof piece === 'string' ? piece.length * UTF8_BYTES_PER_UNIT_MAX : piece.length;
}

/**
 * Text of at least this many bytes is written into a shared slab (see `SLAB_BYTES`); smaller
 * text gets a buffer of its own, as the journal writer may keep it after its commit
 * (`JournalWriter.recentBlob`), and a kept view must not hold a whole slab alive.
 */
const SLAB_TEXT_MIN_BYTES = SMALL_EXTENT_BYTES;
/**
 * The slab the bytes of large text are carved from (see `Slab`): a transaction of 100 log lines
 * (12 KB) paid a native allocation of its own size for bytes that live only until they are
 * compressed and written, about a twentieth of its commit.
 */
const SLAB_BYTES = 256 * 1024;
const textSlab = new Slab(SLAB_BYTES);

/**
 * The UTF-8 bytes of `pieces` of text, which take at most `lengthBytesAtMost` bytes. Each piece
 * is written straight into the slab: joining a transaction's lines into one string first built
 * a 12 KB string only to copy it again, and measuring it (to tell ASCII, which copies as
 * Latin-1, from the rest) read it a third time; a transaction of 100 log lines spent more time
 * here than in its `writev`. Short text is copied out of the slab into a buffer of its own.
 */
function textBytes(pieces: readonly string[], lengthBytesAtMost: number): Buffer {
  if (lengthBytesAtMost > SLAB_BYTES / 2) return Buffer.from(pieces.join(''), 'utf8');
  const room = textSlab.room(lengthBytesAtMost);
  // The room holds the upper bound, so nothing is cut short.
  let text = '';
  for (const piece of pieces) text += piece;
  const writtenBytes = room.write(text, 0, 'utf8');
  if (writtenBytes < SLAB_TEXT_MIN_BYTES) return Buffer.from(room.subarray(0, writtenBytes));
  return textSlab.keep(writtenBytes);
}

/**
 * Appends to one file inside one transaction become one record. `appendFile` inside a
 * transaction adds its bytes here instead of staging a record; the engine stages them as one
 * `file.appended` record (cut into data records past DATA_RECORD_MAX_BYTES) when anything
 * else happens: another operation, a read, a savepoint, or the commit. A log written in
 * transactions of 100 lines pays one frame per transaction, not per line.
 *
 * Text is measured in UTF-8 lazily: the buffer keeps the bytes of the pieces measured so far
 * and an upper bound for the others, and the engine asks for the exact size only when the
 * bound could fail one of its checks. Measuring every line of a log (`Buffer.byteLength`, which
 * also flattens a freshly built string) cost about 5 % of a batched append.
 */
export class AppendBuffer {
  private pathValue: string | undefined;
  private spellingValue: unknown;
  private fileValue: FileNode | undefined;
  private chunks: (string | Uint8Array)[] = [];
  private allText = true;
  /** The UTF-8 bytes of `chunks[0..measuredCount)`. */
  private measuredBytes = 0;
  private measuredCount = 0;
  /** The upper bound (`lengthBytesAtMost`) of the pieces not measured yet. */
  private unmeasuredBytesAtMost = 0;

  /** The file the buffered bytes belong to, if any. */
  get path(): string | undefined {
    return this.pathValue;
  }

  /**
   * The file's entry as the catalog held it before the buffered bytes, and the path exactly as
   * the caller spelled it: a next append with the same spelling skips canonicalisation and the
   * catalog lookup (nothing else can change the file while bytes are buffered: every other
   * operation stages them first).
   */
  fileFor(spelling: unknown): FileNode | undefined {
    return this.pathValue !== undefined && spelling === this.spellingValue
      ? this.fileValue
      : undefined;
  }

  /** The bytes buffered, exactly (measures the text not measured yet). */
  get sizeBytes(): number {
    const chunks = this.chunks;
    for (let index = this.measuredCount; index < chunks.length; index++) {
      const chunk = chunks[index] as string | Uint8Array;
      this.measuredBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    }
    this.measuredCount = chunks.length;
    this.unmeasuredBytesAtMost = 0;
    return this.measuredBytes;
  }

  /** An upper bound of `sizeBytes`, without measuring anything. */
  get sizeBytesAtMost(): number {
    return this.measuredBytes + this.unmeasuredBytesAtMost;
  }

  /** Adds a piece: text (stored as UTF-8) or bytes the buffer may keep. */
  add(path: string, spelling: unknown, file: FileNode, piece: string | Uint8Array): void {
    if (this.pathValue !== path) this.clear();
    this.pathValue = path;
    this.spellingValue = spelling;
    this.fileValue = file;
    this.chunks.push(piece);
    if (typeof piece !== 'string') this.allText = false;
    this.unmeasuredBytesAtMost += lengthBytesAtMost(piece);
  }

  /**
   * Hands over the buffered bytes and empties the buffer. The bytes are always a fresh
   * concatenation that nothing else holds and nothing rewrites (never a caller's buffer): the
   * journal writer keeps small ones after the commit for consolidation to read
   * (`JournalWriter.recentBlob`). Large text is a slice of a slab (see `textBytes`).
   */
  take(): { path: string; spelling: unknown; file: FileNode; bytes: Buffer } | undefined {
    const path = this.pathValue;
    const spelling = this.spellingValue;
    const file = this.fileValue;
    if (path === undefined || file === undefined) return undefined;
    // Lines of text (the common case: a log) become bytes in one conversion.
    let bytes: Buffer;
    if (this.allText) {
      bytes = textBytes(this.chunks as string[], this.sizeBytesAtMost);
    } else {
      bytes = Buffer.concat(
        this.chunks.map((chunk) =>
          typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk,
        ),
      );
    }
    this.clear();
    return { path, spelling, file, bytes };
  }

  clear(): void {
    this.pathValue = undefined;
    this.spellingValue = undefined;
    this.fileValue = undefined;
    this.chunks = [];
    this.allText = true;
    this.measuredBytes = 0;
    this.measuredCount = 0;
    this.unmeasuredBytesAtMost = 0;
  }
}
