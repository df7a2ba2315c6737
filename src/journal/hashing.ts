import { createRequire } from 'node:module';
import { blake3 as portableBlake3 } from '@noble/hashes/blake3.js';
import { crc32c } from '@node-rs/crc32';
import { createBLAKE3, type IHasher } from 'hash-wasm';

/**
 * The two checksums of the journal. BLAKE3 is the cryptographic hash of payloads and of the
 * chain (fast enough to hash every data byte on the write path); CRC32C guards the small fixed
 * frame headers, where a cheap check that catches every single-bit error is what is needed.
 */

export const HASH_SIZE_BYTES = 32;

/**
 * Which BLAKE3 runs for large inputs: the native binding where it has a build, else a portable
 * one. The binding has no build for 32-bit ARM (Raspberry Pi OS), where the portable one keeps
 * the package working. Setting the environment variable `CARTRIDGE_PORTABLE_HASH=1` forces it
 * (tests use this). Every implementation gives the same digests.
 */
export type HashImplementation = 'native' | 'portable';

type Blake3 = (bytes: Buffer) => Buffer;

function loadNativeBlake3(): Blake3 | undefined {
  if (process.env['CARTRIDGE_PORTABLE_HASH'] === '1') return undefined;
  try {
    return (createRequire(import.meta.url)('@napi-rs/blake-hash') as { blake3: Blake3 }).blake3;
  } catch {
    // No build for this platform: the portable implementations below.
    return undefined;
  }
}

/** Pure JavaScript BLAKE3: slow, but synchronous from the first call. */
const pureBlake3: Blake3 = (bytes) => {
  const digest = portableBlake3(bytes);
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength);
};

/**
 * BLAKE3 compiled to WebAssembly, reused across calls. The native binding pays a fixed cost of
 * a few microseconds per call, which dominates the small inputs hashed once or twice per record
 * (chain hashes, Merkle leaves and nodes, small blobs); the WebAssembly hasher pays a tenth of
 * that, and runs at about a quarter of the native speed on large inputs. It is compiled
 * asynchronously (WebAssembly offers no other way for a module of this size), so until the
 * event loop has turned once the other implementations stand in.
 */
let wasmHasher: IHasher | undefined;
/**
 * Settles once the WebAssembly hasher is compiled (or known to be unavailable). Nothing needs
 * to wait for it; benchmarks do, so that they time the steady state, as they import modules
 * before the clock starts.
 */
export const hashersReady: Promise<void> = createBLAKE3().then(
  (hasher) => {
    wasmHasher = hasher;
  },
  () => {
    // No WebAssembly here: the other implementations serve every input.
  },
);

function wasmBlake3(hasher: IHasher, bytes: Uint8Array): Buffer {
  hasher.init();
  hasher.update(bytes);
  const digest = hasher.digest('binary');
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** Inputs up to this size go to the WebAssembly hasher when the native one is available. */
const WASM_PREFERRED_MAX_BYTES = 2048;

const nativeBlake3 = loadNativeBlake3();
/** The BLAKE3 implementation this process uses for large inputs. */
export const HASH_IMPLEMENTATION: HashImplementation =
  nativeBlake3 === undefined ? 'portable' : 'native';

function blake3(bytes: Buffer): Buffer {
  if (nativeBlake3 !== undefined) {
    if (wasmHasher !== undefined && bytes.length <= WASM_PREFERRED_MAX_BYTES) {
      return wasmBlake3(wasmHasher, bytes);
    }
    return nativeBlake3(bytes);
  }
  return wasmHasher === undefined ? pureBlake3(bytes) : wasmBlake3(wasmHasher, bytes);
}

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
