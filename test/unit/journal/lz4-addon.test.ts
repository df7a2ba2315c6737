import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { compressSync, uncompressSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { Codec, compressBlob, decompressBlobInto } from '../../../src/journal/compression.js';
import { DecodeBatch } from '../../../src/journal/decode-batch.js';
import {
  LZ4_DECODER_IMPLEMENTATION,
  nativeLz4,
  type NativeLz4,
} from '../../../src/journal/native-lz4.js';

/**
 * The LZ4 decoder (`native/cartridge-lz4.c`) reads untrusted bytes from disk: it must decode
 * whatever lz4-napi encodes to the same bytes, one block or many at once (on two threads past
 * 1 MiB), and refuse anything else without reading or writing outside its buffers: a block cut
 * short, a declared length other than the target's, an offset before the start of the output,
 * random bytes. A refusal names the first block that failed. Seeds are printed by fast-check.
 */

const ADDON = join(process.cwd(), 'native', 'build', 'Release', 'cartridge_lz4.node');
const decoder = nativeLz4 as NativeLz4;
const withAddon = it.skipIf(nativeLz4 === undefined);

/** Bytes that compress: words from a small vocabulary, numbers, runs of one byte. */
const compressible = fc
  .array(
    fc.oneof(
      fc.constantFrom('agent-', 'queue', '"event":"note"', ' ', '\n', '{"at":"2026-'),
      fc.integer({ min: 0, max: 99_999 }).map(String),
      fc
        .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 255 }))
        .map(([count, byte]) => String.fromCharCode(byte).repeat(count)),
    ),
    { maxLength: 400 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

const anyBytes = fc.oneof(compressible, fc.uint8Array({ maxLength: 5000 }).map(Buffer.from));

describe('the LZ4 addon', () => {
  it.skipIf(!existsSync(ADDON) || process.env['CARTRIDGE_NATIVE_LZ4'] === '0')(
    'decodes where it was built',
    () => {
      expect(nativeLz4).toBeDefined();
      expect(LZ4_DECODER_IMPLEMENTATION).toBe('addon');
    },
  );

  withAddon('decodes what lz4-napi encodes, into views at any offset', () => {
    fc.assert(
      fc.property(anyBytes, fc.integer({ min: 0, max: 15 }), (input, skew) => {
        const block = compressSync(input);
        const room = Buffer.alloc(input.length + skew + 16, 0xee);
        const target = room.subarray(skew, skew + input.length);
        expect(decoder.decodeBlock(block, target)).toBe(true);
        expect(target.equals(input)).toBe(true);
        // Nothing outside the target was touched.
        expect(room.subarray(0, skew).every((byte) => byte === 0xee)).toBe(true);
        expect(room.subarray(skew + input.length).every((byte) => byte === 0xee)).toBe(true);
      }),
    );
  });

  withAddon('refuses a block cut short or given a target of another length', () => {
    fc.assert(
      fc.property(
        compressible.filter((input) => input.length > 0),
        (input) => {
          const block = compressSync(input);
          for (const cut of [1, 2, 5, block.length - 1]) {
            if (cut > 0 && cut < block.length) {
              expect(decoder.decodeBlock(block.subarray(0, cut), Buffer.alloc(input.length))).toBe(
                false,
              );
            }
          }
          expect(decoder.decodeBlock(block, Buffer.alloc(input.length + 1))).toBe(false);
          expect(decoder.decodeBlock(block, Buffer.alloc(input.length - 1))).toBe(false);
        },
      ),
    );
  });

  withAddon('never decodes damaged blocks to anything lz4-napi would not', () => {
    fc.assert(
      fc.property(
        compressible.filter((input) => input.length > 8),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (input, flips) => {
          const block = Buffer.from(compressSync(input));
          for (const [at, byte] of flips) block[4 + (at % (block.length - 4))] = byte;
          const room = Buffer.alloc(input.length + 32, 0xee);
          const target = room.subarray(16, 16 + input.length);
          const decoded = decoder.decodeBlock(block, target);
          expect(room.subarray(0, 16).every((value) => value === 0xee)).toBe(true);
          expect(room.subarray(16 + input.length).every((value) => value === 0xee)).toBe(true);
          if (decoded) {
            // A damaged block that still decodes to its length decodes as the format says,
            // wherever lz4-napi (which enforces a few more of the encoder's habits) decodes it.
            let reference: Buffer | undefined;
            try {
              reference = uncompressSync(block);
            } catch {
              reference = undefined;
            }
            if (reference !== undefined) expect(target.equals(reference)).toBe(true);
          }
        },
      ),
    );
  });

  withAddon('refuses random bytes without harm', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(4096), (bytes, length) => {
        const source = Buffer.concat([Buffer.from([length & 0xff, length >> 8, 0, 0]), bytes]);
        const room = Buffer.alloc(length + 32, 0xee);
        decoder.decodeBlock(source, room.subarray(16, 16 + length));
        expect(room.subarray(0, 16).every((value) => value === 0xee)).toBe(true);
        expect(room.subarray(16 + length).every((value) => value === 0xee)).toBe(true);
      }),
    );
  });

  withAddon('decodes many blocks at once, on two threads past a MiB, and names a bad one', () => {
    const inputs = Array.from({ length: 40 }, (_, index) =>
      Buffer.from(
        Array.from(
          { length: 2000 },
          (_, line) => `line ${index}:${line} agent-${line % 17}\n`,
        ).join(''),
      ),
    );
    const blocks = inputs.map((input) => compressSync(input));
    const total = inputs.reduce((sum, input) => sum + input.length, 0);
    expect(total).toBeGreaterThan(1024 * 1024);
    const result = Buffer.alloc(total);
    const targets: Buffer[] = [];
    let position = 0;
    for (const input of inputs) {
      targets.push(result.subarray(position, position + input.length));
      position += input.length;
    }
    expect(decoder.decodeBlocks(blocks, targets)).toBe(-1);
    expect(result.equals(Buffer.concat(inputs))).toBe(true);
    for (const bad of [3, 33]) {
      const damaged = blocks.map((block, index) =>
        index === bad ? block.subarray(0, block.length - 3) : block,
      );
      expect(decoder.decodeBlocks(damaged, targets)).toBe(bad);
    }
    expect(decoder.decodeBlocks([], [])).toBe(-1);
  });

  withAddon('refuses arguments that are not arrays of bytes of one length', () => {
    const call = (...args: unknown[]) =>
      (decoder.decodeBlocks as (...values: unknown[]) => number)(...args);
    expect(() => call([Buffer.alloc(4)], [])).toThrow(TypeError);
    expect(() => call([new Uint16Array(4)], [Buffer.alloc(4)])).toThrow(TypeError);
    expect(() => call('no', 'no')).toThrow(TypeError);
    expect(() => (decoder.decodeBlock as (...values: unknown[]) => boolean)(1, 2)).toThrow(
      TypeError,
    );
  });
});

