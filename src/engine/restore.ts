import type { Extent, JournalEvent, VersionLink } from '../journal/journal-event.js';
import { ROOT_PATH } from '../path/canonical-path.js';
import type { CatalogNode } from '../projections/catalog.js';
import { entryDifferences } from '../projections/catalog-diff.js';
import type { Projections } from '../projections/projection-set.js';

/**
 * Restore as a decision over a diff: the steps that bring the head's catalog to a target's,
 * decided from the two states alone. The engine turns each step into a record (naming the
 * path's previous version as it stages it) and commits them as one transaction.
 *
 * Order matters and is fixed here: entries the target lacks (or has as another kind) are
 * deleted first, deepest first, so a directory is empty when its turn comes; then entries are
 * set to the target's, shallowest first, so a parent exists before its children. Setting a
 * directory restores its own metadata; inserting a restored child leaves the parent's time
 * alone, so the parent ends with the target's times.
 */

/** Extents per `entry.restored` record: keeps a body well under its limit. */
export const RESTORE_EXTENTS_PER_RECORD = 8192;

export type RestoreStep =
  | { readonly kind: 'delete'; readonly path: string }
  | {
      readonly kind: 'set';
      readonly path: string;
      readonly node: CatalogNode;
      /** For a file: its extents at the target, in file order. */
      readonly extents: readonly Extent[];
    };

function depthOf(path: string): number {
  if (path === ROOT_PATH) return 0;
  let depth = 0;
  for (let index = 0; index < path.length; index++) if (path[index] === '/') depth++;
  return depth;
}

export function decideRestore(head: Projections, target: Projections): RestoreStep[] {
  const differences = entryDifferences(head.catalog, target.catalog, ROOT_PATH);
  const deletions: string[] = [];
  const sets: CatalogNode[] = [];
  const setPaths: string[] = [];
  for (const { path, before, after } of differences) {
    if (before !== undefined && (after === undefined || after.kind !== before.kind)) {
      deletions.push(path);
    }
    if (after !== undefined) {
      sets.push(after);
      setPaths.push(path);
    }
  }
  deletions.sort((left, right) => depthOf(right) - depthOf(left));
  const order = setPaths.map((_, index) => index);
  order.sort(
    (left, right) => depthOf(setPaths[left] as string) - depthOf(setPaths[right] as string),
  );
  const steps: RestoreStep[] = deletions.map((path) => ({ kind: 'delete', path }));
  for (const index of order) {
    const node = sets[index] as CatalogNode;
    const extents = node.kind === 'file' ? target.catalog.extentsOf(node) : [];
    steps.push({ kind: 'set', path: setPaths[index] as string, node, extents });
  }
  return steps;
}

/**
 * The records of a restore, made one at a time: `linkOf` is asked for a path's last change
 * when its record is made, after the records before it were applied (a deletion earlier in
 * the same restore is the previous version of an entry set again).
 */
export function* restoreEvents(
  steps: readonly RestoreStep[],
  atMs: number,
  linkOf: (path: string) => VersionLink,
): Generator<JournalEvent> {
  for (const step of steps) {
    if (step.kind === 'delete') {
      yield { type: 'entry.deleted', path: step.path, atMs, previous: linkOf(step.path) };
      continue;
    }
    const { node, path, extents } = step;
    const common = {
      type: 'entry.restored' as const,
      path,
      atMs,
      kind: node.kind,
      inode: node.inode,
      mode: node.mode,
      createdAtMs: node.createdAtMs,
      modifiedAtMs: node.modifiedAtMs,
    };
    if (node.kind === 'directory') {
      yield {
        ...common,
        previous: linkOf(path),
        contentOffset: 0,
        sizeBytes: 0,
        fileOffset: 0,
        extents: [],
      };
      continue;
    }
    let fileOffset = 0;
    let index = 0;
    do {
      const chunk = extents.slice(index, index + RESTORE_EXTENTS_PER_RECORD);
      const sizeBytes = fileOffset + chunk.reduce((total, extent) => total + extent.lengthBytes, 0);
      yield {
        ...common,
        previous: linkOf(path),
        contentOffset: node.contentOffset,
        sizeBytes,
        fileOffset,
        extents: chunk,
      };
      fileOffset = sizeBytes;
      index += chunk.length;
    } while (index < extents.length);
  }
}
