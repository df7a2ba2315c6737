import type { CheckpointSections, JournalRecord } from '../journal/journal-event.js';
import { Allocator } from './allocator.js';
import { Catalog, type FileChange } from './catalog.js';
import { PagedTree, type PageSource } from './index/paged-tree.js';
import { type RootEntry, Timeline } from './timeline.js';
import { AuditIndex } from './audit-index.js';
import { PolicyState } from './policy-state.js';
import { UndoLog } from './undo-log.js';
import { MerkleLog } from './merkle-log.js';
import { ErasureIndex, erasureCountsOf, NO_ERASURES } from './erasure-index.js';

/**
 * The projections and their order, in one place. Each fold has its own checkpoint section;
 * adding a fold adds it here (and its section to `CheckpointSections`), not in the engine.
 */
export interface Projections {
  readonly undo: UndoLog;
  readonly catalog: Catalog;
  readonly allocator: Allocator;
  readonly timeline: Timeline;
  readonly policy: PolicyState;
  readonly audit: AuditIndex;
  readonly merkle: MerkleLog;
  readonly erasures: ErasureIndex;
}

/** The projections of an empty journal (before its genesis record). */
export function freshProjections(source: PageSource, capacityBlocks: number | null): Projections {
  const undo = new UndoLog();
  const tree = new PagedTree(source, undo);
  const catalog = new Catalog(tree, undo);
  return {
    undo,
    catalog,
    allocator: new Allocator(undo, capacityBlocks),
    timeline: new Timeline(tree, undo),
    policy: new PolicyState(tree, undo),
    audit: new AuditIndex(tree),
    merkle: new MerkleLog(tree, undo),
    erasures: new ErasureIndex(tree, undo, NO_ERASURES),
  };
}

/**
 * The projections as the checkpoint root `root` recorded them; nothing is read until needed.
 * The root itself becomes the timeline's last root, as applying its record would make it, and
 * its record (`rootRecord`) is folded into the Merkle log, whose section predates it.
 */
export function projectionsAt(
  source: PageSource,
  capacityBlocks: number | null,
  sections: CheckpointSections,
  root: RootEntry,
  rootRecord: JournalRecord,
): Projections {
  const undo = new UndoLog();
  const [rootOffset, rootSequence, nextInode, entryCount, fileCount] = sections.catalog as number[];
  const [usedBlocks, liveBytes] = sections.allocator as number[];
  const tree = new PagedTree(source, undo, {
    offset: rootOffset as number,
    sequence: rootSequence as number,
  });
  const catalog = new Catalog(tree, undo, {
    nextInode: nextInode as number,
    entryCount: entryCount as number,
    fileCount: fileCount as number,
  });
  const allocator = new Allocator(undo, capacityBlocks, {
    usedBlocks: usedBlocks as number,
    liveBytes: liveBytes as number,
  });
  const timeline = new Timeline(tree, undo, sections.timeline, root);
  const merkle = new MerkleLog(tree, undo, sections.merkle);
  merkle.evolve(rootRecord);
  return {
    undo,
    catalog,
    allocator,
    timeline,
    policy: new PolicyState(tree, undo),
    audit: new AuditIndex(tree),
    merkle,
    erasures: new ErasureIndex(tree, undo, erasureCountsOf(sections.erasures)),
  };
}

/** Folds one record into every projection, in order: the allocator reads the catalog's change. */
export function applyRecord(projections: Projections, record: JournalRecord): FileChange {
  const change = projections.catalog.evolve(record);
  projections.allocator.evolve(record, change);
  projections.timeline.evolve(record);
  projections.policy.evolve(record);
  projections.audit.evolve(record);
  projections.erasures.evolve(record);
  projections.merkle.evolve(record);
  return change;
}

/** The sections of a checkpoint root; the index must have been flushed (its root is a page). */
export function checkpointSections(projections: Projections): CheckpointSections | undefined {
  const root = projections.catalog.tree.rootRef;
  if (root === undefined) return undefined;
  const { nextInode, entryCount, fileCount } = projections.catalog.state;
  const { usedBlocks, liveBytes } = projections.allocator.section;
  const erasures = projections.erasures.section;
  return {
    catalog: [root.offset, root.sequence, nextInode, entryCount, fileCount],
    allocator: [usedBlocks, liveBytes],
    timeline: projections.timeline.section,
    merkle: projections.merkle.section,
    ...(erasures === undefined ? {} : { erasures }),
  };
}
