import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type CrashMode,
  createFaultStorage,
  type FaultStorage,
} from '../../support/fault-storage.js';
import type { OpenFileOptions, StorageFile } from '../../../src/journal/io/storage.js';
import { codeThrownBy } from '../../support/expect-code.js';

const DIRECTORY = resolve('/cartridge-fault-test');
const PATH = join(DIRECTORY, 'journal.bin');
const CREATE: OpenFileOptions = { create: true, truncate: false, readOnly: false };
const EXISTING: OpenFileOptions = { create: false, truncate: false, readOnly: false };
const SEEDS = Array.from({ length: 24 }, (_, index) => index + 1);

function filled(sizeBytes: number, value: number): Uint8Array {
  return new Uint8Array(sizeBytes).fill(value);
}

const codeOf = codeThrownBy;

/** A storage holding one durable file (entry and bytes synced) filled with `base`. */
function storageWithBase(
  seed: number,
  base: Uint8Array,
): { storage: FaultStorage; file: StorageFile } {
  const storage = createFaultStorage(seed);
  const file = storage.open(PATH, CREATE);
  storage.syncDirectory(DIRECTORY);
  file.write([base], 0);
  file.sync();
  return { storage, file };
}

/** Reboots with `mode` and returns the bytes a fresh open sees. */
function crashAndRead(storage: FaultStorage, mode: CrashMode): Buffer {
  storage.crash(mode);
  const file = storage.open(PATH, EXISTING);
  const content = Buffer.alloc(file.sizeBytes());
  file.read(content, 0, content.byteLength, 0);
  file.close();
  // Buffer.equals, not toEqual: a deep compare of kilobytes per seed is needlessly slow.
  expect(content.equals(storage.durableSnapshot(PATH))).toBe(true);
  return content;
}

/** A '1' for each region that holds its new value and a '0' for each that kept its old one. */
function regionMask(
  content: Uint8Array,
  regions: readonly { position: number; sizeBytes: number; value: number; old: number }[],
): string {
  return regions
    .map(({ position, sizeBytes, value, old }) => {
      const region = content.subarray(position, position + sizeBytes);
      if (region.every((byte) => byte === value)) return '1';
      expect(region.every((byte) => byte === old)).toBe(true);
      return '0';
    })
    .join('');
}

