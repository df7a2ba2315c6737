import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFaultStorage } from '../../support/fault-storage.js';
import { MemoryStorage } from '../../../src/journal/io/memory-storage.js';
import { NodeStorage } from '../../../src/journal/io/node-storage.js';
import type {
  OpenFileOptions,
  Storage,
  StorageFile,
} from '../../../src/journal/io/storage.js';
import { codeThrownBy } from '../../support/expect-code.js';

/**
 * One contract, three implementations: whatever the journal may rely on must hold for the real
 * file system, the memory storage and the fault storage (with no faults armed) alike.
 */

interface Fixture {
  readonly storage: Storage;
  readonly directory: string;
  dispose(): void;
}

function nodeFixture(): Fixture {
  const directory = mkdtempSync(join(tmpdir(), 'cartridge-storage-'));
  return {
    storage: new NodeStorage(),
    directory,
    dispose: () => rmSync(directory, { recursive: true, force: true }),
  };
}

function virtualFixture(storage: Storage): Fixture {
  return { storage, directory: join(tmpdir(), 'cartridge-virtual'), dispose: () => {} };
}

const IMPLEMENTATIONS: readonly (readonly [string, () => Fixture])[] = [
  ['NodeStorage', nodeFixture],
  ['MemoryStorage', () => virtualFixture(new MemoryStorage())],
  ['FaultStorage', () => virtualFixture(createFaultStorage(7))],
];

const CREATE: OpenFileOptions = { create: true, truncate: false, readOnly: false };
const EXISTING: OpenFileOptions = { create: false, truncate: false, readOnly: false };
const READ_ONLY: OpenFileOptions = { create: false, truncate: false, readOnly: true };

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function readAll(file: StorageFile): Uint8Array {
  const target = new Uint8Array(file.sizeBytes());
  expect(file.read(target, 0, target.byteLength, 0)).toBe(target.byteLength);
  return target;
}

const codeOf = codeThrownBy;

