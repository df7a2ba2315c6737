import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { uncompressSync } from 'lz4-napi';
import { afterAll, describe, expect, it } from 'vitest';
import { Cartridge, Engram } from '../../../src/index.js';
import { buildArchive } from '../../support/engram-bytes.js';

/**
 * Golden test: a small archive's bytes, field by field, against the layout docs/FORMAT.md
 * documents (header, LOCA entries, 320-byte central directory, ENDR), payloads decoded with the
 * codec libraries directly, and the whole file equal to what an independent encoder of the
 * documented layout (test/support/engram-bytes.ts) makes of the same entries.
 */

const zstd = createRequire(import.meta.url)('zstd-napi') as {
  decompress(source: Uint8Array): Buffer;
};

const START_MS = 1_800_000_000_000;
const CREATED = START_MS / 1000;
const directory = mkdtempSync(join(tmpdir(), 'cartridge-golden-'));

afterAll(() => rmSync(directory, { recursive: true, force: true }));

function freezeSmall(): { bytes: Buffer; cartridgeId: string; head: number } {
  const clock = { now: () => START_MS, nowMs: () => performance.now() };
  const cart = Cartridge.create(join(directory, 'golden.cart'), { clock });
  cart.createFile('/hello.txt', 'hello, engram\n');
  cart.createDir('/docs');
  cart.createFile('/docs/guide.md', 'all work and no play\n'.repeat(300));
  cart.createFile('/blob.bin', Buffer.alloc(5000, 0x61));
  const out = join(directory, 'golden.eng');
  cart.freeze(out, {
    name: 'golden',
    version: '2.0.0',
    author: { name: 'Ada', email: 'ada@example.com' },
    id: 'golden-id',
    compression: 'auto',
  });
  const result = { bytes: readFileSync(out), cartridgeId: cart.cartridgeId, head: cart.head };
  cart.close();
  return result;
}

