import { blake3 } from '@napi-rs/blake-hash';
import { crc32c } from '@node-rs/crc32';

/**
 * The two checksums of the journal. BLAKE3 is the cryptographic hash of payloads and of the
 * chain (fast enough to hash every data byte on the write path); CRC32C guards the small fixed
 * frame headers, where a cheap check that catches every single-bit error is what is needed.
 */

export const HASH_SIZE_BYTES = 32;

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
