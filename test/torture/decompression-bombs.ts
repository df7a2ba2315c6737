import { createRequire } from 'node:module';
import { compressSync } from 'lz4-napi';
import { Cartridge, CartridgeError } from '../../src/index.js';
import { type Codec, decompressBlob } from '../../src/journal/compression.js';
import { encodeEvent, recordTypeOf } from '../../src/journal/event-codec.js';
import type { JournalEvent } from '../../src/journal/journal-event.js';
import {
  encodeFrameHeader,
  FLAG_COMMIT,
  FRAME_HEADER_BYTES,
  linkOf,
  payloadChecksumOf,
} from '../../src/journal/record-frame.js';
import { BLOB_MAX_BYTES } from '../../src/limits.js';
import { BUILT_PATH, type BuiltCartridge, logTextOf, plant, recordsOf } from './built-cartridge.js';
import type { Figures } from './figures.js';
import { chainHashAfter } from './forged-journal.js';

/**
 * Decompression bombs: small inputs that expand to 100 MiB or 1 GiB (zstd frames of zeros,
 * lz4 blocks with one enormous match, lz4 size prefixes that lie), declared as small blobs or
 * as blobs at the limit. Each must be refused with a typed error, fast, without allocating
 * more than the declared length. The rise of rss + arrayBuffers during the refusal is the
 * memory figure. Finally the same bombs ride inside real, correctly hashed records of a
 * planted cartridge, which is opened and read.
 */

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const SLOW_MS = 100;
const LARGE_MIB = 32;
const LZ4 = 1 as Codec;
const ZSTD = 2 as Codec;

interface ZstdStreamBinding {
  CCtx: new () => {
    setParameter(parameter: number, value: number): void;
    setPledgedSrcSize(sizeBytes: number): void;
    compressStream2(
      target: Uint8Array,
      source: Uint8Array,
      endOp: number,
    ): [number, number, number];
  };
  CParameter: { readonly compressionLevel: number };
  EndDirective: { readonly continue: number; readonly end: number };
  compressBound(sizeBytes: number): number;
}
const zstd = createRequire(import.meta.url)('zstd-napi/binding') as ZstdStreamBinding;

/** A real zstd frame of `totalBytes` zeros, compressed in 1 MiB steps (with or without size). */
function zstdOfZeros(totalBytes: number, declareSize: boolean): Buffer {
  const context = new zstd.CCtx();
  context.setParameter(zstd.CParameter.compressionLevel, 1);
  if (declareSize) context.setPledgedSrcSize(totalBytes);
  const zeros = Buffer.alloc(MIB);
  const target = Buffer.allocUnsafe(zstd.compressBound(MIB));
  const output: Buffer[] = [];
  for (let fed = 0; fed < totalBytes; fed += MIB) {
    const last = fed + MIB >= totalBytes;
    let source = zeros.subarray(0, Math.min(MIB, totalBytes - fed));
    for (;;) {
      const endOp = last ? zstd.EndDirective.end : zstd.EndDirective.continue;
      const [remaining, produced, consumed] = context.compressStream2(target, source, endOp);
      output.push(Buffer.from(target.subarray(0, produced)));
      source = source.subarray(consumed);
      if (last ? remaining === 0 : source.length === 0) break;
    }
  }
  return Buffer.concat(output);
}

/**
 * A hand-made zstd frame of RLE blocks (128 KiB of zeros in 4 bytes each): 1 GiB in 32 KiB of
 * frame, without compressing a gigabyte first. The window is 128 KiB, so the decoder accepts it.
 */
function zstdRleFrame(totalBytes: number, declareSize: boolean): Buffer {
  const blockBytes = 128 * 1024;
  const blockCount = Math.ceil(totalBytes / blockBytes);
  const headerBytes = declareSize ? 14 : 6;
  const frame = Buffer.alloc(headerBytes + blockCount * 4);
  frame.writeUInt32LE(0xfd2fb528, 0);
  frame[4] = declareSize ? 0xc0 : 0x00; // An 8-byte content size field, or none.
  frame[5] = 0x38; // Window descriptor: 2^(10 + 7) bytes.
  if (declareSize) frame.writeBigUInt64LE(BigInt(totalBytes), 6);
  for (let block = 0; block < blockCount; block++) {
    const size = Math.min(blockBytes, totalBytes - block * blockBytes);
    const last = block === blockCount - 1 ? 1 : 0;
    frame.writeUIntLE((size << 3) | (1 << 1) | last, headerBytes + block * 4, 3);
  }
  return frame;
}