describe('dense blobs and the decode batch', () => {
  const text = Buffer.from(
    Array.from({ length: 3000 }, (_, line) => `{"call":${line},"queue":"q${line % 13}"}\n`).join(
      '',
    ),
  );

  it('stores dense blobs with LZ4 where the addon decodes it, and with zstd otherwise', () => {
    const { codec, stored } = compressBlob(Codec.Zstd, text, 'dense');
    expect(codec).toBe(nativeLz4 === undefined ? Codec.Zstd : Codec.Lz4);
    const target = Buffer.alloc(text.length);
    decompressBlobInto(codec, stored, target);
    expect(target.equals(text)).toBe(true);
    // 'none' stays none whatever the effort.
    expect(compressBlob(Codec.None, text, 'dense').codec).toBe(Codec.None);
  });

  withAddon('a batch decodes on flush and names the offset of a blob that does not decode', () => {
    const block = compressSync(text);
    const batch = new DecodeBatch();
    const first = Buffer.alloc(text.length);
    const second = Buffer.alloc(text.length);
    batch.add(block, first, 100);
    batch.add(block, second, 200);
    expect(batch.isEmpty).toBe(false);
    batch.flush();
    expect(batch.isEmpty).toBe(true);
    expect(first.equals(text) && second.equals(text)).toBe(true);
    batch.add(block, first, 300);
    batch.add(block.subarray(0, block.length - 1), second, 400);
    expect(() => batch.flush()).toThrow(
      expect.objectContaining({ code: 'JOURNAL_CORRUPT', offset: 400 }),
    );
    expect(batch.isEmpty).toBe(true);
  });
});
