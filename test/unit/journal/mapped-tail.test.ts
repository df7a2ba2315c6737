import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAPPED_WRITES_AVAILABLE, mappedWritesMade } from '../../../src/journal/io/mapped-tail.js';
import { NodeStorage } from '../../../src/journal/io/node-storage.js';
import type { StorageFile } from '../../../src/journal/io/storage.js';
import { codeThrownBy } from '../../support/expect-code.js';

/**
 * Writes inside a real file go through a shared mapping of it (src/journal/io/mapped-tail.ts).
 * They must be indistinguishable from `pwritev` for every reader, never grow the file, and
 * survive a file cut under the writer as an error instead of a SIGBUS that kills the process.
 */

const MIB = 1024 * 1024;

describe.skipIf(!MAPPED_WRITES_AVAILABLE)('writes through a mapping of the file', () => {
  let directory: string;
  let path: string;
  let file: StorageFile;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'mapped-tail-'));
    path = join(directory, 'mapped.bin');
    file = new NodeStorage().open(path, { create: true, truncate: false, readOnly: false });
    expect(file.writeInPlace?.()).toBe(true);
  });
  afterEach(() => {
    file.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('writes inside the file through the mapping, where others read the bytes at once', () => {
    file.write([Buffer.alloc(2 * MIB)], 0);
    const before = mappedWritesMade();
    const first = Buffer.from('first record ');
    const second = Buffer.from('and its blob');
    file.write([first, second], 1 * MIB + 3);
    expect(mappedWritesMade()).toBe(before + 1);
    // Another descriptor, and this handle's own read, see the bytes without a sync or a close.
    const seen = readFileSync(path);
    expect(seen.length).toBe(2 * MIB);
    expect(seen.subarray(MIB + 3, MIB + 3 + 25).toString()).toBe('first record and its blob');
    const target = Buffer.alloc(25);
    expect(file.read(target, 0, 25, MIB + 3)).toBe(25);
    expect(target.toString()).toBe('first record and its blob');
  });

  it('maps nothing for a file not asked to, nor for a read-only one', () => {
    const other = new NodeStorage().open(join(directory, 'plain.bin'), {
      create: true,
      truncate: false,
      readOnly: false,
    });
    const reader = new NodeStorage().open(path, { create: false, truncate: false, readOnly: true });
    try {
      expect(reader.writeInPlace?.()).toBe(false);
      other.write([Buffer.alloc(MIB)], 0);
      const before = mappedWritesMade();
      other.write([Buffer.from('plain')], 1000);
      expect(mappedWritesMade()).toBe(before);
    } finally {
      other.close();
      reader.close();
    }
  });

  it('grows the file with pwritev, never through the mapping', () => {
    file.write([Buffer.alloc(4096)], 0);
    const before = mappedWritesMade();
    // Ends one byte past the file: the whole write goes the ordinary way.
    file.write([Buffer.alloc(100, 7)], 3997);
    expect(mappedWritesMade()).toBe(before);
    expect(statSync(path).size).toBe(4097);
    expect(file.sizeBytes()).toBe(4097);
    expect(
      readFileSync(path)
        .subarray(3997)
        .every((byte) => byte === 7),
    ).toBe(true);
  });

  it('writes behind its window with pwritev, and keeps the window at the end', () => {
    file.write([Buffer.alloc(20 * MIB)], 0);
    file.write([Buffer.from('tail')], 18 * MIB);
    const before = mappedWritesMade();
    file.write([Buffer.from('head')], 100);
    file.write([Buffer.from('more')], 18 * MIB + 4);
    expect(mappedWritesMade()).toBe(before + 1);
    const seen = readFileSync(path);
    expect(seen.subarray(100, 104).toString()).toBe('head');
    expect(seen.subarray(18 * MIB, 18 * MIB + 8).toString()).toBe('tailmore');
  });

  it('moves the window forward across its end', () => {
    file.write([Buffer.alloc(40 * MIB)], 0);
    const before = mappedWritesMade();
    file.write([Buffer.from('start')], 5);
    // Straddles the first window's end: made in a window placed at its own start.
    file.write([Buffer.alloc(64 * 1024, 9)], 8 * MIB - 10);
    for (let index = 9; index < 40; index++) {
      file.write([Buffer.from(`piece ${index}`)], index * MIB + 5);
    }
    expect(mappedWritesMade()).toBe(before + 33);
    const seen = readFileSync(path);
    expect(seen.subarray(5, 10).toString()).toBe('start');
    const straddling = seen.subarray(8 * MIB - 10, 8 * MIB - 10 + 64 * 1024);
    expect(straddling.every((byte) => byte === 9)).toBe(true);
    for (let index = 9; index < 40; index++) {
      const text = `piece ${index}`;
      expect(seen.subarray(index * MIB + 5, index * MIB + 5 + text.length).toString()).toBe(text);
    }
  });

  it('reports a file cut under it as EIO instead of dying of SIGBUS', () => {
    file.write([Buffer.alloc(4 * MIB)], 0);
    file.write([Buffer.from('mapped')], 3 * MIB);
    // Another program cuts the file: the handle still believes it is 4 MiB long.
    truncateSync(path, 4096);
    expect(codeThrownBy(() => file.write([Buffer.from('lost')], 3 * MIB + 10))).toBe('EIO');
    // The process is alive, the file was not grown back, and ordinary writes still work.
    expect(statSync(path).size).toBe(4096);
    const other = openSync(path, 'r+');
    try {
      writeSync(other, Buffer.from('still here'), 0, 10, 0);
    } finally {
      closeSync(other);
    }
    file.truncate(8192);
    file.write([Buffer.from('again')], 5000);
    expect(readFileSync(path).subarray(5000, 5005).toString()).toBe('again');
    expect(readFileSync(path).subarray(0, 10).toString()).toBe('still here');
  });

  it('drops the mapping on truncate, so a cut file takes writes again', () => {
    file.write([Buffer.alloc(2 * MIB)], 0);
    file.write([Buffer.from('x')], MIB);
    file.truncate(4096);
    file.truncate(2 * MIB);
    file.write([Buffer.from('after the cut')], MIB);
    expect(
      readFileSync(path)
        .subarray(MIB, MIB + 13)
        .toString(),
    ).toBe('after the cut');
  });
});
