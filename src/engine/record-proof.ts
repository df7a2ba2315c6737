import { CartridgeError, journalCorrupt } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { type RawRecord, readRecordAt, storedBlobHashOf } from '../journal/journal-reader.js';
import { recordLengthOf } from '../journal/record-frame.js';
import type { RecordProof } from '../proof/inclusion-proof.js';
import {
  auditPath,
  nodeHash,
  recordLeafHash,
  rootFromAuditPath,
  rootOfLeaves,
  splitPoint,
} from '../proof/merkle.js';
import { BLOCK_LEAVES, BLOCK_LEVEL } from '../projections/merkle-log.js';
import type { OpenedJournal } from './open-journal.js';
import { lastSignedHead } from './signing.js';

/**
 * Builds inclusion proofs. The audit path's siblings are complete subtrees: those of a block
 * or more are nodes of the Merkle log in the index (one lookup each); those inside a block are
 * hashed from the block's records, at most BLOCK_LEAVES reads. So a proof costs O(log n)
 * lookups and a bounded number of reads, however long the history.
 */

/** What `proveRecord` accepts: a record's offset, or anything with one (a `Position`). */
export type RecordTarget = number | { readonly offset: number };

function offsetOf(target: unknown): number {
  const offset =
    typeof target === 'object' && target !== null && 'offset' in target
      ? (target as { offset: unknown }).offset
      : target;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new CartridgeError('INVALID_ARGUMENT', 'a record is named by its journal offset');
  }
  return offset;
}

function leafOf(raw: RawRecord): Buffer {
  return recordLeafHash({
    type: raw.header.type,
    sequence: raw.header.sequence,
    offset: raw.offset,
    blobHash: storedBlobHashOf(raw),
    body: raw.body,
  });
}

function readRecordNamed(journal: OpenedJournal, offset: number, headOffset: number): RawRecord {
  if (offset < JOURNAL_START_OFFSET || offset >= headOffset) {
    throw new CartridgeError('INVALID_ARGUMENT', `no record starts at offset ${offset}`);
  }
  try {
    return readRecordAt(journal.file, offset, journal.erasures.lookup);
  } catch (error) {
    if (!(error instanceof CartridgeError) || error.code !== 'JOURNAL_CORRUPT') throw error;
    throw new CartridgeError('INVALID_ARGUMENT', `no record starts at offset ${offset}`, {
      cause: error,
    });
  }
}

/** The proof that the record at `target` is part of the last signed head. */
export function proveRecordAt(journal: OpenedJournal, target: unknown): RecordProof {
  const offset = offsetOf(target);
  const head = lastSignedHead(journal);
  const raw = readRecordNamed(journal, offset, journal.writer.committedTail.endOffset);
  const sequence = raw.header.sequence;
  if (sequence >= head.sequence) {
    throw new CartridgeError('NOT_SIGNED', `record ${sequence} came after the last signed head`);
  }
  const leaf = leafOf(raw);
  const blocks = new BlockLeaves(journal);
  const path = auditPath(sequence, head.sequence, (start, end) => rangeHash(blocks, start, end));
  const root = rootFromAuditPath(sequence, head.sequence, leaf, path);
  // The path is the journal's; a record that does not lead to the signed root is not the
  // journal's record `sequence` (bytes inside a blob that happen to look like one).
  if (root === undefined || root.toString('hex') !== head.merkleRoot) {
    throw new CartridgeError('INVALID_ARGUMENT', `the record at ${offset} is not in the tree`);
  }
  return {
    version: 1,
    head,
    sequence,
    offset,
    recordType: raw.header.type,
    blobHash: storedBlobHashOf(raw).toString('hex'),
    body: raw.body.toString('hex'),
    auditPath: path.map((hash) => hash.toString('hex')),
  };
}

function isPowerOfTwo(count: number): boolean {
  return count > 0 && 2 ** Math.round(Math.log2(count)) === count;
}

/** The root over leaves [start, end), each piece from the index or from a block's records. */
function rangeHash(blocks: BlockLeaves, start: number, end: number): Buffer {
  const count = end - start;
  if (count >= BLOCK_LEAVES && isPowerOfTwo(count) && start % count === 0) {
    const level = Math.round(Math.log2(count));
    return blocks.node(level, start / count).hash;
  }
  const block = Math.floor(start / BLOCK_LEAVES);
  if (block === Math.floor((end - 1) / BLOCK_LEAVES)) {
    const leaves = blocks.leaves(block);
    const first = start - block * BLOCK_LEAVES;
    return rootOfLeaves(leaves.slice(first, first + count));
  }
  const split = start + splitPoint(count);
  return nodeHash(rangeHash(blocks, start, split), rangeHash(blocks, split, end));
}

/** The leaf hashes of blocks, read once per proof. */
class BlockLeaves {
  private readonly cache = new Map<number, readonly Buffer[]>();

  constructor(private readonly journal: OpenedJournal) {}

  node(level: number, index: number): { hash: Buffer; firstOffset: number } {
    const node = this.journal.merkle.node(level, index);
    if (node === undefined) {
      throw new CartridgeError('JOURNAL_CORRUPT', `Merkle node ${level}/${index} is missing`);
    }
    return node;
  }

  leaves(block: number): readonly Buffer[] {
    const cached = this.cache.get(block);
    if (cached !== undefined) return cached;
    const merkle = this.journal.merkle;
    const complete = (block + 1) * BLOCK_LEAVES <= merkle.size;
    const leaves = complete ? this.readBlock(block) : merkle.pendingLeaves;
    this.cache.set(block, leaves);
    return leaves;
  }

  /** Rehashes a complete block's records and checks them against the block's node. */
  private readBlock(block: number): Buffer[] {
    const node = this.node(BLOCK_LEVEL, block);
    const leaves: Buffer[] = [];
    let offset = node.firstOffset;
    for (let index = 0; index < BLOCK_LEAVES; index++) {
      const raw = readRecordAt(this.journal.file, offset, this.journal.erasures.lookup);
      if (raw.header.sequence !== block * BLOCK_LEAVES + index) {
        throw journalCorrupt(offset, 'a Merkle block names a record of another sequence');
      }
      leaves.push(leafOf(raw));
      offset += recordLengthOf(raw.header);
    }
    if (!rootOfLeaves(leaves).equals(node.hash)) {
      throw journalCorrupt(node.firstOffset, 'a Merkle block disagrees with its records');
    }
    return leaves;
  }
}
