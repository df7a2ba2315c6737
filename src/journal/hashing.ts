import { createRequire } from 'node:module';
import { blake3 as portableBlake3 } from '@noble/hashes/blake3.js';
import { crc32c } from '@node-rs/crc32';

/**
 * The two checksums of the journal. BLAKE3 is the cryptographic hash of payloads and of the
 * chain (fast enough to hash every data byte on the write path); CRC32C guards the small fixed
 * frame headers, where a cheap check that catches every single-bit error is what is needed.
 */

export const HASH_SIZE_BYTES = 32;

/**
 * Which BLAKE3 runs: the native binding where it has a build, else a portable one (pure
 * JavaScript, about ten times slower, same digests). The binding has no build for 32-bit ARM
 * (Raspberry Pi OS), where the portable one keeps the package working. Setting the
 * environment variable `CARTRIDGE_PORTABLE_HASH=1` forces it (tests use this).
 */
export type HashImplementation = 'native' | 'portable';

function loadBlake3(): { blake3: (bytes: Buffer) => Buffer; implementation: HashImplementation } {
  if (process.env['CARTRIDGE_PORTABLE_HASH'] !== '1') {
    try {
      const binding = createRequire(import.meta.url)('@napi-rs/blake-hash') as {
        blake3(bytes: Buffer): Buffer;
      };
      return { blake3: binding.blake3, implementation: 'native' };
    } catch {
      // No build for this platform: the portable implementation below.
    }
  }
  return {
    blake3: (bytes) => {
      const digest = portableBlake3(bytes);
      return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength);
    },
    implementation: 'portable',
  };
}

const loaded = loadBlake3();
const blake3 = loaded.blake3;
/** The BLAKE3 implementation this process uses. */
export const HASH_IMPLEMENTATION: HashImplementation = loaded.implementation;

/** A Buffer view of the same bytes (no copy), as the native bindings want Buffers. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** BLAKE3 of `parts` fed back to back, as if they were one buffer. */
export function hashParts(parts: readonly Uint8Array[]): Buffer {
  if (parts.length === 1) return blake3(asBuffer(parts[0] as Uint8Array));
  return blake3(Buffer.concat(parts));
}

export function hashBytes(bytes: Uint8Array): Buffer {
  return blake3(asBuffer(bytes));
}

/** CRC32C of `bytes`, continuing from `initial` when given (to checksum adjacent parts). */
export function checksumCrc32c(bytes: Uint8Array, initial = 0): number {
  return crc32c(asBuffer(bytes), initial) >>> 0;
}

/**
 * The chain starts from a hash of the cartridge id, not from zeros, so records cannot be
 * transplanted from one cartridge's journal into another's without breaking the chain.
 */
export function chainRootOf(cartridgeId: Uint8Array): Buffer {
  return hashParts([Buffer.from('cartridge-chain-root-v2'), cartridgeId]);
}
