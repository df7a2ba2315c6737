import { blake3 } from '@napi-rs/blake-hash';

/**
 * RFC 6962 §2.1 written as plainly as the RFC states it, with slices and recursion, as the
 * reference the real implementation (which never holds all leaves) is compared with.
 */

function hash(...parts: Buffer[]): Buffer {
  return blake3(Buffer.concat(parts));
}

/** The largest power of two smaller than n. */
function k(n: number): number {
  let power = 1;
  while (power * 2 < n) power *= 2;
  return power;
}

/** MTH(D[n]) over leaf hashes (the leaves are already H(0x00 ‖ entry)). */
export function naiveRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return blake3(Buffer.alloc(0));
  if (leaves.length === 1) return leaves[0] as Buffer;
  const split = k(leaves.length);
  return hash(Buffer.from([1]), naiveRoot(leaves.slice(0, split)), naiveRoot(leaves.slice(split)));
}

/** PATH(m, D[n]): the audit path, deepest sibling first. */
export function naiveAuditPath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const split = k(leaves.length);
  if (m < split) {
    return [...naiveAuditPath(m, leaves.slice(0, split)), naiveRoot(leaves.slice(split))];
  }
  return [...naiveAuditPath(m - split, leaves.slice(split)), naiveRoot(leaves.slice(0, split))];
}

/** `count` distinct leaf hashes. */
export function leavesOf(count: number): Buffer[] {
  return Array.from({ length: count }, (_, index) =>
    hash(Buffer.from([0]), Buffer.from(`entry ${index}`)),
  );
}
