import type { FileNode } from '../projections/catalog.js';

/**
 * Appends to one file inside one transaction become one record. `appendFile` inside a
 * transaction adds its bytes here instead of staging a record; the engine stages them as one
 * `file.appended` record (cut into data records past DATA_RECORD_MAX_BYTES) when anything
 * else happens: another operation, a read, a savepoint, or the commit. A log written in
 * transactions of 100 lines pays one frame per transaction, not per line.
 */
export class AppendBuffer {
  private pathValue: string | undefined;
  private spellingValue: unknown;
  private fileValue: FileNode | undefined;
  private chunks: (string | Uint8Array)[] = [];
  private allText = true;
  private sizeBytesValue = 0;

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

  get sizeBytes(): number {
    return this.sizeBytesValue;
  }

  /** Adds a piece: text (stored as UTF-8, `lengthBytes` long) or bytes the buffer may keep. */
  add(
    path: string,
    spelling: unknown,
    file: FileNode,
    piece: string | Uint8Array,
    lengthBytes: number,
  ): void {
    if (this.pathValue !== path) this.clear();
    this.pathValue = path;
    this.spellingValue = spelling;
    this.fileValue = file;
    this.chunks.push(piece);
    if (typeof piece !== 'string') this.allText = false;
    this.sizeBytesValue += lengthBytes;
  }

  /** Hands over the buffered bytes (concatenated) and empties the buffer. */
  take(): { path: string; file: FileNode; bytes: Buffer } | undefined {
    const path = this.pathValue;
    const file = this.fileValue;
    if (path === undefined || file === undefined) return undefined;
    // Lines of text (the common case: a log) become bytes in one conversion.
    const bytes = this.allText
      ? Buffer.from((this.chunks as string[]).join(''), 'utf8')
      : Buffer.concat(
          this.chunks.map((chunk) =>
            typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk,
          ),
        );
    this.clear();
    return { path, file, bytes };
  }

  clear(): void {
    this.pathValue = undefined;
    this.spellingValue = undefined;
    this.fileValue = undefined;
    this.chunks = [];
    this.allText = true;
    this.sizeBytesValue = 0;
  }
}
