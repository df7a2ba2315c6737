import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'lz4-napi';
import { afterAll, describe, expect, it } from 'vitest';
import { Cartridge, CartridgeError, Engram, MemoryStorage } from '../../src/index.js';
import { buildArchive, type RawArchive } from '../support/engram-bytes.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Hostile and damaged archives: a small archive cut at every offset and with single bits
 * flipped across every byte, and archives forged field by field (directories outside the file,
 * overlapping entries, `..` and absolute paths, repeated paths, decompression bombs, bad frame
 * containers). Every outcome must be a typed error or correct data: never an untyped throw,
 * never different bytes returned without an error, never a hang or a large allocation.
 */

const zstd = createRequire(import.meta.url)('zstd-napi') as {
  compress(source: Uint8Array): Buffer;
};

const directory = mkdtempSync(join(tmpdir(), 'cartridge-engram-hostile-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const ARCHIVE = 'archive.eng';

function smallArchive(): Buffer {
  const cart = Cartridge.create(join(directory, 'small.cart'));
  cart.createFile('/a.txt', 'alpha');
  cart.createDir('/d');
  cart.createFile('/d/b.md', 'bravo charlie delta\n'.repeat(250));
  cart.createFile('/c.bin', Buffer.alloc(4200, 3));
  const out = join(directory, 'small.eng');
  cart.freeze(out, {
    name: 'small',
    version: '1',
    author: 'x',
    signingKey: Buffer.alloc(32, 9),
  });
  cart.close();
  return readFileSync(out);
}

function storageWith(bytes: Buffer): MemoryStorage {
  const storage = new MemoryStorage();
  const file = storage.open(ARCHIVE, { create: true, truncate: true, readOnly: false });
  file.write([bytes], 0);
  file.close();
  return storage;
}

type Outcome = 'refused at open' | 'refused at read' | 'opened' | 'untyped' | 'wrong data';

/** Opens the archive and reads everything; classifies what happened. */
function attempt(bytes: Buffer, original: Map<string, Buffer>): Outcome {
  let engram: Engram;
  try {
    engram = Engram.open(ARCHIVE, { storage: storageWith(bytes) });
  } catch (error) {
    return error instanceof CartridgeError ? 'refused at open' : 'untyped';
  }
  let outcome: Outcome = 'opened';
  try {
    for (const entry of engram.list()) {
      try {
        const content = engram.readFile(entry.path);
        const expected = original.get(entry.path);
        if (expected !== undefined && !expected.equals(content)) return 'wrong data';
      } catch (error) {
        if (!(error instanceof CartridgeError)) return 'untyped';
        outcome = 'refused at read';
      }
    }
    engram.manifest();
    engram.verify();
  } catch (error) {
    if (!(error instanceof CartridgeError)) return 'untyped';
    outcome = 'refused at read';
  } finally {
    engram.close();
  }
  return outcome;
}

function contentsOf(bytes: Buffer): Map<string, Buffer> {
  const engram = Engram.open(ARCHIVE, { storage: storageWith(bytes) });
  const contents = new Map(engram.list().map((entry) => [entry.path, engram.readFile(entry.path)]));
  engram.close();
  return contents;
}

describe('a damaged archive', () => {
  const archive = smallArchive();
  const original = contentsOf(archive);

  it('is refused at open when cut at any offset', () => {
    for (let length = 0; length < archive.length; length++) {
      expect(attempt(archive.subarray(0, length), original), `cut at ${length}`).toBe('refused at open');
    }
  });

  it('gives a typed error or the right bytes for a bit flipped in any byte', () => {
    const counts: Record<Outcome, number> = {
      'refused at open': 0,
      'refused at read': 0,
      opened: 0,
      untyped: 0,
      'wrong data': 0,
    };
    for (let offset = 0; offset < archive.length; offset++) {
      const damaged = Buffer.from(archive);
      damaged[offset] = (damaged[offset] as number) ^ (1 << offset % 8);
      const outcome = attempt(damaged, original);
      counts[outcome]++;
      expect(outcome === 'untyped' || outcome === 'wrong data', `flip at ${offset}: ${outcome}`).toBe(false);
    }
    expect(counts['refused at open'] + counts['refused at read']).toBeGreaterThan(archive.length / 2);
  });

  it('fails verify after any flip in a header field that is checked or a stored payload', () => {
    const engram = Engram.open(ARCHIVE, { storage: storageWith(archive) });
    const entries = engram.list();
    engram.close();
    const directoryOffset = Number(archive.readBigUInt64LE(16));
    // A flip inside a compressed payload may decode to the same bytes (a flag the decoder
    // ignores); the bit-flip sweep above proves such outcomes are never wrong data.
    const compressed = compressedPayloadRanges(archive, entries.length);
    for (let offset = 64; offset < directoryOffset; offset++) {
      if (compressed.some(([start, end]) => offset >= start && offset < end)) continue;
      if (isUncheckedLocalField(archive, entries.length, offset)) continue;
      const damaged = Buffer.from(archive);
      damaged[offset] = (damaged[offset] as number) ^ 0x10;
      let valid = false;
      try {
        const opened = Engram.open(ARCHIVE, { storage: storageWith(damaged) });
        try {
          valid = opened.verify().valid;
        } finally {
          opened.close();
        }
      } catch (error) {
        expect(error).toBeInstanceOf(CartridgeError);
      }
      expect(valid, `flip at ${offset}`).toBe(false);
    }
  });
});

/**
 * LOCA time (24..31), flags (33) and reserved (36..39) fields: covered by no CRC, hash or
 * signature, and not compared with the directory (engram-rs compares neither).
 */
function isUncheckedLocalField(archive: Buffer, entryCount: number, offset: number): boolean {
  const directoryOffset = Number(archive.readBigUInt64LE(16));
  for (let index = 0; index < entryCount; index++) {
    const local = Number(archive.readBigUInt64LE(directoryOffset + index * 320 + 4));
    const relative = offset - local;
    if ((relative >= 24 && relative < 32) || relative === 33 || (relative >= 36 && relative < 40)) {
      return true;
    }
  }
  return false;
}

/** The payload byte ranges of compressed entries. */
function compressedPayloadRanges(archive: Buffer, entryCount: number): [number, number][] {
  const directoryOffset = Number(archive.readBigUInt64LE(16));
  const ranges: [number, number][] = [];
  for (let index = 0; index < entryCount; index++) {
    const entry = directoryOffset + index * 320;
    if (archive.readUInt8(entry + 40) === 0) continue;
    const start = Number(archive.readBigUInt64LE(entry + 4)) + 40 + archive.readUInt16LE(entry + 42) + 1;
    ranges.push([start, start + Number(archive.readBigUInt64LE(entry + 20))]);
  }
  return ranges;
}

function open(archive: RawArchive | Buffer): Engram {
  const bytes = Buffer.isBuffer(archive) ? archive : buildArchive(archive);
  return Engram.open(ARCHIVE, { storage: storageWith(bytes) });
}

const text = Buffer.from('plain text');

describe('a forged archive', () => {
  it('is refused when its directory lies outside the file or disagrees with the end record', () => {
    const bytes = buildArchive({ entries: [{ path: 'a', stored: text }] });
    const outside = Buffer.from(bytes);
    outside.writeBigUInt64LE(BigInt(bytes.length * 4), 16);
    outside.writeBigUInt64LE(BigInt(bytes.length * 4), bytes.length - 64 + 8);
    expectCode(() => open(outside), 'ENGRAM_CORRUPT');
    const disagreeing = Buffer.from(bytes);
    disagreeing.writeUInt32LE(2, bytes.length - 64 + 24);
    expectCode(() => open(disagreeing), 'ENGRAM_CORRUPT');
    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(2n ** 62n, 24);
    expectCode(() => open(huge), 'ENGRAM_CORRUPT');
    const manyEntries = Buffer.from(bytes);
    manyEntries.writeUInt32LE(0xffffffff, 32);
    manyEntries.writeUInt32LE(0xffffffff, bytes.length - 64 + 24);
    expectCode(() => open(manyEntries), 'ENGRAM_CORRUPT');
    const noMagic = Buffer.from(bytes);
    noMagic[1] = 0x46;
    expectCode(() => open(noMagic), 'ENGRAM_CORRUPT');
  });

  it('is refused when an entry points outside the data area or entries overlap', () => {
    expectCode(() => open({ entries: [{ path: 'a', stored: text, dataOffset: 10 }] }), 'ENGRAM_CORRUPT');
    expectCode(() => open({ entries: [{ path: 'a', stored: text, dataOffset: 2 ** 40 }] }), 'ENGRAM_CORRUPT');
    expectCode(
      () => open({ entries: [{ path: 'a', stored: text }, { path: 'b', stored: text, dataOffset: 64 }] }),
      'ENGRAM_CORRUPT',
    );
  });

  it('is refused for `..`, absolute, empty-segment, NUL and non-UTF-8 paths, and repeats', () => {
    for (const path of ['../evil', 'a/../../evil', '/etc/passwd', 'a//b', './a', 'C:/x', 'a\0b']) {
      expectCode(() => open({ entries: [{ path, stored: text }] }), 'ENGRAM_CORRUPT');
    }
    const bad = buildArchive({ entries: [{ path: 'ab', stored: text }] });
    const directoryOffset = Number(bad.readBigUInt64LE(16));
    bad[directoryOffset + 44] = 0xff;
    expectCode(() => open(bad), 'ENGRAM_CORRUPT');
    expectCode(
      () => open({ entries: [{ path: 'same', stored: text }, { path: 'same', stored: text }] }),
      'ENGRAM_CORRUPT',
    );
    expectCode(
      () => open({ entries: [{ path: 'a', stored: text }, { path: 'a/b', stored: text }] }),
      'ENGRAM_CORRUPT',
    );
    expectCode(() => open({ entries: [{ path: 'a', stored: text, centralPathLength: 256 }] }), 'ENGRAM_CORRUPT');
  });

  it('refuses decompression bombs by their declared size, quickly and without allocating it', () => {
    const small = zstd.compress(Buffer.alloc(1000));
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    for (const uncompressedSizeBytes of [2 ** 30, 2 ** 40, 2 ** 52]) {
      for (const method of [1, 2]) {
        expectCode(
          () => open({ entries: [{ path: 'bomb', stored: small, method, uncompressedSizeBytes }] }),
          'ENGRAM_CORRUPT',
        );
      }
    }
    expect(performance.now() - started).toBeLessThan(1000);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses payloads that decode to another size than declared', () => {
    const zeros = Buffer.alloc(100_000);
    const stored = zstd.compress(zeros);
    const engram = open({
      entries: [
        { path: 'less', stored, method: 2, uncompressedSizeBytes: 50_000 },
        { path: 'more', stored, method: 2, uncompressedSizeBytes: 200_000 },
        { path: 'lz4', stored: compressSync(zeros), method: 1, uncompressedSizeBytes: 99_999 },
        { path: 'garbage', stored: Buffer.from('not a zstd frame at all'), method: 2, uncompressedSizeBytes: 100 },
      ],
    });
    for (const path of ['less', 'more', 'lz4', 'garbage']) {
      expectCode(() => engram.readFile(path), 'ENGRAM_CORRUPT');
    }
    engram.close();
  });

  it('refuses frame containers with a wrong count, short frames or trailing bytes', () => {
    const sizeBytes = 52_428_800;
    const frame = compressSync(Buffer.alloc(65_536));
    const frameCount = sizeBytes / 65_536;
    function container(count: number, frames: number, trailing: number): Buffer {
      const parts: Buffer[] = [Buffer.alloc(4)];
      (parts[0] as Buffer).writeUInt32LE(count);
      for (let index = 0; index < frames; index++) {
        const length = Buffer.alloc(4);
        length.writeUInt32LE(frame.length);
        parts.push(length, frame);
      }
      parts.push(Buffer.alloc(trailing));
      return Buffer.concat(parts);
    }
    const good = container(frameCount, frameCount, 0);
    const engram = open({
      entries: [
        { path: 'good', stored: good, method: 1, uncompressedSizeBytes: sizeBytes, crc32: 0 },
        { path: 'count', stored: container(frameCount + 1, frameCount, 0), method: 1, uncompressedSizeBytes: sizeBytes },
        { path: 'short', stored: container(frameCount, frameCount - 1, 8), method: 1, uncompressedSizeBytes: sizeBytes },
        { path: 'trailing', stored: container(frameCount, frameCount, 3), method: 1, uncompressedSizeBytes: sizeBytes },
      ],
    });
    // `good` decodes; its CRC field was forged to 0, so only the CRC check refuses it.
    expect(engram.readFile.bind(engram, 'good')).toThrow(/CRC/);
    for (const path of ['count', 'short', 'trailing']) expectCode(() => engram.readFile(path), 'ENGRAM_CORRUPT');
    engram.close();
  });

  it('refuses what it does not implement with ENGRAM_UNSUPPORTED', () => {
    expectCode(() => open({ flags: 1, entries: [{ path: 'a', stored: text }] }), 'ENGRAM_UNSUPPORTED');
    expectCode(() => open({ flags: 2, entries: [{ path: 'a', stored: text }] }), 'ENGRAM_UNSUPPORTED');
    expectCode(() => open({ versionMajor: 3, entries: [] }), 'ENGRAM_UNSUPPORTED');
    expectCode(() => open({ entries: [{ path: 'a', stored: text, method: 3 }] }), 'ENGRAM_UNSUPPORTED');
    expectCode(() => open({ entries: [{ path: 'a', stored: text, method: 9 }] }), 'ENGRAM_CORRUPT');
  });
});