describe('FaultStorage crash modes', () => {
  function threePendingWrites(seed: number): FaultStorage {
    const { storage, file } = storageWithBase(seed, filled(1024, 0xaa));
    file.write([filled(100, 1)], 0);
    file.write([filled(100, 2)], 200);
    file.write([filled(100, 3)], 1024);
    return storage;
  }

  it('drop-unsynced keeps exactly the synced bytes and invalidates old handles', () => {
    const storage = threePendingWrites(1);
    const durable = storage.durableSnapshot(PATH);
    expect(storage.snapshot(PATH).byteLength).toBe(1124);
    const oldHandle = storage.open(PATH, EXISTING);
    const content = crashAndRead(storage, { kind: 'drop-unsynced' });
    expect(content).toEqual(Buffer.from(filled(1024, 0xaa)));
    expect(storage.durableSnapshot(PATH)).toEqual(durable);
    expect(codeOf(() => oldHandle.sizeBytes())).toBe('ECRASHED');
    expect(codeOf(() => oldHandle.close())).toBe('ECRASHED');
  });

  it('keep-prefix applies exactly the first count pending operations', () => {
    const expected = Buffer.from(filled(1024, 0xaa));
    expected.fill(1, 0, 100);
    expected.fill(2, 200, 300);
    const two = crashAndRead(threePendingWrites(1), { kind: 'keep-prefix', count: 2 });
    expect(two).toEqual(expected);
    const none = crashAndRead(threePendingWrites(1), { kind: 'keep-prefix', count: 0 });
    expect(none).toEqual(Buffer.from(filled(1024, 0xaa)));
    const all = threePendingWrites(1);
    const visible = all.snapshot(PATH);
    expect(crashAndRead(all, { kind: 'keep-prefix', count: 99 })).toEqual(visible);
  });

  it('keep-prefix counts truncates as pending operations', () => {
    const { storage, file } = storageWithBase(1, filled(8, 5));
    file.write([filled(4, 6)], 8);
    file.truncate(2);
    expect(storage.snapshot(PATH)).toEqual(Buffer.from([5, 5]));
    const content = crashAndRead(storage, { kind: 'keep-prefix', count: 1 });
    expect(content).toEqual(Buffer.from([...filled(8, 5), ...filled(4, 6)]));
  });

  it('keep-subset keeps a seeded subset of whole writes, deterministically', () => {
    const regions = Array.from({ length: 8 }, (_, index) => ({
      position: index * 32,
      sizeBytes: 16,
      value: index + 1,
      old: 0xaa,
    }));
    const outcome = (seed: number): string => {
      const { storage, file } = storageWithBase(99, filled(256, 0xaa));
      for (const region of regions) file.write([filled(16, region.value)], region.position);
      const content = crashAndRead(storage, { kind: 'keep-subset', seed });
      expect(content.byteLength).toBe(256);
      return regionMask(content, regions);
    };
    const masks = SEEDS.map(outcome);
    expect(SEEDS.map(outcome)).toEqual(masks);
    expect(new Set(masks).size).toBeGreaterThan(1);
    expect(masks.some((mask) => mask.includes('0') && mask.includes('1'))).toBe(true);
  });

  it('keep-subset applies kept writes in order', () => {
    const outcomes = new Set<number>();
    for (const seed of SEEDS) {
      const { storage, file } = storageWithBase(1, filled(4, 0));
      file.write([filled(4, 1)], 0);
      file.write([filled(4, 2)], 0);
      const content = crashAndRead(storage, { kind: 'keep-subset', seed });
      expect(new Set(content).size).toBe(1);
      outcomes.add(content[0] ?? -1);
    }
    expect([...outcomes].sort()).toEqual([0, 1, 2]);
  });

  it('tear-last lands earlier writes whole and a seeded subset of the last write sectors', () => {
    const sectors = Array.from({ length: 8 }, (_, index) => ({
      position: 512 + index * 512,
      sizeBytes: 512,
      value: 7,
      old: index < 7 ? 0xaa : 0,
    }));
    const outcome = (seed: number): string => {
      const { storage, file } = storageWithBase(1, filled(4096, 0xaa));
      file.write([filled(100, 1)], 0);
      file.write([filled(4096, 7)], 512);
      const content = crashAndRead(storage, { kind: 'tear-last', sectorBytes: 512, seed });
      expect(content.byteLength).toBe(4608);
      expect(content.subarray(0, 100).every((byte) => byte === 1)).toBe(true);
      return regionMask(content, sectors);
    };
    const masks = SEEDS.map(outcome);
    expect(SEEDS.map(outcome)).toEqual(masks);
    expect(new Set(masks).size).toBeGreaterThan(1);
  });

  it('tear-last tears along sector boundaries of the file, not of the write', () => {
    const chunks = [
      { position: 700, sizeBytes: 3396, value: 9, old: 0 },
      { position: 4096, sizeBytes: 1104, value: 9, old: 0 },
    ];
    const masks = SEEDS.map((seed) => {
      const { storage, file } = storageWithBase(1, new Uint8Array(0));
      file.write([filled(4500, 9)], 700);
      const content = crashAndRead(storage, { kind: 'tear-last', sectorBytes: 4096, seed });
      expect(content.subarray(0, 700).every((byte) => byte === 0)).toBe(true);
      return regionMask(content, chunks);
    });
    expect(new Set(masks).size).toBeGreaterThan(1);
  });

  it('size-before-content extends the size but drops seeded sectors of content', () => {
    const sectors = Array.from({ length: 8 }, (_, index) => ({
      position: index * 512,
      sizeBytes: 512,
      value: index < 4 ? 1 : 2,
      old: 0,
    }));
    const outcome = (seed: number): string => {
      const { storage, file } = storageWithBase(1, new Uint8Array(0));
      file.write([filled(2048, 1)], 0);
      file.write([filled(2048, 2)], 2048);
      const content = crashAndRead(storage, { kind: 'size-before-content', seed });
      expect(content.byteLength).toBe(4096);
      return regionMask(content, sectors);
    };
    const masks = SEEDS.map(outcome);
    expect(SEEDS.map(outcome)).toEqual(masks);
    expect(new Set(masks).size).toBeGreaterThan(1);
    expect(masks.some((mask) => mask.includes('0'))).toBe(true);
  });
});

describe('FaultStorage directory entries', () => {
  function createdAndSynced(syncDirectory: string | undefined): FaultStorage {
    const storage = createFaultStorage(1);
    const file = storage.open(PATH, CREATE);
    file.write([filled(10, 4)], 0);
    file.sync();
    if (syncDirectory !== undefined) storage.syncDirectory(syncDirectory);
    return storage;
  }

  it('loses a synced file whose directory was never synced', () => {
    const storage = createdAndSynced(undefined);
    expect(storage.exists(PATH)).toBe(true);
    storage.crash({ kind: 'drop-unsynced' });
    expect(storage.exists(PATH)).toBe(false);
    expect(codeOf(() => storage.open(PATH, EXISTING))).toBe('ENOENT');
  });

  it('keeps the file once its own directory is synced', () => {
    const storage = createdAndSynced(DIRECTORY);
    expect(crashAndRead(storage, { kind: 'drop-unsynced' })).toEqual(Buffer.from(filled(10, 4)));
  });

  it('does not keep the file when another directory is synced', () => {
    const storage = createdAndSynced(join(DIRECTORY, 'elsewhere'));
    storage.crash({ kind: 'keep-prefix', count: 10 });
    expect(storage.exists(PATH)).toBe(false);
  });

  it('keeps unsynced entries when the crash mode asks', () => {
    const storage = createdAndSynced(undefined);
    const mode: CrashMode = { kind: 'drop-unsynced', keepUnsyncedEntries: true };
    expect(crashAndRead(storage, mode)).toEqual(Buffer.from(filled(10, 4)));
  });
});

