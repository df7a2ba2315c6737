import { decodeFileHeaderSlot, HEADER_SLOT_BYTES, JOURNAL_START_OFFSET } from '../../src/journal/file-header.js';
import type {
  FileIdentity,
  LockHolder,
  OpenFileOptions,
  PathStatus,
  Storage,
  StorageFile,
} from '../../src/journal/io/storage.js';

/**
 * Wraps a storage and checks the engine's write ordering (SQLite's journal-test VFS idea):
 * a header slot may only claim a `syncedLength`, or name a checkpoint, once every journal write
 * below that length has been synced. A header written too early could make a crash keep a
 * header that vouches for records the disk never got. Violations are counted, not thrown, so
 * that a campaign reports them all.
 */
export class OrderingCheckStorage implements Storage {
  private violationList: string[] = [];

  constructor(private readonly inner: Storage) {}

  get violations(): readonly string[] {
    return this.violationList;
  }

  open(path: string, options: OpenFileOptions): StorageFile {
    return new OrderingCheckFile(this.inner.open(path, options), (violation) => this.violationList.push(violation));
  }

  exists(path: string): boolean {
    return this.inner.exists(path);
  }

  syncDirectory(directoryPath: string): void {
    this.inner.syncDirectory(directoryPath);
  }

  statPath(path: string): PathStatus | undefined {
    return this.inner.statPath(path);
  }

  remove(path: string): void {
    this.inner.remove(path);
  }

  rename(fromPath: string, toPath: string): void {
    this.inner.rename(fromPath, toPath);
  }
}

class OrderingCheckFile implements StorageFile {
  /** Journal byte ranges written since the last sync, as [start, end). */
  private unsynced: [number, number][] = [];

  constructor(
    private readonly inner: StorageFile,
    private readonly report: (violation: string) => void,
  ) {}

  writeInPlace(): boolean {
    return this.inner.writeInPlace?.() === true;
  }

  sizeBytes(): number {
    return this.inner.sizeBytes();
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): number {
    return this.inner.read(target, targetOffset, length, position);
  }

  write(buffers: readonly Uint8Array[], position: number): void {
    const lengthBytes = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    if (position < JOURNAL_START_OFFSET && buffers.length === 1 && lengthBytes === HEADER_SLOT_BYTES) {
      this.checkHeader(Buffer.from(buffers[0] as Uint8Array), position);
    }
    this.inner.write(buffers, position);
    if (position + lengthBytes > JOURNAL_START_OFFSET) {
      this.unsynced.push([Math.max(position, JOURNAL_START_OFFSET), position + lengthBytes]);
    }
  }

  private checkHeader(slot: Buffer, position: number): void {
    const verdict = decodeFileHeaderSlot(slot);
    if (verdict.kind !== 'valid') {
      this.report(`header slot at ${position} written invalid`);
      return;
    }
    const { syncedLength, checkpointOffset } = verdict.header;
    if (checkpointOffset !== 0 && checkpointOffset >= syncedLength) {
      this.report(`header names checkpoint ${checkpointOffset} beyond syncedLength ${syncedLength}`);
    }
    for (const [start] of this.unsynced) {
      if (start < syncedLength) {
        this.report(`header claims syncedLength ${syncedLength} while bytes at ${start} are unsynced`);
        return;
      }
    }
  }

  truncate(sizeBytes: number): void {
    this.inner.truncate(sizeBytes);
    this.unsynced = this.unsynced
      .filter(([start]) => start < sizeBytes)
      .map(([start, end]) => [start, Math.min(end, sizeBytes)] as [number, number]);
  }

  sync(): void {
    this.inner.sync();
    this.unsynced = [];
  }

  close(): void {
    this.inner.close();
  }

  identity(): FileIdentity {
    return this.inner.identity();
  }

  tryLock(): boolean {
    return this.inner.tryLock();
  }

  lockHolder(): LockHolder {
    return this.inner.lockHolder();
  }
}