/**
 * An lz4 block (with its 4-byte size prefix) of one zero literal, one match at offset 1 long
 * enough to reach `expandsTo` bytes, and five final literals: a few bytes per 255 of output.
 */
function lz4ExpandingBlock(prefix: number, expandsTo: number): Buffer {
  const extraLength = expandsTo - 6 - 4 - 15;
  const fullBytes = Math.floor(extraLength / 255);
  const block = Buffer.alloc(4 + 4 + fullBytes + 1 + 6);
  block.writeUInt32LE(prefix, 0);
  block.set([0x1f, 0x00, 0x01, 0x00], 4); // One literal, then a match at offset 1.
  block.fill(0xff, 8, 8 + fullBytes);
  block[8 + fullBytes] = extraLength % 255;
  block[9 + fullBytes] = 0x50; // Five literals end the block.
  return block;
}

/** A valid lz4 block of a little text whose size prefix claims `claimed` bytes. */
function lz4LyingPrefix(claimed: number): Buffer {
  const block = Buffer.from(compressSync(logTextOf(4000, 31)));
  block.writeUInt32LE(claimed, 0);
  return block;
}

/** The crafted formats must decode when they do not lie, or the bombs would prove nothing. */
function checkCraftedFormats(): void {
  const zeros = Buffer.alloc(3 * MIB);
  const checks: [string, Buffer][] = [
    ['zstd rle', decompressBlob(ZSTD, zstdRleFrame(3 * MIB, true), 3 * MIB)],
    ['zstd rle unsized', decompressBlob(ZSTD, zstdRleFrame(3 * MIB, false), 3 * MIB)],
    ['zstd streamed', decompressBlob(ZSTD, zstdOfZeros(3 * MIB, false), 3 * MIB)],
    ['lz4 expanding', decompressBlob(LZ4, lz4ExpandingBlock(3 * MIB, 3 * MIB), 3 * MIB)],
  ];
  for (const [name, output] of checks) {
    if (!output.equals(zeros))
      throw new Error(`the crafted ${name} format does not decode to zeros`);
  }
}

/** A bomb: `arm` sets the scene (outside the measurement), `detonate` is the measured refusal. */
interface Bomb {
  readonly name: string;
  readonly arm: () => Armed;
}

interface Armed {
  readonly detonate: () => unknown;
  readonly disarm: () => void;
}

/** A bomb that needs no scene: one call of the decoder. */
function bare(name: string, detonate: () => unknown): Bomb {
  return { name, arm: () => ({ detonate, disarm: () => undefined }) };
}

function blobBombs(): Bomb[] {
  const bombs: Bomb[] = [];
  const frames: [string, Buffer][] = [
    ['zstd-100MiB', zstdOfZeros(100 * MIB, true)],
    ['zstd-100MiB-unsized', zstdOfZeros(100 * MIB, false)],
    ['zstd-1GiB', zstdRleFrame(GIB, true)],
    ['zstd-1GiB-unsized', zstdRleFrame(GIB, false)],
  ];
  for (const declared of [4096, BLOB_MAX_BYTES]) {
    for (const [name, frame] of frames) {
      bombs.push(bare(`${name} declared ${declared}`, () => decompressBlob(ZSTD, frame, declared)));
    }
    for (const [name, expandsTo] of [
      ['100MiB', 100 * MIB],
      ['1GiB', GIB],
    ] as const) {
      const block = lz4ExpandingBlock(declared, expandsTo);
      bombs.push(
        bare(`lz4-expanding-${name} declared ${declared}`, () =>
          decompressBlob(LZ4, block, declared),
        ),
      );
      const lying = lz4LyingPrefix(expandsTo);
      bombs.push(
        bare(`lz4-prefix-${name} declared ${declared}`, () => decompressBlob(LZ4, lying, declared)),
      );
      bombs.push(
        bare(`lz4-prefix-${name} declared as the lie`, () => decompressBlob(LZ4, lying, expandsTo)),
      );
    }
  }
  return bombs;
}

// ---- bombs inside records ----------------------------------------------------------------------