describe.each(IMPLEMENTATIONS)('%s satisfies the Storage contract', (_name, makeFixture) => {
  let fixture: Fixture;
  let handles: StorageFile[];

  function open(name: string, options: OpenFileOptions): StorageFile {
    const file = fixture.storage.open(join(fixture.directory, name), options);
    handles.push(file);
    return file;
  }

  beforeEach(() => {
    fixture = makeFixture();
    handles = [];
  });

  afterEach(() => {
    for (const handle of handles) handle.close();
    fixture.dispose();
  });

  it('creates an empty file and reads back writes at positions', () => {
    const file = open('a.bin', CREATE);
    expect(file.sizeBytes()).toBe(0);
    file.write([bytes(1, 2, 3, 4)], 0);
    file.write([bytes(9, 9)], 1);
    expect(file.sizeBytes()).toBe(4);
    expect(readAll(file)).toEqual(bytes(1, 9, 9, 4));
    const middle = new Uint8Array(6);
    expect(file.read(middle, 3, 2, 1)).toBe(2);
    expect(middle).toEqual(bytes(0, 0, 0, 9, 9, 0));
  });

  it('writes several buffers back to back (writev)', () => {
    const file = open('v.bin', CREATE);
    file.write([bytes(1), bytes(), bytes(2, 3), bytes(4, 5, 6)], 2);
    expect(file.sizeBytes()).toBe(8);
    expect(readAll(file)).toEqual(bytes(0, 0, 1, 2, 3, 4, 5, 6));
  });

  it('keeps no buffer it was given: changing one after the write changes nothing stored', () => {
    const file = open('k.bin', CREATE);
    const first = bytes(1, 2, 3);
    const second = bytes(4, 5);
    file.write([first, second], 0);
    first.fill(0xee);
    second.fill(0xee);
    expect(readAll(file)).toEqual(bytes(1, 2, 3, 4, 5));
  });

  it('fills a gap left by a write past the end with zeros', () => {
    const file = open('gap.bin', CREATE);
    file.write([bytes(7)], 0);
    expect(file.sizeBytes()).toBe(1);
    file.write([bytes(8, 8)], 100);
    expect(file.sizeBytes()).toBe(102);
    const content = readAll(file);
    expect(content[0]).toBe(7);
    expect(content.subarray(1, 100).every((value) => value === 0)).toBe(true);
    expect(content.subarray(100)).toEqual(bytes(8, 8));
  });

  it('does not grow the file on an empty write past the end', () => {
    const file = open('empty.bin', CREATE);
    file.write([], 50);
    file.write([bytes()], 60);
    expect(file.sizeBytes()).toBe(0);
  });

  it('truncates to shrink, and grows with zeros (old bytes never come back)', () => {
    const file = open('t.bin', CREATE);
    file.write([bytes(1, 2, 3, 4, 5, 6)], 0);
    file.truncate(2);
    expect(file.sizeBytes()).toBe(2);
    expect(readAll(file)).toEqual(bytes(1, 2));
    file.truncate(5);
    expect(file.sizeBytes()).toBe(5);
    expect(readAll(file)).toEqual(bytes(1, 2, 0, 0, 0));
  });

  it('returns fewer bytes for reads that run past the end', () => {
    const file = open('short.bin', CREATE);
    file.write([bytes(1, 2, 3)], 0);
    const target = new Uint8Array(10);
    expect(file.read(target, 0, 10, 1)).toBe(2);
    expect(target.subarray(0, 2)).toEqual(bytes(2, 3));
    expect(file.read(target, 0, 10, 3)).toBe(0);
    expect(file.read(target, 0, 10, 500)).toBe(0);
  });

  it('keeps the data across close and reopen, and shares it between handles', () => {
    const writer = open('r.bin', CREATE);
    writer.write([bytes(5, 6, 7)], 0);
    writer.sync();
    const reader = open('r.bin', READ_ONLY);
    expect(readAll(reader)).toEqual(bytes(5, 6, 7));
    writer.close();
    const reopened = open('r.bin', EXISTING);
    expect(reopened.sizeBytes()).toBe(3);
    expect(readAll(reopened)).toEqual(bytes(5, 6, 7));
  });

  it('empties an existing file when opened with truncate', () => {
    open('e.bin', CREATE).write([bytes(1, 2, 3)], 0);
    const file = open('e.bin', { create: false, truncate: true, readOnly: false });
    expect(file.sizeBytes()).toBe(0);
  });

  it('reports ENOENT for a missing file opened without create', () => {
    expect(codeOf(() => open('missing.bin', EXISTING))).toBe('ENOENT');
    expect(codeOf(() => open('missing.bin', READ_ONLY))).toBe('ENOENT');
    expect(fixture.storage.exists(join(fixture.directory, 'missing.bin'))).toBe(false);
  });

  it('says whether a file exists', () => {
    const path = join(fixture.directory, 'x.bin');
    expect(fixture.storage.exists(path)).toBe(false);
    open('x.bin', CREATE);
    expect(fixture.storage.exists(path)).toBe(true);
  });

  it('refuses writes and truncates through a read-only handle with EBADF', () => {
    open('ro.bin', CREATE).write([bytes(1, 2)], 0);
    const file = open('ro.bin', READ_ONLY);
    expect(codeOf(() => file.write([bytes(3)], 0))).toBe('EBADF');
    expect(codeOf(() => file.truncate(0))).toBe('EBADF');
    expect(readAll(file)).toEqual(bytes(1, 2));
  });

  it('refuses use of a closed handle with EBADF and tolerates a second close', () => {
    const file = open('c.bin', CREATE);
    file.close();
    file.close();
    expect(codeOf(() => file.write([bytes(1)], 0))).toBe('EBADF');
    expect(codeOf(() => file.read(new Uint8Array(1), 0, 1, 0))).toBe('EBADF');
    expect(codeOf(() => file.sizeBytes())).toBe('EBADF');
  });

  it('syncs files and directories without changing content', () => {
    const file = open('s.bin', CREATE);
    file.write([bytes(4, 2)], 0);
    file.sync();
    fixture.storage.syncDirectory(fixture.directory);
    expect(readAll(file)).toEqual(bytes(4, 2));
  });

  it('gives one writer lock per file: refused to a second handle, freed by close', () => {
    const first = open('locked', CREATE);
    const second = open('locked', EXISTING);
    const reader = open('locked', READ_ONLY);
    expect(first.tryLock()).toBe(true);
    expect(first.tryLock()).toBe(true);
    expect(second.tryLock()).toBe(false);
    expect(reader.tryLock()).toBe(false);
    expect(second.lockHolder().pid).toBe(process.pid);
    first.close();
    expect(second.tryLock()).toBe(true);
    expect(open('other', CREATE).tryLock()).toBe(true);
  });

  it('tells file identities apart and states what a path names', () => {
    const path = join(fixture.directory, 'named');
    expect(fixture.storage.statPath(path)).toBeUndefined();
    const first = open('named', CREATE);
    first.write([bytes(1, 2, 3)], 0);
    const again = open('named', EXISTING);
    expect(again.identity()).toEqual(first.identity());
    expect(fixture.storage.statPath(path)).toEqual({ identity: first.identity(), sizeBytes: 3 });
    fixture.storage.remove(path);
    fixture.storage.remove(path);
    expect(fixture.storage.statPath(path)).toBeUndefined();
    // The removed file stays usable through its handle, as an unlinked file does.
    expect(Buffer.from(readAll(first))).toEqual(Buffer.from([1, 2, 3]));
    const replacement = open('named', CREATE);
    expect(replacement.identity()).not.toEqual(first.identity());
    expect(fixture.storage.statPath(path)?.identity).toEqual(replacement.identity());
  });

  it('keeps a long run of appends intact across buffer growth', () => {
    const file = open('big.bin', CREATE);
    const chunk = new Uint8Array(4099).map((_, index) => index % 251);
    for (let index = 0; index < 64; index += 1) file.write([chunk], index * chunk.byteLength);
    expect(file.sizeBytes()).toBe(64 * chunk.byteLength);
    const back = new Uint8Array(chunk.byteLength);
    expect(file.read(back, 0, back.byteLength, 37 * chunk.byteLength)).toBe(back.byteLength);
    expect(back).toEqual(chunk);
  });

  it('matches a plain byte-array model for random writes and truncates', () => {
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant('write' as const),
        position: fc.nat(300),
        data: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 3 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), sizeBytes: fc.nat(320) }),
    );
    let run = 0;
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 12 }), (operations) => {
        const file = open(`model-${run++}.bin`, CREATE);
        let model: Uint8Array = new Uint8Array(0);
        for (const step of operations) {
          if (step.kind === 'write') {
            file.write(step.data, step.position);
            model = modelWrite(model, step.data, step.position);
          } else {
            file.truncate(step.sizeBytes);
            model = modelTruncate(model, step.sizeBytes);
          }
        }
        expect(file.sizeBytes()).toBe(model.byteLength);
        expect(readAll(file)).toEqual(model);
      }),
      { numRuns: 40, seed: 42 },
    );
  });
});

function modelTruncate(model: Uint8Array, sizeBytes: number): Uint8Array {
  const next = new Uint8Array(sizeBytes);
  next.set(model.subarray(0, sizeBytes));
  return next;
}

function modelWrite(model: Uint8Array, data: Uint8Array[], position: number): Uint8Array {
  const totalBytes = data.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  if (totalBytes === 0) return model;
  const next = modelTruncate(model, Math.max(model.byteLength, position + totalBytes));
  let offset = position;
  for (const buffer of data) {
    next.set(buffer, offset);
    offset += buffer.byteLength;
  }
  return next;
}
