import { createRequire } from 'node:module';
import { blake3 as portableBlake3 } from '@noble/hashes/blake3.js';
import { crc32c } from '@node-rs/crc32';
import { createBLAKE3, type IHasher } from 'hash-wasm';
import { loadNativeAddon, loadPlatformAddon } from './native-addon.js';

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

const portableForced = process.env['CARTRIDGE_PORTABLE_HASH'] === '1';

function loadNativeBlake3(): Blake3 | undefined {
  if (portableForced) return undefined;
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

/** What `native/cartridge-blake3.c` exports. */
interface SmallInputBlake3 {
  /** Writes the 32-byte digest of `input` into `target` at `offset`. */
  hashInto(input: Uint8Array, target: Uint8Array, offset: number): void;
}

/**
 * Inputs up to this size go to the addon when it is built: from the BLAKE3 specification's
 * portable form, it hashes a chain link in about a third of a microsecond where the
 * WebAssembly hasher takes one to two, and keeps up with it to about 2 KiB. Larger inputs go
 * to the Rust binding, which hashes several chunks at once with SIMD.
 */
const SMALL_INPUT_MAX_BYTES = 2048;

/*
 * Digests from the BLAKE3 specification's test input (byte i is i mod 251): the empty input
 * (one empty chunk as the root) and 3 073 bytes (three full chunks and one byte: parents on two
 * levels). An addon that does not reproduce both is not used.
 */
const KNOWN_ANSWERS: readonly (readonly [number, string])[] = [
  [0, 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'],
  [3073, '7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3'],
];

function loadSmallInputBlake3(): SmallInputBlake3 | undefined {
  const addon = loadNativeAddon<SmallInputBlake3>(
    'cartridge_blake3.node',
    portableForced || process.env['CARTRIDGE_NATIVE_HASH'] === '0',
  );
  if (addon === null) return undefined;
  const digest = Buffer.alloc(HASH_SIZE_BYTES);
  for (const [length, expected] of KNOWN_ANSWERS) {
    const input = Buffer.alloc(length);
    for (let index = 0; index < length; index++) input[index] = index % 251;
    addon.hashInto(input, digest, 0);
    if (digest.toString('hex') !== expected) return undefined;
  }
  return addon;
}

const smallInputBlake3 = loadSmallInputBlake3();

/**
 * Which BLAKE3 hashes small inputs: the addon, or (not built, or turned off with
 * `CARTRIDGE_NATIVE_HASH=0` or `CARTRIDGE_PORTABLE_HASH=1`) the WebAssembly and JavaScript
 * ones. Every implementation gives the same digests.
 */
export const SMALL_INPUT_HASH_IMPLEMENTATION: 'addon' | 'webassembly' =
  smallInputBlake3 === undefined ? 'webassembly' : 'addon';

const nativeBlake3 = loadNativeBlake3();
/** The BLAKE3 implementation this process uses for large inputs. */
export const HASH_IMPLEMENTATION: HashImplementation =
  nativeBlake3 === undefined ? 'portable' : 'native';

function blake3(bytes: Buffer): Buffer {
  if (smallInputBlake3 !== undefined && bytes.length <= SMALL_INPUT_MAX_BYTES) {
    // A slice of Node's shared pool, like every small Buffer: memory of its own (an
    // ArrayBuffer with a backing store per digest) costs twice the hashing, mostly in the
    // garbage collector.
    const digest = Buffer.allocUnsafe(HASH_SIZE_BYTES);
    smallInputBlake3.hashInto(bytes, digest, 0);
    return digest;
  }
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

/** What `native/cartridge-crc32c.c` exports: `crc32c` only where the CPU has the instruction. */
interface Crc32cAddon {
  readonly available: boolean;
  crc32c?(bytes: Uint8Array, previous: number): number;
}

/**
 * CRC32C with the CPU's instruction in three chains side by side (the addon): 5 µs for 64 KiB
 * where `@node-rs/crc32` takes 15-19, and 80 ns for 100 bytes against 180. It is used only if it
 * gives the standard check value of "123456789", continues a checksum as the library does, and
 * gives the library's checksum of an input long enough for its three lanes;
 * otherwise (not built, no instruction, or `CARTRIDGE_NATIVE_CRC32C=0`) the library.
 */
function loadCrc32cAddon(): ((bytes: Uint8Array, previous: number) => number) | undefined {
  const native = loadPlatformAddon<Crc32cAddon>(
    'cartridge_crc32c.node',
    process.env['CARTRIDGE_NATIVE_CRC32C'] === '0',
  )?.crc32c;
  if (native === undefined) return undefined;
  const check = Buffer.from('123456789');
  if (native(check, 0) !== 0xe3069283) return undefined;
  if (native(check.subarray(4), native(check.subarray(0, 4), 0)) !== 0xe3069283) return undefined;
  // Three lanes and a few bytes (byte i is i mod 251): the lanes and their joining, checked.
  const long = Buffer.alloc(12_293);
  for (let index = 0; index < long.length; index++) long[index] = index % 251;
  if (native(long, 0) !== 0xb5509f87) return undefined;
  return native;
}

const nativeCrc32c = loadCrc32cAddon();

/** Which CRC32C runs: the addon, or `@node-rs/crc32`. Both give the same checksums. */
export const CRC32C_IMPLEMENTATION: 'addon' | 'library' =
  nativeCrc32c === undefined ? 'library' : 'addon';

/** CRC32C of `bytes`, continuing from `initial` when given (to checksum adjacent parts). */
export function checksumCrc32c(bytes: Uint8Array, initial = 0): number {
  if (nativeCrc32c !== undefined) return nativeCrc32c(bytes, initial);
  return crc32c(asBuffer(bytes), initial) >>> 0;
}

/**
 * The chain starts from a hash of the cartridge id, not from zeros, so records cannot be
 * transplanted from one cartridge's journal into another's without breaking the chain.
 */
export function chainRootOf(cartridgeId: Uint8Array): Buffer {
  return hashParts([Buffer.from('cartridge-chain-root-v2'), cartridgeId]);
}
