import { createRequire } from 'node:module';
import { compressSync, uncompressSync } from 'lz4-napi';
import { EngramMethod, engramCorrupt, FRAME_INPUT_BYTES, FRAME_THRESHOLD_BYTES } from './layout.js';

/**
 * The payload codecs of Engram entries, byte-compatible with engram-rs: LZ4 as a u32
 * little-endian uncompressed size followed by a raw LZ4 block (lz4_flex's
 * `compress_prepend_size`, which is also lz4-napi's block format), Zstd as a standard frame at
 * level 6. Files of 50 MiB or more become a frame container. Decoding is bounded: nothing is
 * allocated beyond the declared, limit-checked size, and a payload that decodes to any other
 * length is `ENGRAM_CORRUPT`.
 */

export type EngramCompression = 'zstd' | 'lz4' | 'none' | 'auto';

interface ZstdBinding {
  CCtx: new () => { compress(target: Uint8Array, source: Uint8Array, level: number): number };
  DCtx: new () => { decompress(target: Uint8Array, source: Uint8Array): number };
  compressBound(sizeBytes: number): number;
}

const zstd = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
const zstdCompressor = new zstd.CCtx();
const zstdDecompressor = new zstd.DCtx();
/** The level engram-rs uses. */
export const ENGRAM_ZSTD_LEVEL = 6;

/** Below this size engram-rs stores a file as it is, whatever its kind. */
const AUTO_STORED_BELOW_BYTES = 4096;
const AUTO_STORED_EXTENSIONS = new Set([
  'jpg',
  'jpeg',
  'png',
  'gif',
  'webp',
  'mp3',
  'mp4',
  'zip',
  'gz',
  'bz2',
]);
const AUTO_ZSTD_EXTENSIONS = new Set([
  'json',
  'txt',
  'xml',
  'html',
  'css',
  'js',
  'ts',
  'md',
  'csv',
  'db',
  'sqlite',
  'sqlite3',
]);

/**
 * The method engram-rs's writer picks for a file: small files and already-compressed media
 * are stored, text and databases get Zstd, anything else LZ4. The extension is compared in
 * lower case, as Rust's `to_lowercase` does for ASCII.
 */
export function chooseMethod(
  compression: EngramCompression,
  path: string,
  sizeBytes: number,
): EngramMethod {
  if (compression === 'none') return EngramMethod.None;
  if (compression === 'zstd') return EngramMethod.Zstd;
  if (compression === 'lz4') return EngramMethod.Lz4;
  if (sizeBytes < AUTO_STORED_BELOW_BYTES) return EngramMethod.None;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  const extension = dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
  if (AUTO_STORED_EXTENSIONS.has(extension)) return EngramMethod.None;
  if (AUTO_ZSTD_EXTENSIONS.has(extension)) return EngramMethod.Zstd;
  return EngramMethod.Lz4;
}

/** Whether a file of this size and method is written as a frame container. */
export function usesFrames(method: EngramMethod, uncompressedSizeBytes: number): boolean {
  return method !== EngramMethod.None && uncompressedSizeBytes >= FRAME_THRESHOLD_BYTES;
}

export function frameCountOf(uncompressedSizeBytes: number): number {
  return Math.ceil(uncompressedSizeBytes / FRAME_INPUT_BYTES);
}

let zstdTarget = Buffer.allocUnsafe(0);

/**
 * Compresses one piece (a whole small file or one frame). The result may share a scratch
 * buffer that the next call overwrites: the caller writes or copies it first.
 */
export function compressPiece(method: EngramMethod, source: Buffer): Buffer {
  if (method === EngramMethod.Lz4) return compressSync(source);
  const bound = zstd.compressBound(source.length);
  if (zstdTarget.length < bound) zstdTarget = Buffer.allocUnsafe(Math.max(bound, 256 * 1024));
  const written = zstdCompressor.compress(zstdTarget, source, ENGRAM_ZSTD_LEVEL);
  return zstdTarget.subarray(0, written);
}

/**
 * Decodes one piece into exactly `target.length` bytes. `path` names the entry in errors.
 */
export function decompressPieceInto(
  method: EngramMethod,
  stored: Buffer,
  target: Buffer,
  path: string,
): void {
  if (method === EngramMethod.Lz4) {
    // The size prefix must agree with what the directory declares before lz4 allocates by it.
    if (stored.length < 4 || stored.readUInt32LE(0) !== target.length) {
      throw engramCorrupt('has an LZ4 payload whose size prefix disagrees', path);
    }
    let output: Buffer;
    try {
      output = uncompressSync(stored);
    } catch (error) {
      throw Object.assign(engramCorrupt('has an LZ4 payload that does not decode', path), {
        cause: error,
      });
    }
    if (output.length !== target.length) {
      throw engramCorrupt('has an LZ4 payload of the wrong length', path);
    }
    output.copy(target);
    return;
  }
  let written: number;
  try {
    written = zstdDecompressor.decompress(target, stored);
  } catch (error) {
    throw Object.assign(engramCorrupt('has a Zstd payload that does not decode', path), {
      cause: error,
    });
  }
  if (written !== target.length)
    throw engramCorrupt('has a Zstd payload of the wrong length', path);
}
