import { CartridgeError } from '../errors.js';
import { type MovedEntry, MoveStep } from '../journal/journal-event.js';
import { MOVE_ENTRIES_MAX, MOVE_PATH_BYTES_MAX } from '../limits.js';
import { canonicalPath, ROOT_PATH } from '../path/canonical-path.js';
import type { Catalog, CatalogNode } from '../projections/catalog.js';

/**
 * The records of a move: the steps of one walk of the subtree at `from` (see `MovedEntry`),
 * cut into records of at most MOVE_ENTRIES_MAX entries and MOVE_PATH_BYTES_MAX bytes of
 * relative paths. The walk makes the catalog a tree after every step, so any cut is valid.
 */

/** A path a move changes, for the policy: the entry's source and target. */
export interface MovedPath {
  readonly source: string;
  readonly target: string;
}

export interface MovePlan {
  readonly records: readonly (readonly MovedEntry[])[];
  /** Every moved entry's source and target, the moved entry itself first. */
  readonly paths: readonly MovedPath[];
}

/** Fixed bytes an entry costs in a body besides its path (step, two offsets, a size). */
const ENTRY_OVERHEAD_BYTES = 32;

/** The path `relative` names below `path` (the path itself when `relative` is empty). */
export function below(path: string, relative: string): string {
  return relative === '' ? path : `${path}/${relative}`;
}

/**
 * Plans moving the entry `node` at `from` (canonical, checked by the caller) to `to`. Every
 * target path is checked as a path (length, depth) before anything is staged.
 */
export function planMove(catalog: Catalog, from: string, to: string, node: CatalogNode): MovePlan {
  const steps: MovedEntry[] = [];
  const paths: MovedPath[] = [];
  const visit = (relative: string, entry: CatalogNode): void => {
    const source = below(from, relative);
    const target = below(to, relative);
    // A deep subtree moved under a deep target can exceed the path limits: refused here,
    // with the error the path function gives, rather than as a corrupt record on replay.
    if (canonicalPath(target) !== target) {
      throw new CartridgeError('EINVAL', `${target} is not a canonical path`, { path: target });
    }
    paths.push({ source, target });
    const previousTo = catalog.versionLinkOf(target);
    if (entry.kind === 'file') {
      steps.push({
        step: MoveStep.File,
        relativePath: relative,
        previousFrom: entry.versionOffset,
        previousTo,
        sizeBytes: entry.sizeBytes,
      });
      return;
    }
    steps.push({
      step: MoveStep.DirectoryOpened,
      relativePath: relative,
      previousFrom: null,
      previousTo,
      sizeBytes: 0,
    });
    for (const name of catalog.childrenOf(source)) {
      const childRelative = relative === '' ? name : `${relative}/${name}`;
      visit(childRelative, catalog.get(below(from, childRelative)) as CatalogNode);
    }
    steps.push({
      step: MoveStep.DirectoryClosed,
      relativePath: relative,
      previousFrom: entry.versionOffset,
      previousTo: null,
      sizeBytes: 0,
    });
  };
  visit('', node);
  return { records: cut(steps), paths };
}

function cut(steps: readonly MovedEntry[]): MovedEntry[][] {
  const records: MovedEntry[][] = [];
  let current: MovedEntry[] = [];
  let pathBytes = 0;
  for (const step of steps) {
    const lengthBytes = Buffer.byteLength(step.relativePath, 'utf8') + ENTRY_OVERHEAD_BYTES;
    if (current.length === MOVE_ENTRIES_MAX || pathBytes + lengthBytes > MOVE_PATH_BYTES_MAX) {
      records.push(current);
      current = [];
      pathBytes = 0;
    }
    current.push(step);
    pathBytes += lengthBytes;
  }
  if (current.length > 0) records.push(current);
  return records;
}

/** The checks of a move that need no walk: what rename(2) refuses, in engine codes. */
export function requireMovable(from: string, to: string): void {
  if (from === ROOT_PATH)
    throw new CartridgeError('EINVAL', 'the root cannot be moved', { path: from });
  if (to === ROOT_PATH) throw new CartridgeError('EEXIST', 'the root exists', { path: to });
  if (to.startsWith(`${from}/`)) {
    throw new CartridgeError('EINVAL', `${from} cannot move into itself`, { path: to });
  }
}
