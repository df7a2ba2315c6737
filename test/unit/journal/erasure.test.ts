import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cartridge } from '../../../src/index.js';
import { erasureMarkerOf, isErasureMarker } from '../../../src/journal/erasure-marker.js';
import { FRAME_HEADER_BYTES } from '../../../src/journal/record-frame.js';
import { expectCode } from '../../support/expect-code.js';
import { readForgeable } from '../../support/journal-forger.js';

/**
 * The erasure marker, and what readers accept in its place: a blob overwritten with the marker
 * is an erased blob only when a `content.erased` record names it, with the body's checksum and
 * the blob's hash; the same bytes without that record are damage (a forged erasure is a
 * deletion, and the chain must not let it pass), and a record naming a blob whose body was
 * changed too is damage as well.
 */

let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-erasure-unit-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('erasure marker', () => {
  it('repeats its pattern over any length and is told from other bytes', () => {
    for (const length of [0, 1, 15, 16, 17, 4096, 1_000_003]) {
      const marker = erasureMarkerOf(length);
      expect(marker).toHaveLength(length);
      expect(isErasureMarker(marker)).toBe(true);
    }
    expect(erasureMarkerOf(20).toString('latin1')).toBe('cartridge-erasedcart');
    const changed = erasureMarkerOf(100);
    changed[57] = 0;
    expect(isErasureMarker(changed)).toBe(false);
    expect(isErasureMarker(Buffer.alloc(32))).toBe(false);
  });
});

/** A cartridge with two versions of a file, closed without a checkpoint (open replays all). */
function twoVersions(name: string): { path: string; oldOffset: number } {
  const path = join(directory, name);
  const cart = Cartridge.create(path, { compression: 'none', checkpointIntervalBytes: 1 << 30 });
  cart.createFile('/a.txt', 'the old content, long enough to matter');
  cart.writeFile('/a.txt', 'new');
  const oldOffset = (cart.history('/a.txt')[1] as { offset: number }).offset;
  cart.close();
  return { path, oldOffset };
}

function blobPlace(path: string, offset: number): { start: number; length: number } {
  const record = readForgeable(path).records.find((candidate) => candidate.offset === offset);
  if (record === undefined) throw new Error(`no record at ${offset}`);
  return {
    start: offset + FRAME_HEADER_BYTES + record.body.length,
    length: record.storedBlob.length,
  };
}

describe('erased blobs in the journal', () => {
  it('refuses a marker that no content.erased record names', () => {
    const { path, oldOffset } = twoVersions('forged.cart');
    const bytes = readFileSync(path);
    const { start, length } = blobPlace(path, oldOffset);
    erasureMarkerOf(length).copy(bytes, start);
    writeFileSync(path, bytes);
    expectCode(() => Cartridge.open(path), 'JOURNAL_CORRUPT');
    const report = Cartridge.verifyFile(path);
    expect(report).toMatchObject({ ok: false, code: 'JOURNAL_CORRUPT', erasedRecords: 0 });
  });

  it('accepts a real erasure, and refuses it once the erased record body is changed too', () => {
    const { path, oldOffset } = twoVersions('real.cart');
    const cart = Cartridge.open(path, { checkpointIntervalBytes: 1 << 30 });
    cart.redact('/a.txt', { versions: 'past' });
    cart.close();
    expect(Cartridge.verifyFile(path)).toMatchObject({ ok: true, erasedRecords: 1 });
    const { start } = blobPlace(path, oldOffset);
    expect(isErasureMarker(readFileSync(path).subarray(start, start + 10))).toBe(true);

    // One byte of the erased record's body (its path) changed: the recorded checksum refuses it.
    const bytes = readFileSync(path);
    const bodyStart = oldOffset + FRAME_HEADER_BYTES;
    const pathAt = bytes.indexOf(Buffer.from('/a.txt'), bodyStart);
    expect(pathAt).toBeGreaterThan(bodyStart);
    bytes[pathAt + 1] = 'b'.charCodeAt(0);
    writeFileSync(path, bytes);
    expect(Cartridge.verifyFile(path)).toMatchObject({ ok: false, code: 'JOURNAL_CORRUPT' });
  });
});
