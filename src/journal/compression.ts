import { createRequire } from 'node:module';
import { compressSync, uncompressSync } from 'lz4-napi';
import { CartridgeError, limitExceeded } from '../errors.js';
import { BLOB_MAX_BYTES } from '../limits.js';
import { nativeLz4 } from './native-lz4.js';
import { Slab } from './slab.js';

/**
 * Per-record compression of blobs. A blob is compressed only when that makes it smaller; the
 * record's flags say which codec was used. Decompression is bounded by the length the
 * (checksummed) frame header declares, so a hostile payload cannot make us allocate more.
 */

export type CompressionName = 'zstd' | 'lz4' | 'none';

export const enum Codec {
  None = 0,
  Lz4 = 1,
  Zstd = 2,
}

export const COMPRESSION_NAMES: readonly CompressionName[] = ['zstd', 'lz4', 'none'];

interface ZstdCompressor {
  compress(target: Uint8Array, source: Uint8Array, level: number): number;
  compress2(target: Uint8Array, source: Uint8Array): number;
  setParameter(parameter: number, value: number): void;
}

interface ZstdBinding {
  CCtx: new () => ZstdCompressor;
  DCtx: new () => { decompress(target: Uint8Array, source: Uint8Array): number };
  compressBound(sizeBytes: number): number;
  getFrameContentSize(frame: Uint8Array): number | null;
}

const zstd = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
const zstdCompressor = new zstd.CCtx();
const zstdDecompressor = new zstd.DCtx();
const ZSTD_LEVEL = 1;
/**
 * A transaction of 100 audit lines (12 KB) took 36 µs at level 1 and 24 µs at level -1, a
 * third of the codec's time, for a ratio of 0.145 instead of 0.105 (measured here): a log
 * written in transactions pays the codec on every commit, and at 0.145 its file is still a
 * seventh of its text.
 */
const ZSTD_QUICK_LEVEL = -1;

/**
 * 'normal' uses the cartridge's codec; 'none' stores the blob as it is whatever the codec
 * (index pages, and small appends that consolidation will compress later); 'dense' is for
 * blobs written once and read often (consolidated runs of appends): LZ4 where the LZ4 addon
 * decodes (`denseCodecOf`), else with zstd the settings of `denseCompressor`; 'quick'
 * is for blobs on a writer's hot path that arrive many times a second (a transaction's
 * appends to a log): with zstd, its fast level `ZSTD_QUICK_LEVEL`.
 */
export type CompressionEffort = 'normal' | 'dense' | 'quick' | 'none';

/** ZSTD_c_compressionLevel, ZSTD_c_minMatch and ZSTD_c_literalCompressionMode (zstd.h). */
const ZSTD_PARAMETER_LEVEL = 100;
const ZSTD_PARAMETER_MIN_MATCH = 105;
const ZSTD_PARAMETER_LITERAL_COMPRESSION = 1002;
/** ZSTD_ps_disable: literals stored as they are, not Huffman-coded. */
const ZSTD_LITERALS_RAW = 2;
const DENSE_LEVEL = 6;
const DENSE_MIN_MATCH_BYTES = 7;

/**
 * The compressor of 'dense' blobs. Decoding a log consolidated at level 1 ran at ~1 GB/s here,
 * several times slower than reading the same bytes uncompressed; decoding cost follows the
 * number of sequences and the Huffman-coded literals, not the level. Level 6 with matches of
 * at least 7 bytes makes fewer, longer sequences, and raw literals make each literal run a
 * copy: 11.4 MiB of audit log decodes in ~5.7 ms instead of ~9.2 ms, at a ratio of 8.2 instead
 * of 10.3, for ~1.5 ms of compression per 120 KiB record instead of ~0.3 ms (see
 * ARCHITECTURE.md). The frames are ordinary zstd frames, which every decoder reads. The literal
 * mode is an experimental zstd parameter; a build that refuses it keeps Huffman literals.
 */
function makeDenseCompressor(): ZstdCompressor {
  const compressor = new zstd.CCtx();
  compressor.setParameter(ZSTD_PARAMETER_LEVEL, DENSE_LEVEL);
  compressor.setParameter(ZSTD_PARAMETER_MIN_MATCH, DENSE_MIN_MATCH_BYTES);
  try {
    compressor.setParameter(ZSTD_PARAMETER_LITERAL_COMPRESSION, ZSTD_LITERALS_RAW);
  } catch {
    // An older or newer zstd without the parameter: the frames stay valid, only slower to read.
  }
  return compressor;
}

const denseCompressor = makeDenseCompressor();

/**
 * The codec of 'dense' blobs, which are read whole far more often than written: LZ4 when the
 * addon decodes it, whatever the cartridge's codec (but 'none'). A log's consolidated runs
 * decode at 3.5-4 GB/s with it against 1.4-2 GB/s with zstd's dense settings, for a ratio of
 * about 5 instead of 8 on audit lines (a log of 200 000 single-commit appends held 1.98
 * disk bytes per text byte instead of 1.86; see ARCHITECTURE.md, sections 74 and 76).
 * Without the addon lz4-napi would decode them, slower than zstd, so zstd stays.
 */
