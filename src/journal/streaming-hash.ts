import { createRequire } from 'node:module';
import { HASH_IMPLEMENTATION, hashBytes } from './hashing.js';

/**
 * BLAKE3 of large pieces fed back to back without joining them first: a sealed blob's
 * ciphertext and tag, which lie apart in memory until the `writev` puts them side by side on
 * disk. Joining them cost an allocation of the blob's size and a copy of it on every sealed
 * write. The native binding's incremental hasher streams them instead; one hasher is kept and
 * reset for each call (a native object per call grew memory without bound in synchronous
 * loops). Where `hashing.ts` uses its portable implementations, the pieces are joined and
 * hashed there, so that both give the same digests everywhere.
 */

interface IncrementalBlake3 {
  reset(): void;
  update(input: Buffer): IncrementalBlake3;
  digestBuffer(): Buffer;
}

function loadIncrementalHasher(): IncrementalBlake3 | undefined {
  if (HASH_IMPLEMENTATION !== 'native') return undefined;
  try {
    const binding = createRequire(import.meta.url)('@napi-rs/blake-hash') as {
      Blake3Hasher: new () => IncrementalBlake3;
    };
    return new binding.Blake3Hasher();
  } catch {
    // `hashing.ts` loaded the same binding; should this one fail, joining the pieces is right.
    return undefined;
  }
}

const incremental = loadIncrementalHasher();

/** A Buffer view of the same bytes (no copy), as the native binding wants Buffers. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One view of `pieces` when they lie back to back in one ArrayBuffer (a blob sealed by the
 * addon: its ciphertext and tag are written side by side), else undefined. The one-shot hash
 * of a 64 KiB view took 19 µs where the incremental hasher took 22.
 */
function adjacentView(pieces: readonly Uint8Array[]): Uint8Array | undefined {
  const first = pieces[0] as Uint8Array;
  let endOffset = first.byteOffset + first.byteLength;
  for (let index = 1; index < pieces.length; index++) {
    const piece = pieces[index] as Uint8Array;
    if (piece.buffer !== first.buffer || piece.byteOffset !== endOffset) return undefined;
    endOffset += piece.byteLength;
  }
  return new Uint8Array(first.buffer, first.byteOffset, endOffset - first.byteOffset);
}

/** BLAKE3 of `pieces` back to back, the same digest as `hashBytes` of their concatenation. */
export function hashPieces(pieces: readonly Uint8Array[]): Buffer {
  if (pieces.length === 1) return hashBytes(pieces[0] as Uint8Array);
  const adjacent = adjacentView(pieces);
  if (adjacent !== undefined) return hashBytes(adjacent);
  if (incremental === undefined) return hashBytes(Buffer.concat(pieces));
  incremental.reset();
  for (const piece of pieces) incremental.update(asBuffer(piece));
  return incremental.digestBuffer();
}
