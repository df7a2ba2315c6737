import type { MerkleSection } from '../../src/journal/journal-event.js';
import { BLOCK_LEAVES, BLOCK_LEVEL } from '../../src/projections/merkle-log.js';

/**
 * A Merkle log section of the right shape for a tree of `size` records, with zero hashes: what
 * a test that forges a checkpoint root needs so that open accepts the root and gets on to the
 * part the test is about. Nothing here is a valid proof of anything.
 */
export function merkleSectionFor(size: number): MerkleSection {
  const blocks = Math.floor(size / BLOCK_LEAVES);
  const frontier: (number | Buffer)[] = [];
  for (let level = 53; level >= BLOCK_LEVEL; level--) {
    if (Math.floor(blocks / 2 ** (level - BLOCK_LEVEL)) % 2 === 1) {
      frontier.push(level, Buffer.alloc(32), 0);
    }
  }
  return {
    size,
    blockStartOffset: 0,
    pendingLeaves: Buffer.alloc((size % BLOCK_LEAVES) * 32),
    frontier,
    unwritten: [],
    lastSignedOffset: null,
  };
}