function denseCodecOf(codec: Codec): Codec {
  return codec !== Codec.None && nativeLz4 !== undefined ? Codec.Lz4 : codec;
}

/** Blobs smaller than this are never worth a codec call. */
const COMPRESSION_MIN_BYTES = 512;
/** A probe of this many leading bytes decides whether the whole blob is worth compressing. */
const PROBE_BYTES = 1024;
const probeScratch = Buffer.allocUnsafe(zstd.compressBound(PROBE_BYTES));
/**
 * Blobs up to this size are compressed without a probe: a zstd call has a fixed cost of
 * several microseconds, so probing a small blob (a transaction of log lines, say) cost a
 * quarter of compressing it, while a wasted full pass over an incompressible one this small
 * costs little more than the probe.
 */
const PROBE_SKIP_MAX_BYTES = 16 * 1024;
/** Compression is kept only when it saves at least this share of the bytes. */
const REQUIRED_SAVING_RATIO = 0.1;

export function codecOf(name: CompressionName): Codec {
  if (name === 'zstd') return Codec.Zstd;
  if (name === 'lz4') return Codec.Lz4;
  return Codec.None;
}

/**
 * zstd compresses into this buffer, reused, and the result is copied out at its own size: a
 * fresh buffer of `compressBound(length)` per blob (a little more than the blob) was an
 * allocation of the blob's size for a result often a tenth of it, kept alive as long as the
 * result was. Blobs above the bound get a buffer of their own.
 */
const COMPRESS_SCRATCH_MAX_BYTES = 1024 * 1024;
let compressScratch = Buffer.allocUnsafe(0);

/**
 * zstd's output for `source` in `target` (at least `compressBound` long), in bytes. A plain
 * function, not a closure made per call: the write path compresses on every commit.
 */
function zstdInto(target: Uint8Array, source: Uint8Array, effort: CompressionEffort): number {
  if (effort === 'dense') return denseCompressor.compress2(target, source);
  return zstdCompressor.compress(
    target,
    source,
    effort === 'quick' ? ZSTD_QUICK_LEVEL : ZSTD_LEVEL,
  );
}

/**
 * Where the compressed blobs of 'quick' effort are written (see `Slab`): a blob is a piece of
 * it and needs no copy of its own. Compressing into the reused scratch buffer and copying the
 * result out (an allocation per commit) cost about a tenth of the codec call for a transaction
 * of log lines.
 */
const QUICK_SLAB_BYTES = 256 * 1024;
const quickSlab = new Slab(QUICK_SLAB_BYTES);

function compressQuickIntoSlab(source: Uint8Array, boundBytes: number): Buffer {
  const room = quickSlab.room(boundBytes);
  return quickSlab.keep(zstdCompressor.compress(room, source, ZSTD_QUICK_LEVEL));
}

function compressWith(codec: Codec, source: Uint8Array, effort: CompressionEffort): Buffer {
  if (codec === Codec.Lz4)
    return compressSync(Buffer.from(source.buffer, source.byteOffset, source.length));
  const boundBytes = zstd.compressBound(source.length);
  if (effort === 'quick' && boundBytes <= QUICK_SLAB_BYTES / 4) {
    return compressQuickIntoSlab(source, boundBytes);
  }
  if (boundBytes > COMPRESS_SCRATCH_MAX_BYTES) {
    const target = Buffer.allocUnsafe(boundBytes);
    return target.subarray(0, zstdInto(target, source, effort));
  }
  if (compressScratch.length < boundBytes) {
    compressScratch = Buffer.allocUnsafe(Math.min(COMPRESS_SCRATCH_MAX_BYTES, boundBytes * 2));
  }
  const written = zstdInto(compressScratch, source, effort);
  return Buffer.from(compressScratch.subarray(0, written));
}

/** How many leading bytes `looksIncompressible` samples. */
const SAMPLE_BYTES = 512;
/**
 * Of 512 bytes drawn uniformly from 256 values, about 221 are distinct; text uses a few dozen
 * byte values, and structured binary data repeats a few (zeros, small integers). Above this
 * count a sample is taken for noise: ciphertext, compressed media, random identifiers.
 */
const INCOMPRESSIBLE_DISTINCT_MIN = 192;
const seenScratch = new Uint8Array(256);

/**
 * Whether the blob's first bytes look like noise, which no codec shrinks: counting the
 * distinct byte values of a sample costs a fraction of a microsecond, where a codec pass over
 * an incompressible 4 KiB blob cost ten or more, wasted. A blob that only looks like noise at
 * its start is stored as it is: a missed saving, never a wrong byte.
 */
