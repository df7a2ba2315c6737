import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';

/**
 * Every read hands its caller bytes of its own. Results from 4 KiB to 8 KiB are carved from
 * shared slabs (as Node carves smaller buffers from its pool), so a result is often a view
 * into memory that other results share: none of that may show. A result keeps its bytes
 * whatever later reads return and whatever callers do to other results; changing a result
 * changes no later read; transferring a result's memory to another thread leaves the results
 * that share it intact.
 */

const SIZES_BYTES = [100, 4095, 4096, 4097, 6000, 8192, 8193, 65536];

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-read-results-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** A small seeded generator, so that a failure can be replayed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

describe.each([0, 4 * 1024 * 1024])('read results with a pool of %i bytes', (poolBytes) => {
  it('stay the caller own across reads, scribbles and reopen', () => {
    const seed = 20261201 + poolBytes;
    const random = generator(seed);
    const path = join(directory, 'results.cart');
    const contents = new Map<string, Buffer>();
    const cart = Cartridge.create(path, { bufferPoolBytes: poolBytes });
    SIZES_BYTES.forEach((sizeBytes, index) => {
      for (let copy = 0; copy < 6; copy++) {
        const file = `/sizes/${sizeBytes}/f${index}-${copy}.bin`;
        const content = randomBytes(sizeBytes);
        cart.createFile(file, content);
        contents.set(file, content);
      }
    });
    // A file of many extents (appended in pieces) whose size falls in the shared window.
    const appended = '/log/appended.txt';
    cart.createFile(appended, '');
    const pieces: Buffer[] = [];
    for (let piece = 0; piece < 12; piece++) {
      const bytes = randomBytes(500);
      cart.appendFile(appended, bytes);
      pieces.push(bytes);
    }
    contents.set(appended, Buffer.concat(pieces));
    cart.close();

    const reopened = Cartridge.open(path, { bufferPoolBytes: poolBytes });
    try {
      const files = [...contents.keys()];
      const kept: { file: string; result: Buffer; expected: Buffer }[] = [];
      for (let step = 0; step < 600; step++) {
        const file = files[Math.floor(random() * files.length)] as string;
        const expected = contents.get(file) as Buffer;
        const result = reopened.readFile(file);
        expect(result.equals(expected), `seed ${seed}, step ${step}, ${file}`).toBe(true);
        if (random() < 0.3) {
          // Kept untouched: no later read may change it.
          kept.push({ file, result, expected: Buffer.from(expected) });
        } else {
          // Scribbled on: no later read may see it.
          result.fill(step & 0xff);
        }
      }
      for (const { file, result, expected } of kept) {
        expect(result.equals(expected), `seed ${seed}, kept result of ${file}`).toBe(true);
      }
      // A range read in the window is the caller's too.
      const ranged = reopened.readFile('/sizes/8192/f5-0.bin', { start: 100, end: 4300 });
      expect(
        ranged.equals((contents.get('/sizes/8192/f5-0.bin') as Buffer).subarray(100, 4300)),
      ).toBe(true);
    } finally {
      reopened.close();
    }
  });
});

it('keeps other results intact when one result is transferred to another thread', () => {
  const cart = Cartridge.create(join(directory, 'transfer.cart'));
  try {
    const contents = [randomBytes(4096), randomBytes(4096), randomBytes(5000)];
    contents.forEach((content, index) => cart.createFile(`/f${index}`, content));
    const results = contents.map((_, index) => cart.readFile(`/f${index}`));
    const { port1, port2 } = new MessageChannel();
    try {
      // A read's result is never backed by shared memory.
      const memoryOf = (result: Buffer): ArrayBuffer => result.buffer as ArrayBuffer;
      const first = results[0] as Buffer;
      port1.postMessage(first, [memoryOf(first)]);
      structuredClone(results[1] as Buffer, { transfer: [memoryOf(results[1] as Buffer)] });
    } finally {
      port1.close();
      port2.close();
    }
    results.forEach((result, index) => {
      expect(result.equals(contents[index] as Buffer)).toBe(true);
    });
  } finally {
    cart.close();
  }
});
