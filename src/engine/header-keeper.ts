import { assert } from '../assert.js';
import { fromSystemError } from '../errors.js';
import { encodeFileHeader, type FileHeader, slotOffsetOf } from '../journal/file-header.js';
import type { StorageFile } from '../journal/io/storage.js';
import type { RecordSealing } from '../journal/record-sealing.js';

/**
 * Keeps the file header current. Each update writes the slot the current generation does not
 * occupy. The caller syncs the journal before an update, so a header never points past durable
 * records, and syncs again after it through the journal writer, so that a failed fsync of the
 * header poisons the cartridge like any other failed fsync.
 *
 * In an encrypted cartridge, each update also records the id of the key that seals new
 * records, so that open can refuse a wrong key before reading any record.
 */
export class HeaderKeeper {
  constructor(
    private readonly file: StorageFile,
    private current: FileHeader,
    private readonly sealing: RecordSealing | undefined,
  ) {}

  /** Whether the header names another key than the one sealing new records (a rotation). */
  get keyIdStale(): boolean {
    return (
      this.sealing !== undefined && !this.sealing.keyring.currentKeyId.equals(this.current.keyId)
    );
  }

  get header(): FileHeader {
    return this.current;
  }

  update(changes: Partial<Pick<FileHeader, 'syncedLength' | 'checkpointOffset'>>): void {
    const next: FileHeader = {
      ...this.current,
      ...changes,
      keyId: this.sealing?.keyring.currentKeyId ?? this.current.keyId,
      generation: this.current.generation + 1,
    };
    assert(
      next.syncedLength >= 0 && next.checkpointOffset >= 0,
      'header offsets must not be negative',
    );
    try {
      this.file.write([encodeFileHeader(next)], slotOffsetOf(next.generation));
    } catch (error) {
      throw fromSystemError(error, 'header write');
    }
    this.current = next;
  }

  /** Writes both slots (create only): either survives a torn write of the other. */
  writeBoth(): void {
    const first = this.current;
    const second: FileHeader = { ...first, generation: first.generation + 1 };
    this.file.write([encodeFileHeader(first)], slotOffsetOf(first.generation));
    this.file.write([encodeFileHeader(second)], slotOffsetOf(second.generation));
    this.current = second;
  }
}
