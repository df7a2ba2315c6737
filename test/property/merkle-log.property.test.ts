import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/journal/journal-event.js';
import { auditPath, rootFromAuditPath } from '../../src/proof/merkle.js';
import { PagedTree, type PageSource } from '../../src/projections/index/paged-tree.js';
import { BLOCK_LEAVES, MerkleLog } from '../../src/projections/merkle-log.js';
import { UndoLog } from '../../src/projections/undo-log.js';
import { leavesOf, naiveAuditPath, naiveRoot } from '../unit/proof/naive-merkle.js';

/**
 * The Merkle log fold against the naive RFC 6962 reference: after folding any number of
 * records (pages and checkpoint roots among them, whose nodes wait), through a checkpoint
 * section and back, inside transactions that abort, its root is the reference root, and a path
 * built from its stored nodes is the reference path. `PROPERTY_RUNS` and `PROPERTY_SEED` as in
 * the other property tests; the seed is printed on failure.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '40', 10) || 40;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

const NO_PAGES: PageSource = {
  load: () => {
    throw new Error('this tree lives in memory');
  },
};

type Kind = 'data' | 'index.page' | 'checkpoint';

function recordOf(sequence: number, kind: Kind, leafHash: Buffer): JournalRecord {
  const event =
    kind === 'checkpoint'
      ? {
          type: 'checkpoint' as const,
          chainBefore: Buffer.alloc(32),
          sections: {
            catalog: [],
            allocator: [],
            timeline: [],
            merkle: {
              size: 0,
              blockStartOffset: 0,
              pendingLeaves: Buffer.alloc(0),
              frontier: [],
              unwritten: [],
              lastSignedOffset: null,
            },
          },
        }
      : { type: kind };
  return {
    offset: 8192 + sequence * 100,
    sequence,
    lengthBytes: 100,
    rawBlobLength: 0,
    event,
    leafHash,
  };
}

const step = fc.record({
  kind: fc.constantFrom<Kind>('data', 'data', 'index.page', 'checkpoint'),
  abort: fc.boolean(),
  reload: fc.boolean(),
});

describe('MerkleLog (property)', () => {
  it('folds to the reference root and gives reference paths, across sections and aborts', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
        const leaves = leavesOf(steps.length);
        const undo = new UndoLog();
        const tree = new PagedTree(NO_PAGES, undo);
        let log = new MerkleLog(tree, undo);
        let size = 0;
        for (const { kind, abort, reload } of steps) {
          const record = recordOf(size, kind, leaves[size] as Buffer);
          if (abort) {
            // An aborted transaction leaves no trace: the record is folded again afterwards.
            undo.begin();
            log.evolve(record);
            undo.end(false);
          }
          log.evolve(record);
          size++;
          if (reload) log = new MerkleLog(tree, undo, log.section);
          expect(log.root().equals(naiveRoot(leaves.slice(0, size)))).toBe(true);
        }
        // Paths from the stored nodes (for whole blocks) and leaves (inside blocks).
        const folded = leaves.slice(0, size);
        const rangeHash = (start: number, end: number): Buffer => {
          const count = end - start;
          const level = Math.log2(count);
          if (count >= BLOCK_LEAVES && Number.isInteger(level) && start % count === 0) {
            // Every complete subtree of a block or more is a node: stored, waiting, or on the edge.
            const node = log.node(level, start / count);
            expect(node).toBeDefined();
            return (node as { hash: Buffer }).hash;
          }
          return naiveRoot(folded.slice(start, end));
        };
        for (let index = 0; index < size; index += 7) {
          const path = auditPath(index, size, rangeHash);
          const reference = naiveAuditPath(index, folded);
          expect(path.map((hash) => hash.toString('hex'))).toEqual(
            reference.map((hash) => hash.toString('hex')),
          );
          const leaf = folded[index] as Buffer;
          expect(rootFromAuditPath(index, size, leaf, path)?.equals(naiveRoot(folded))).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS, seed: SEED, verbose: true },
    );
  });
});