describe('FaultStorage failure injection', () => {
  it('fails the nth write once, applying nothing', () => {
    const { storage, file } = storageWithBase(1, filled(4, 0));
    storage.failOn({ operation: 'write', nth: 2 });
    file.write([filled(1, 1)], 0);
    expect(codeOf(() => file.write([filled(1, 2)], 1))).toBe('EIO');
    expect(storage.snapshot(PATH)).toEqual(Buffer.from([1, 0, 0, 0]));
    file.write([filled(1, 3)], 2);
    file.write([filled(1, 4)], 3);
    expect(storage.snapshot(PATH)).toEqual(Buffer.from([1, 0, 3, 4]));
    expect(storage.writeCount).toBe(4);
  });

  it('fails the nth and every later write when persistent, with the chosen code', () => {
    const { storage, file } = storageWithBase(1, filled(4, 0));
    storage.failOn({ operation: 'write', nth: 2, persistent: true, errorCode: 'ENOSPC' });
    file.write([filled(1, 1)], 0);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect(codeOf(() => file.write([filled(1, 2)], 1))).toBe('ENOSPC');
    }
    expect(storage.snapshot(PATH)).toEqual(Buffer.from([1, 0, 0, 0]));
    storage.clearFailures();
    file.write([filled(1, 2)], 1);
    expect(storage.snapshot(PATH)).toEqual(Buffer.from([1, 2, 0, 0]));
  });

  it('only counts operations on the rule path', () => {
    const { storage, file } = storageWithBase(1, filled(4, 0));
    const other = storage.open(join(DIRECTORY, 'other.bin'), CREATE);
    storage.failOn({ operation: 'write', nth: 1, path: join(DIRECTORY, 'other.bin') });
    file.write([filled(1, 1)], 0);
    expect(codeOf(() => other.write([filled(1, 1)], 0))).toBe('EIO');
  });

  it('applies a strict prefix of a failing partial write', () => {
    const { storage, file } = storageWithBase(3, new Uint8Array(0));
    storage.failOn({ operation: 'write', nth: 1, partial: true, errorCode: 'EROFS' });
    const data = Uint8Array.from({ length: 1000 }, (_, index) => (index % 255) + 1);
    expect(codeOf(() => file.write([data.subarray(0, 300), data.subarray(300)], 0))).toBe('EROFS');
    const landed = storage.snapshot(PATH);
    expect(landed.byteLength).toBeLessThan(1000);
    expect(landed).toEqual(Buffer.from(data.subarray(0, landed.byteLength)));
  });

  it('fails open, read, truncate and syncDirectory on request', () => {
    const { storage, file } = storageWithBase(1, filled(4, 1));
    storage.failOn({ operation: 'open', nth: 1 });
    storage.failOn({ operation: 'read', nth: 1 });
    storage.failOn({ operation: 'truncate', nth: 1 });
    storage.failOn({ operation: 'syncDirectory', nth: 1 });
    const newPath = join(DIRECTORY, 'new.bin');
    expect(codeOf(() => storage.open(newPath, CREATE))).toBe('EIO');
    expect(storage.exists(newPath)).toBe(false);
    expect(codeOf(() => file.read(new Uint8Array(4), 0, 4, 0))).toBe('EIO');
    expect(codeOf(() => file.truncate(0))).toBe('EIO');
    expect(storage.snapshot(PATH).byteLength).toBe(4);
    storage.open(newPath, CREATE).close();
    expect(codeOf(() => storage.syncDirectory(DIRECTORY))).toBe('EIO');
    storage.crash({ kind: 'drop-unsynced' });
    expect(storage.exists(newPath)).toBe(false);
    expect(storage.exists(PATH)).toBe(true);
  });

  it('drops the pending writes when fsync fails, and reports it only once', () => {
    const { storage, file } = storageWithBase(1, filled(4, 1));
    file.write([filled(4, 2)], 0);
    file.write([filled(4, 3)], 4);
    storage.failOn({ operation: 'sync', nth: 1 });
    expect(codeOf(() => file.sync())).toBe('EIO');
    expect(storage.snapshot(PATH)).toEqual(Buffer.from(filled(4, 1)));
    expect(file.sizeBytes()).toBe(4);
    file.sync();
    expect(storage.syncCount).toBe(2);
    expect(crashAndRead(storage, { kind: 'keep-prefix', count: 10 })).toEqual(
      Buffer.from(filled(4, 1)),
    );
  });
});

