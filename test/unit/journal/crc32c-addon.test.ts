import { existsSync } from 'node:fs';
import { arch } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { crc32c as reference } from '@node-rs/crc32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checksumCrc32c, CRC32C_IMPLEMENTATION } from '../../../src/journal/hashing.js';
import { loadNativeAddon } from '../../../src/journal/native-addon.js';

/**
 * The CRC32C addon (`native/cartridge-crc32c.c`) runs the CPU's instruction in three chains
 * side by side and joins them with a table built from the instruction itself. It must give the
 * checksums of `@node-rs/crc32` for every length, above all at the edges of its three-lane
 * blocks (3 x 4 096 bytes), for views at any offset, and when continuing a checksum. Where it
 * was built on x86-64 it must be the one in use; a bad argument is a TypeError.
 */

interface Binding {
  readonly available: boolean;
  crc32c?(bytes: unknown, previous: unknown, extra?: unknown): number;
}

const ADDON = join(process.cwd(), 'native', 'build', 'Release', 'cartridge_crc32c.node');
const binding = loadNativeAddon<Binding>('cartridge_crc32c.node', false);
const native = binding?.available === true ? binding.crc32c : undefined;
const LANE_BYTES = 4096;

function expected(bytes: Uint8Array, previous: number): number {
  return reference(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), previous) >>> 0;
}

describe('the CRC32C addon', () => {
  it.skipIf(
    !existsSync(ADDON) || arch() !== 'x64' || process.env['CARTRIDGE_NATIVE_CRC32C'] === '0',
  )('checksums where it was built on x86-64', () => {
    expect(native).toBeDefined();
    expect(CRC32C_IMPLEMENTATION).toBe('addon');
  });

  it.skipIf(native === undefined)('gives the check values of RFC 3720 and of "123456789"', () => {
    const subject = native as NonNullable<typeof native>;
    const incrementing = Buffer.from(Array.from({ length: 32 }, (_, index) => index));
    const decrementing = Buffer.from(Array.from({ length: 32 }, (_, index) => 31 - index));
    expect(subject(Buffer.from('123456789'), 0)).toBe(0xe3069283);
    expect(subject(Buffer.alloc(32), 0)).toBe(0x8a9136aa);
    expect(subject(Buffer.alloc(32, 0xff), 0)).toBe(0x62a8ab43);
    expect(subject(incrementing, 0)).toBe(0x46dd794e);
    expect(subject(decrementing, 0)).toBe(0x113fdb5c);
    expect(subject(Buffer.alloc(0), 0)).toBe(0);
  });

  it.skipIf(native === undefined)('agrees with @node-rs/crc32 at the edges of its lanes', () => {
    const subject = native as NonNullable<typeof native>;
    const edges = [3 * LANE_BYTES, 6 * LANE_BYTES, 9 * LANE_BYTES, 65536, 300_000];
    const lengths = [
      ...Array.from({ length: 80 }, (_, index) => index),
      ...edges.flatMap((edge) => [
        edge - 9,
        edge - 8,
        edge - 1,
        edge,
        edge + 1,
        edge + 7,
        edge + 8,
      ]),
    ];
    const backing = randomBytes(300_100);
    for (const length of lengths) {
      for (const offset of [0, 1, 3, 8]) {
        const view = backing.subarray(offset, offset + length);
        for (const previous of [0, 0xffffffff, 0x1234abcd]) {
          expect(subject(view, previous), `length ${length}, offset ${offset}`).toBe(
            expected(view, previous),
          );
        }
      }
    }
  });

  it.skipIf(native === undefined)('continues a checksum across any split', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 40_000 }),
        fc.nat(),
        fc.nat({ max: 0xffffffff }),
        (bytes, cut, previous) => {
          const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
          const whole = checksumCrc32c(bytes, previous);
          const joined = checksumCrc32c(
            bytes.subarray(at),
            checksumCrc32c(bytes.subarray(0, at), previous),
          );
          return whole === joined && whole === expected(bytes, previous);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.skipIf(native === undefined)('refuses bad arguments with a TypeError', () => {
    const subject = native as NonNullable<typeof native>;
    expect(() => subject('bytes', 0)).toThrow(TypeError);
    expect(() => subject(new Float64Array(4), 0)).toThrow(TypeError);
    expect(() => subject(Buffer.alloc(4), 'zero')).toThrow(TypeError);
    expect(() => subject(Buffer.alloc(4), 0, 1)).toThrow(TypeError);
  });
});