/**
 * Appends a `file.created` record of `/bomb` whose blob is `stored`, declared at the limit. The
 * record's own blob is the file's only extent, so the body lists none.
 */
function withBombRecord(base: BuiltCartridge, codec: Codec, stored: Buffer): Buffer {
  const last = recordsOf(base.bytes).at(-1);
  if (last === undefined) throw new Error('the base cartridge has no records');
  const sequence = last.header.sequence + 1;
  const event: JournalEvent = {
    type: 'file.created',
    path: '/bomb',
    inode: 1000,
    mode: 0o644,
    atMs: 0,
    sizeBytes: BLOB_MAX_BYTES,
    extents: [],
    previous: null,
  };
  const body = encodeEvent(event);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  encodeFrameHeader(
    {
      type: recordTypeOf(event),
      flags: codec | FLAG_COMMIT,
      bodyLength: body.length,
      storedBlobLength: stored.length,
      rawBlobLength: BLOB_MAX_BYTES,
      commitIndex: 0,
      sequence,
      link: linkOf(chainHashAfter(base.bytes)),
      payloadChecksum: payloadChecksumOf(body, stored),
    },
    header,
  );
  return Buffer.concat([base.bytes, header, body, stored]);
}

/**
 * Opens the planted file and reads every other file (the scene); the measured detonation is
 * the read of the bomb, which must be the refusal.
 */
function armRecordBomb(bytes: Buffer): Armed {
  const cartridge = Cartridge.open(BUILT_PATH, { storage: plant(bytes) });
  for (const name of cartridge.listDir('/')) {
    if (name !== 'bomb' && cartridge.metadata(`/${name}`).type === 'file')
      cartridge.readFile(`/${name}`);
  }
  return { detonate: () => cartridge.readFile('/bomb'), disarm: () => cartridge.close() };
}

function recordBombs(base: BuiltCartridge): Bomb[] {
  const zstdFile = withBombRecord(base, ZSTD, zstdRleFrame(GIB, true));
  const lz4File = withBombRecord(base, LZ4, lz4ExpandingBlock(BLOB_MAX_BYTES, GIB));
  return [
    { name: 'record zstd-1GiB at the limit', arm: () => armRecordBomb(zstdFile) },
    { name: 'record lz4-expanding-1GiB at the limit', arm: () => armRecordBomb(lz4File) },
  ];
}

// ---- measuring ---------------------------------------------------------------------------------

function heldBytes(): number {
  const usage = process.memoryUsage();
  return usage.rss + usage.arrayBuffers;
}

function detonate(bomb: Bomb, figures: Figures): void {
  const armed = bomb.arm();
  const before = heldBytes();
  const startedAt = performance.now();
  let failure: unknown;
  let accepted = false;
  try {
    armed.detonate();
    accepted = true;
  } catch (error) {
    failure = error;
  }
  const elapsedMs = performance.now() - startedAt;
  const riseMib = Math.max(0, heldBytes() - before) / MIB;
  armed.disarm();
  figures.add('bombs_tried');
  figures.max('bomb_rejection_worst_ms', elapsedMs);
  figures.max('bomb_rejection_worst_memory_mib', riseMib);
  if (elapsedMs > SLOW_MS)
    figures.fail('bomb_rejections_too_slow', `${bomb.name}: ${elapsedMs.toFixed(1)} ms`);
  if (riseMib > LARGE_MIB)
    figures.fail('bomb_rejections_too_large', `${bomb.name}: ${riseMib.toFixed(1)} MiB`);
  if (accepted) figures.fail('silent_wrong_data', `${bomb.name}: decoded without an error`);
  else if (!(failure instanceof CartridgeError))
    figures.fail('untyped_errors', `${bomb.name}: ${String(failure)}`);
}

/** Builds every bomb, detonates each once to warm up, then measures a second detonation. */
export function runBombs(figures: Figures, base: BuiltCartridge): void {
  checkCraftedFormats();
  const bombs = [...blobBombs(), ...recordBombs(base)];
  for (const bomb of bombs) {
    const armed = bomb.arm();
    try {
      armed.detonate();
    } catch {
      // The warm-up only loads code paths; the measured detonation below is judged.
    }
    armed.disarm();
  }
  for (const bomb of bombs) detonate(bomb, figures);
}