function looksIncompressible(blob: Uint8Array): boolean {
  const sampleBytes = Math.min(SAMPLE_BYTES, blob.length);
  if (sampleBytes < SAMPLE_BYTES) return false;
  seenScratch.fill(0);
  let distinct = 0;
  for (let index = 0; index < sampleBytes; index++) {
    const byte = blob[index] as number;
    if (seenScratch[byte] === 0) {
      seenScratch[byte] = 1;
      distinct++;
    }
  }
  return distinct >= INCOMPRESSIBLE_DISTINCT_MIN;
}

/**
 * Returns the compressed blob and its codec, or the blob itself with `Codec.None` when
 * compression would not save at least 10 %. Blobs over 16 KiB are probed on their first 1 KiB
 * first, so incompressible data (media, ciphertext) costs one small probe, not a full pass.
 */
export function compressBlob(
  codec: Codec,
  blob: Uint8Array,
  effort: CompressionEffort = 'normal',
): { codec: Codec; stored: Uint8Array } {
  if (codec === Codec.None || effort === 'none' || blob.length < COMPRESSION_MIN_BYTES) {
    return { codec: Codec.None, stored: blob };
  }
  if (looksIncompressible(blob)) return { codec: Codec.None, stored: blob };
  if (blob.length > PROBE_SKIP_MAX_BYTES) {
    // The probe uses zstd into a reused buffer whatever the codec: lz4-napi allocates native
    // buffers per call that are freed only after a GC, which makes it slower in a sync loop.
    const probeBytes = zstdCompressor.compress(
      probeScratch,
      blob.subarray(0, PROBE_BYTES),
      ZSTD_LEVEL,
    );
    if (probeBytes > PROBE_BYTES * (1 - REQUIRED_SAVING_RATIO)) {
      return { codec: Codec.None, stored: blob };
    }
  }
  const used = effort === 'dense' ? denseCodecOf(codec) : codec;
  const compressed = compressWith(used, blob, effort);
  if (compressed.length > blob.length * (1 - REQUIRED_SAVING_RATIO)) {
    return { codec: Codec.None, stored: blob };
  }
  return { codec: used, stored: compressed };
}

/**
 * Decompresses `stored` straight into `target` (exactly the raw length long), for reads that
 * assemble a file from many records: no intermediate buffer, no second copy. zstd and the LZ4
 * addon decode into it; lz4-napi (where the addon is not built) has no such call and goes
 * through `decompressBlob` and a copy.
 */
export function decompressBlobInto(codec: Codec, stored: Uint8Array, target: Buffer): void {
  if (target.length > BLOB_MAX_BYTES)
    throw limitExceeded('blob length', target.length, BLOB_MAX_BYTES);
  if (codec === Codec.Lz4 && nativeLz4 !== undefined) {
    if (!nativeLz4.decodeBlock(stored, target)) throw corruptBlob('does not decode to its length');
    return;
  }
  if (codec !== Codec.Zstd) {
    target.set(decompressBlob(codec, stored, target.length));
    return;
  }
  let written: number;
  try {
    written = zstdDecompressor.decompress(target, stored);
  } catch (error) {
    throw new CartridgeError('JOURNAL_CORRUPT', 'zstd blob does not decode', { cause: error });
  }
  if (written !== target.length) throw corruptBlob('decodes to a different length');
}

function corruptBlob(reason: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `compressed blob ${reason}`);
}

/**
 * Decompresses `stored` into exactly `rawLengthBytes` bytes. Any mismatch between the declared
 * length and what the codec produces is corruption; nothing is allocated beyond the declared,
 * limit-checked length.
 */
export function decompressBlob(codec: Codec, stored: Uint8Array, rawLengthBytes: number): Buffer {
  if (rawLengthBytes > BLOB_MAX_BYTES)
    throw limitExceeded('blob length', rawLengthBytes, BLOB_MAX_BYTES);
  if (codec === Codec.Zstd || (codec === Codec.Lz4 && nativeLz4 !== undefined)) {
    // Both decode into a buffer given to them: allocated here at the checked length.
    const target = Buffer.allocUnsafe(rawLengthBytes);
    decompressBlobInto(codec, stored, target);
    return target;
  }
  if (codec === Codec.Lz4) {
    // The lz4 block format starts with the uncompressed length (u32 little-endian); it must
    // agree with the frame header before the codec is allowed to allocate.
    if (stored.length < 4) throw corruptBlob('is too short');
    const declared = Buffer.from(stored.buffer, stored.byteOffset, 4).readUInt32LE(0);
    if (declared !== rawLengthBytes) throw corruptBlob('declares a different length');
    let output: Buffer;
    try {
      output = uncompressSync(stored);
    } catch (error) {
      throw new CartridgeError('JOURNAL_CORRUPT', 'lz4 blob does not decode', { cause: error });
    }
    if (output.length !== rawLengthBytes) throw corruptBlob('decodes to a different length');
    return output;
  }
  throw corruptBlob(`names unknown codec ${codec as number}`);
}
