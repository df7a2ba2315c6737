import { ROOT_PATH } from '../path/canonical-path.js';
import type { Catalog, CatalogNode } from './catalog.js';
import { decodeNode, ENTRY_PREFIX, entryKey, pathOfEntryKey } from './catalog-entry.js';
import { diffTrees } from './index/tree-diff.js';

/**
 * The entries that differ between two states of the catalog, under a path, computed from the
 * index with the pages both states share skipped (see `diffTrees`).
 */

export type ChangeKind = 'added' | 'removed' | 'modified' | 'metadata';

export interface EntryDifference {
  readonly path: string;
  readonly before: CatalogNode | undefined;
  readonly after: CatalogNode | undefined;
}

/** The key ranges of `prefix` and everything below it. */
function rangesUnder(prefix: string): [string, string][] {
  if (prefix === ROOT_PATH)
    return [[ENTRY_PREFIX, String.fromCharCode(ENTRY_PREFIX.charCodeAt(0) + 1)]];
  const own = entryKey(prefix);
  return [
    [own, `${own}\u0000`],
    // Its children (`E` + prefix + NUL + name), then deeper entries (`E` + prefix + `/` ...).
    [`${ENTRY_PREFIX}${prefix}\u0000`, `${ENTRY_PREFIX}${prefix}\u0001`],
    [`${ENTRY_PREFIX}${prefix}/`, `${ENTRY_PREFIX}${prefix}0`],
  ];
}

/** Every entry at or under `prefix` whose stored value differs, sorted by path. */
export function entryDifferences(
  before: Catalog,
  after: Catalog,
  prefix: string,
): EntryDifference[] {
  const found: EntryDifference[] = [];
  for (const [start, end] of rangesUnder(prefix)) {
    diffTrees(before.tree, after.tree, start, end, (key, beforeValue, afterValue) => {
      found.push({
        path: pathOfEntryKey(key),
        before: beforeValue === undefined ? undefined : decodeNode(beforeValue),
        after: afterValue === undefined ? undefined : decodeNode(afterValue),
      });
    });
  }
  return found.sort((left, right) =>
    left.path < right.path ? -1 : left.path > right.path ? 1 : 0,
  );
}

/**
 * What a difference means to a user: content (`modified`: another write, or another kind of
 * entry), metadata only (`metadata`: mode, times or identity of the same content), or nothing
 * worth reporting (a directory whose children changed: its child count and time follow them,
 * and the children are reported themselves).
 */
export function changeOf(difference: EntryDifference): ChangeKind | undefined {
  const { before, after } = difference;
  if (before === undefined) return after === undefined ? undefined : 'added';
  if (after === undefined) return 'removed';
  if (before.kind !== after.kind) return 'modified';
  if (before.kind === 'file' && after.kind === 'file') {
    if (before.contentOffset !== after.contentOffset || before.sizeBytes !== after.sizeBytes) {
      return 'modified';
    }
    const same =
      before.inode === after.inode &&
      before.mode === after.mode &&
      before.createdAtMs === after.createdAtMs &&
      before.modifiedAtMs === after.modifiedAtMs;
    return same ? undefined : 'metadata';
  }
  const same =
    before.inode === after.inode &&
    before.mode === after.mode &&
    before.createdAtMs === after.createdAtMs;
  return same ? undefined : 'metadata';
}

/** One difference a user sees: a path and what happened to it (see `changeOf`). */
export interface DiffEntry {
  readonly path: string;
  readonly change: ChangeKind;
}

/** The differences under `prefix` a user sees, sorted by path. */
export function diffEntries(before: Catalog, after: Catalog, prefix: string): DiffEntry[] {
  const entries: DiffEntry[] = [];
  for (const difference of entryDifferences(before, after, prefix)) {
    const change = changeOf(difference);
    if (change !== undefined) entries.push({ path: difference.path, change });
  }
  return entries;
}