describe('FaultStorage operation counting and armed crashes', () => {
  it('counts every attempted I/O operation by kind', () => {
    const storage = createFaultStorage(1);
    storage.failOn({ operation: 'sync', nth: 1 });
    const file = storage.open(PATH, CREATE);
    file.write([filled(2, 1)], 0);
    file.write([filled(2, 1)], 2);
    file.read(new Uint8Array(2), 0, 2, 0);
    file.truncate(1);
    expect(codeOf(() => file.sync())).toBe('EIO');
    file.sync();
    storage.syncDirectory(DIRECTORY);
    file.sizeBytes();
    storage.exists(PATH);
    expect(storage.operationCount('open')).toBe(1);
    expect(storage.operationCount('write')).toBe(2);
    expect(storage.operationCount('read')).toBe(1);
    expect(storage.operationCount('truncate')).toBe(1);
    expect(storage.operationCount('sync')).toBe(2);
    expect(storage.operationCount('syncDirectory')).toBe(1);
    expect(storage.operationCount()).toBe(8);
    expect(storage.syncCount).toBe(1);
    expect(storage.writeCount).toBe(2);
  });

  it('crashAfter(n) lets exactly n operations run, then everything throws ECRASHED', () => {
    const storage = createFaultStorage(1);
    storage.crashAfter(3);
    const file = storage.open(PATH, CREATE);
    storage.syncDirectory(DIRECTORY);
    file.write([filled(4, 1)], 0);
    expect(storage.crashed).toBe(true);
    expect(codeOf(() => file.sync())).toBe('ECRASHED');
    expect(codeOf(() => file.sizeBytes())).toBe('ECRASHED');
    expect(codeOf(() => storage.exists(PATH))).toBe('ECRASHED');
    expect(codeOf(() => storage.open(PATH, EXISTING))).toBe('ECRASHED');
    expect(storage.operationCount()).toBe(3);
    storage.crash({ kind: 'drop-unsynced' });
    expect(storage.crashed).toBe(false);
    expect(codeOf(() => file.read(new Uint8Array(1), 0, 1, 0))).toBe('ECRASHED');
    const reopened = storage.open(PATH, EXISTING);
    expect(reopened.sizeBytes()).toBe(0);
  });

  it('crashAfter(0) crashes before the next operation', () => {
    const storage = createFaultStorage(1);
    storage.crashAfter(0);
    expect(codeOf(() => storage.open(PATH, CREATE))).toBe('ECRASHED');
    expect(storage.operationCount()).toBe(0);
  });

  it('enumerates every crash point of a workload and always recovers a synced state', () => {
    const records = [filled(10, 1), filled(20, 2), filled(30, 3)];
    const workload = (storage: FaultStorage): void => {
      const file = storage.open(PATH, CREATE);
      storage.syncDirectory(DIRECTORY);
      let position = 0;
      for (const record of records) {
        file.write([record], position);
        file.sync();
        position += record.byteLength;
      }
      file.close();
    };
    const reference = createFaultStorage(1);
    workload(reference);
    const totalCount = reference.operationCount();
    expect(totalCount).toBe(8);
    const syncedSizes = [0, 10, 30, 60];
    const seen = new Set<string>();
    for (let crashPoint = 0; crashPoint <= totalCount; crashPoint += 1) {
      const storage = createFaultStorage(1);
      storage.crashAfter(crashPoint);
      // Even at the last point the workload dies: its final close comes after the crash.
      expect(codeOf(() => workload(storage))).toBe('ECRASHED');
      storage.crash({ kind: 'drop-unsynced' });
      if (!storage.exists(PATH)) {
        seen.add('absent');
        continue;
      }
      const content = storage.snapshot(PATH);
      expect(syncedSizes).toContain(content.byteLength);
      expect(content).toEqual(reference.snapshot(PATH).subarray(0, content.byteLength));
      seen.add(String(content.byteLength));
    }
    expect([...seen].sort()).toEqual(['0', '10', '30', '60', 'absent']);
  });

  it('plants durable bytes with setBytes that survive a crash', () => {
    const storage = createFaultStorage(1);
    storage.setBytes(PATH, Uint8Array.from([1, 2, 3]));
    const file = storage.open(PATH, EXISTING);
    file.write([Uint8Array.from([9])], 0);
    expect(storage.snapshot(PATH)).toEqual(Buffer.from([9, 2, 3]));
    expect(storage.durableSnapshot(PATH)).toEqual(Buffer.from([1, 2, 3]));
    expect(crashAndRead(storage, { kind: 'drop-unsynced' })).toEqual(Buffer.from([1, 2, 3]));
  });
});
