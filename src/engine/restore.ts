import type { Extent, JournalEvent, VersionLink } from '../journal/journal-event.js';
import { parentOf, ROOT_PATH } from '../path/canonical-path.js';
import type { CatalogNode } from '../projections/catalog.js';
import { entryDifferences } from '../projections/catalog-diff.js';
import type { Projections } from '../projections/projection-set.js';
import { CartridgeError } from '../errors.js';
import type { PastState } from './checkout.js';

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

/**
 * Whether the head's entry already is the target's, as far as a restore can tell: the same
 * kind, content, identity, mode and times. The stored values differ in the version link (and a
 * directory's child count follows its children), so comparing them instead made a second
 * restore to the same target set again every entry the first one had set: records and
 * 'restored' versions in history for entries that did not change.
 */
function alreadyRestored(before: CatalogNode | undefined, after: CatalogNode): boolean {
  if (before === undefined || before.kind !== after.kind) return false;
  const sameMetadata =
    before.inode === after.inode &&
    before.mode === after.mode &&
    before.createdAtMs === after.createdAtMs &&
    before.modifiedAtMs === after.modifiedAtMs;
  if (before.kind === 'file' && after.kind === 'file') {
    return (
      sameMetadata &&
      before.contentOffset === after.contentOffset &&
      before.sizeBytes === after.sizeBytes
    );
  }
  return sameMetadata;
}

export function decideRestore(head: Projections, target: Projections): RestoreStep[] {
  const differences = entryDifferences(head.catalog, target.catalog, ROOT_PATH);
  const deletions: string[] = [];
  const sets = new Map<string, CatalogNode>();
  for (const { path, before, after } of differences) {
    if (before !== undefined && (after === undefined || after.kind !== before.kind)) {
      deletions.push(path);
    }
    if (after !== undefined && !alreadyRestored(before, after)) sets.set(path, after);
  }
  // A deletion sets its parent's modification time, so a parent the target has is set after
  // the deletions, even when it matched the target before them.
  for (const path of deletions) {
    const parent = parentOf(path);
    const node = sets.has(parent) ? undefined : target.catalog.get(parent);
    if (node?.kind === 'directory') sets.set(parent, node);
  }
  deletions.sort((left, right) => depthOf(right) - depthOf(left));
  const setPaths = [...sets.keys()];
  setPaths.sort((left, right) => depthOf(left) - depthOf(right));
  const steps: RestoreStep[] = deletions.map((path) => ({ kind: 'delete', path }));
  for (const path of setPaths) {
    const node = sets.get(path) as CatalogNode;
    const extents = node.kind === 'file' ? target.catalog.extentsOf(node) : [];
    steps.push({ kind: 'set', path, node, extents });
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

/**
 * Every record of a restore to `past`, made lazily: first `restore.started` naming the target,
 * then the steps. After the last one, the state must fit the capacity (a restore can bring
 * back more than was deleted since): otherwise ENOSPC, and the transaction rolls back.
 */
export function* restoreRecords(
  head: Projections,
  past: PastState,
  steps: readonly RestoreStep[],
  atMs: number,
): Generator<JournalEvent> {
  yield { type: 'restore.started', targetHead: past.head, snapshot: past.snapshot, atMs };
  yield* restoreEvents(steps, atMs, (path) => head.catalog.versionLinkOf(path));
  if (!head.allocator.fits(0, 0)) {
    throw new CartridgeError('ENOSPC', 'the restored state does not fit the capacity');
  }
}
