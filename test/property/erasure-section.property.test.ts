import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JournalEvent, JournalRecord } from '../../src/journal/journal-event.js';
import { ErasureIndex, erasureCountsOf, NO_ERASURES } from '../../src/projections/erasure-index.js';
import { PagedTree } from '../../src/projections/index/paged-tree.js';
import { UndoLog } from '../../src/projections/undo-log.js';
import { MemoryPages } from '../support/memory-pages.js';

/**
 * The erasure index's checkpoint section counts what the index holds, so that open answers
 * "nothing pending" and reads answer "nothing erased" without walking the index. Random
 * erasures, settlements and subject keys, some in transactions that abort, are folded; after
 * every step the section must equal the keys counted by walking the index, and an index
 * started from the section must answer every question (pending erasures, any erasure, any
 * subject) as an index that walks (one started from a checkpoint without the section).
 * `PROPERTY_RUNS` and `PROPERTY_SEED` as in the other property tests; fast-check prints the
 * seed of a failure.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '60', 10) || 60;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);


type Step =
  | { readonly kind: 'erase'; readonly blobs: number; readonly versions: number }
  | { readonly kind: 'settle'; readonly pick: number }
  | { readonly kind: 'subject'; readonly subject: number }
  | { readonly kind: 'flush' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('erase' as const),
    blobs: fc.nat(3),
    versions: fc.nat(2),
  }),
  fc.record({ kind: fc.constant('settle' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('subject' as const), subject: fc.nat(3) }),
  fc.constant({ kind: 'flush' as const }),
);

/** The keys under one prefix letter, counted by a walk. */
function countKeys(tree: PagedTree, prefix: string): number {
  let count = 0;
  tree.range(prefix, String.fromCharCode(prefix.charCodeAt(0) + 1), () => {
    count++;
  });
  return count;
}

describe('the erasure index checkpoint section', () => {
  it('counts what the index holds, and answers as a walk does', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(step, fc.boolean()), { maxLength: 40 }), (steps) => {
        const pages = new MemoryPages();
        const undo = new UndoLog();
        const tree = new PagedTree(pages, undo);
        const index = new ErasureIndex(tree, undo, NO_ERASURES);
        let offset = 1000;
        let pending: number[] = [];
        const record = (event: JournalEvent): JournalRecord => {
          offset += 10;
          return {
            offset,
            sequence: offset,
            lengthBytes: 10,
            rawBlobLength: 0,
            event,
            leafHash: Buffer.alloc(0),
          };
        };
        for (const [next, keep] of steps) {
          if (next.kind === 'flush') {
            tree.flush((node) => pages.write(node));
            continue;
          }
          const pendingBefore = pending;
          undo.begin();
          if (next.kind === 'erase') {
            const erasures = Array.from({ length: next.blobs }, (_, at) => ({
              recordOffset: offset - 5 - at,
              recordSequence: 1,
              storedBlobLength: 4,
              bodyChecksum: 0,
              blobHash: Buffer.alloc(32),
            }));
            const versions = Array.from({ length: next.versions }, (_, at) => offset - 8 + at * 0);
            const unique = [...new Set(versions)];
            const erased = record({
              type: 'content.erased',
              kind: 'redacted',
              erasures,
              versions: unique,
            });
            index.evolve(erased);
            pending = [...pending, erased.offset];
          } else if (next.kind === 'settle') {
            if (pending.length > 0) {
              const erasureOffset = pending[next.pick % pending.length] as number;
              index.evolve(record({ type: 'erasure.settled', erasureOffset }));
              pending = pending.filter((at) => at !== erasureOffset);
            }
          } else {
            index.evolve(record({ type: 'subject.key', subject: `/s${next.subject}`, atMs: 0 }));
          }
          undo.end(keep);
          if (!keep) pending = pendingBefore;

          const section = index.section as number[];
          expect(section).toEqual([
            countKeys(tree, 'Z'),
            countKeys(tree, 'Q'),
            countKeys(tree, 'W'),
            countKeys(tree, 'K'),
          ]);
          expect(section[2]).toBe(pending.length);
          const fromSection = new ErasureIndex(tree, new UndoLog(), erasureCountsOf(section));
          const walking = new ErasureIndex(tree, new UndoLog(), undefined);
          expect(fromSection.pendingErasures()).toEqual(walking.pendingErasures());
          expect(fromSection.pendingErasures()).toEqual([...pending].sort((a, b) => a - b));
          expect(fromSection.hasErasures()).toBe(walking.hasErasures());
          expect(fromSection.hasSubjects()).toBe(walking.hasSubjects());
          // An index without the section counts it by walking when a checkpoint asks.
          expect(walking.section).toBeUndefined();
          walking.countIfUnknown();
          expect(walking.section).toEqual(section);
        }
      }),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
