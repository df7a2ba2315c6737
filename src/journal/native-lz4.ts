import { compressSync } from 'lz4-napi';
import { loadNativeAddon } from './native-addon.js';

/**
 * The LZ4 decoder `npm install` builds from `native/cartridge-lz4.c`: it decodes lz4-napi's
 * blocks (a u32 of the decoded length, then a raw LZ4 block) straight into a buffer the caller
 * gives, one at a time or many in one call (on two threads when they are large). lz4-napi
 * itself decodes only into a buffer it allocates, which Node then copies: slower than zstd on
 * the same bytes, which is why the addon decides whether consolidated runs are written with
 * LZ4 at all (see `compression.ts`).
 */
export interface NativeLz4 {
  /** Decodes one block into `target`; false when it does not decode to exactly its length. */
  decodeBlock(source: Uint8Array, target: Uint8Array): boolean;
  /**
   * Decodes `sources[i]` into `targets[i]` for every i: -1 when all decoded to exactly their
   * targets' lengths, else the index of the first that did not.
   */
  decodeBlocks(sources: readonly Uint8Array[], targets: readonly Uint8Array[]): number;
}

/**
 * The most blocks one `decodeBlocks` call takes (the addon refuses more: it bounds what a
 * caller can make it allocate).
 */
export const LZ4_BLOCKS_PER_CALL_MAX = 65_536;

/**
 * The addon, used only when it decodes what lz4-napi encodes, byte for byte, one block at a
 * time and several at once, and refuses a block cut short and one that declares a length
 * other than its target's; otherwise (not built, or `CARTRIDGE_NATIVE_LZ4=0`) undefined.
 */
function loadNativeLz4(): NativeLz4 | undefined {
  const addon = loadNativeAddon<NativeLz4>(
    'cartridge_lz4.node',
    process.env['CARTRIDGE_NATIVE_LZ4'] === '0',
  );
  if (addon === null) return undefined;
  // Text with repeats near and far (short offsets, long matches, long literal runs), then a
  // tail of noise-like bytes that LZ4 can only store as literals.
  const input = Buffer.alloc(70_000);
  for (let index = 0; index < input.length; index++) {
    input[index] = index < 60_000 ? 97 + (((index % 7) * (index % 13)) % 26) : (index * 167) % 251;
  }
  const block = compressSync(input);
  const whole = Buffer.alloc(input.length);
  if (!addon.decodeBlock(block, whole) || !whole.equals(input)) return undefined;
  const halves = [Buffer.alloc(input.length), Buffer.alloc(input.length)];
  if (addon.decodeBlocks([block, block], halves) !== -1) return undefined;
  if (!halves.every((half) => half.equals(input))) return undefined;
  if (addon.decodeBlock(block.subarray(0, block.length - 1), whole)) return undefined;
  if (addon.decodeBlock(block, Buffer.alloc(input.length - 1))) return undefined;
  return addon;
}

export const nativeLz4 = loadNativeLz4();

/** Which LZ4 decoder runs: the addon, or lz4-napi. Both give the same bytes. */
export const LZ4_DECODER_IMPLEMENTATION: 'addon' | 'library' =
  nativeLz4 === undefined ? 'library' : 'addon';