describe('the bytes of a small archive', () => {
  const { bytes, cartridgeId, head } = freezeSmall();

  it('has the 64-byte header: magic, version 1.0, CRC 0, directory, count, flags 0', () => {
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x45, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(bytes.readUInt16LE(8)).toBe(1);
    expect(bytes.readUInt16LE(10)).toBe(0);
    expect(bytes.readUInt32LE(12)).toBe(0);
    const entryCount = bytes.readUInt32LE(32);
    expect(entryCount).toBe(5);
    expect(Number(bytes.readBigUInt64LE(24))).toBe(entryCount * 320);
    expect(Number(bytes.readBigUInt64LE(16)) + entryCount * 320 + 64).toBe(bytes.length);
    expect(bytes.readUInt32LE(36)).toBe(0);
    expect(bytes.readUInt32LE(40)).toBe(0);
    expect(bytes.subarray(44, 64).every((byte) => byte === 0)).toBe(true);
  });

  it('ends with the 64-byte ENDR record that repeats the header', () => {
    const end = bytes.subarray(bytes.length - 64);
    expect(end.subarray(0, 4).toString('latin1')).toBe('ENDR');
    expect(end.readUInt16LE(4)).toBe(1);
    expect(end.readUInt16LE(6)).toBe(0);
    expect(end.readBigUInt64LE(8)).toBe(bytes.readBigUInt64LE(16));
    expect(end.readBigUInt64LE(16)).toBe(bytes.readBigUInt64LE(24));
    expect(end.readUInt32LE(24)).toBe(5);
    expect(end.readUInt32LE(28)).toBe(0);
    expect(end.subarray(32).every((byte) => byte === 0)).toBe(true);
  });

  /** Each central entry, checked against its LOCA, decoded independently. */
  function entries(): { path: string; method: number; content: Buffer; stored: Buffer; time: number }[] {
    const directoryOffset = Number(bytes.readBigUInt64LE(16));
    const found = [];
    for (let index = 0; index < 5; index++) {
      const entry = bytes.subarray(directoryOffset + index * 320, directoryOffset + (index + 1) * 320);
      expect(entry.subarray(0, 4).toString('latin1')).toBe('CENT');
      const dataOffset = Number(entry.readBigUInt64LE(4));
      const uncompressed = Number(entry.readBigUInt64LE(12));
      const compressed = Number(entry.readBigUInt64LE(20));
      const checksum = entry.readUInt32LE(28);
      const time = Number(entry.readBigUInt64LE(32));
      const method = entry.readUInt8(40);
      expect(entry.readUInt8(41)).toBe(0);
      const pathLength = entry.readUInt16LE(42);
      const path = entry.subarray(44, 44 + pathLength).toString('utf8');
      expect(entry.subarray(44 + pathLength, 320).every((byte) => byte === 0)).toBe(true);
      const local = bytes.subarray(dataOffset, dataOffset + 40 + pathLength + 1);
      expect(local.subarray(0, 4).toString('latin1')).toBe('LOCA');
      expect(Number(local.readBigUInt64LE(4))).toBe(uncompressed);
      expect(Number(local.readBigUInt64LE(12))).toBe(compressed);
      expect(local.readUInt32LE(20)).toBe(checksum);
      expect(Number(local.readBigUInt64LE(24))).toBe(time);
      expect(local.readUInt8(32)).toBe(method);
      expect(local.readUInt8(33)).toBe(0);
      expect(local.readUInt16LE(34)).toBe(pathLength);
      expect(local.readUInt32LE(36)).toBe(0);
      expect(local.subarray(40, 40 + pathLength).toString('utf8')).toBe(path);
      expect(local[40 + pathLength]).toBe(0);
      const payloadStart = dataOffset + 40 + pathLength + 1;
      const stored = bytes.subarray(payloadStart, payloadStart + compressed);
      let content: Buffer;
      if (method === 0) content = stored;
      else if (method === 1) {
        expect(stored.readUInt32LE(0)).toBe(uncompressed);
        content = uncompressSync(stored);
      } else {
        expect(method).toBe(2);
        expect(stored.readUInt32LE(0)).toBe(0xfd2fb528);
        content = zstd.decompress(stored);
      }
      expect(content.length).toBe(uncompressed);
      expect(crc32(content)).toBe(checksum);
      found.push({ path, method, content, stored: Buffer.from(stored), time });
    }
    return found;
  }

  it('has entries in order, methods as engram-rs chooses them, LOCA matching each CENT', () => {
    const found = entries();
    expect(found.map(({ path, method }) => [path, method])).toEqual([
      ['manifest.json', 0],
      ['cartridge.json', 0],
      ['blob.bin', 1],
      ['docs/guide.md', 2],
      ['hello.txt', 0],
    ]);
    expect(found[0]?.stored.toString()).not.toContain('\n');
  });

  it('holds the manifest as compact JSON in the Rust struct field order', () => {
    const found = entries();
    const sha = (path: string): string =>
      createHash('sha256')
        .update(found.find((entry) => entry.path === path)?.content as Buffer)
        .digest('hex');
    const expected = {
      version: '0.4.0',
      id: 'golden-id',
      name: 'golden',
      author: { name: 'Ada', email: 'ada@example.com' },
      metadata: { version: '2.0.0', created: CREATED, tags: [] },
      capabilities: [],
      files: ['cartridge.json', 'blob.bin', 'docs/guide.md', 'hello.txt'].map((path) => ({
        path,
        sha256: sha(path),
        size: found.find((entry) => entry.path === path)?.content.length,
      })),
      signatures: [],
    };
    expect(found[0]?.content.toString('utf8')).toBe(JSON.stringify(expected));
    const provenance = JSON.parse(found[1]?.content.toString('utf8') as string);
    expect(Object.keys(provenance)).toEqual([
      'cartridge_id',
      'offset',
      'head_hash',
      'snapshot',
      'empty_directories',
    ]);
    expect(provenance).toMatchObject({ cartridge_id: cartridgeId, offset: head, snapshot: null });
  });

  it('is byte for byte what the documented layout gives for the same entries', () => {
    const rebuilt = buildArchive({
      entries: entries().map((entry) => ({
        path: entry.path,
        stored: entry.stored,
        uncompressedSizeBytes: entry.content.length,
        crc32: crc32(entry.content),
        method: entry.method,
        modifiedTime: entry.time,
      })),
    });
    expect(rebuilt.equals(bytes)).toBe(true);
  });
});

describe('the 0.3 layout', () => {
  it('opens a v0.3 archive: no LOCA headers, no end record, offsets straight at payloads', () => {
    const content = Buffer.from('old but readable\n'.repeat(10));
    const archive = buildArchive({
      versionMajor: 0,
      versionMinor: 3,
      entries: [
        { path: 'manifest.json', stored: Buffer.from('{"version":"0.3.0","id":"x","name":"x","author":{"name":"a"},"metadata":{"version":"1","created":1}}') },
        { path: 'dir/file.txt', stored: content },
      ],
    });
    const path = join(directory, 'old.eng');
    writeFileSync(path, archive);
    const engram = Engram.open(path);
    expect(engram.version).toBe('0.3');
    expect(engram.readFile('dir/file.txt')).toEqual(content);
    expect(engram.manifest()?.files).toEqual([]);
    expect(engram.view().listDir('/dir')).toEqual(['file.txt']);
    engram.close();
  });
});
