import { CartridgeError, journalCorrupt } from '../errors.js';
import {
  type Extent,
  type JournalRecord,
  type MovedEntry,
  MoveStep,
  type VersionLink,
} from '../journal/journal-event.js';
import { INLINE_EXTENTS_MAX, SMALL_EXTENT_BYTES } from '../limits.js';
import { canonicalPath, parentOf, ROOT_PATH } from '../path/canonical-path.js';
import {
  type CatalogNode,
  childrenRange,
  decodeExtent,
  decodeNode,
  decodeReferenceCount,
  DIRECTORY_MODE_DEFAULT,
  type DirectoryNode,
  decodeTombstone,
  encodeExtent,
  encodeNode,
  encodeReferenceCount,
  encodeTombstone,
  entryKey,
  extentKey,
  extentRange,
  type FileNode,
  REFERENCE_MARKER,
  referenceKey,
  referenceMarkerKey,
  referenceRange,
  ROOT_INODE,
  TOMBSTONE_KEY_RANGE,
  tombstoneKey,
  tombstoneKeyOf,
} from './catalog-entry.js';
import { ExtentCursor, sameExtent } from './extent-cursor.js';
import type { PagedTree } from './index/paged-tree.js';
import { checkPatchShape, type PatchEvent, planKeyedPatch } from './patched-extents.js';
import type { Projection } from './projection.js';
import type { UndoLog } from './undo-log.js';

export {
  type CatalogNode,
  DIRECTORY_MODE_DEFAULT,
  type DirectoryNode,
  FILE_MODE_DEFAULT,
  type FileNode,
} from './catalog-entry.js';

/**
 * The catalog: canonical path → entry, kept in the paged index (see `catalog-entry.ts` for the
 * keys and values). Nothing of it is held whole in memory: lookups walk the index, listings
 * walk one key range, and a file's extent map is read when its content is.
 *
 * Records were validated by the engine before they were written; during replay a record that
 * does not apply (a file written before it exists, a child without a parent) means a forged or
 * damaged journal and is reported as `JOURNAL_CORRUPT` at the record's offset.
 */

/**
 * The catalog's counters; its checkpoint section is
 * `[rootOffset, rootSequence, nextInode, entryCount, fileCount]`.
 */
export interface CatalogCounters {
  readonly nextInode: number;
  readonly entryCount: number;
  readonly fileCount: number;
}

/** What a content record did to one file, for the allocator: the file before and after. */
export interface FileChange {
  readonly before: FileNode | undefined;
  readonly after: FileNode | undefined;
}

const NO_CHANGE: FileChange = { before: undefined, after: undefined };

/**
 * How many entries the read memory holds (see `Catalog.lookup`) before it starts again: a
 * reader of a few thousand hot files finds them all there, and a scan of many more costs one
 * `Map` insert per entry and at most this many small objects kept alive.
 */
const READ_MEMORY_ENTRIES = 4096;
/**
 * The UTF-16 units of path the read memory keeps as keys at most (1 MiB): paths of thousands of
 * characters would otherwise make its 4 096 entries hold 16 MiB and more.
 */
const READ_MEMORY_PATH_UNITS = 512 * 1024;
/** Lookups after a change of the catalog that the read memory lets pass (see `Catalog.lookup`). */
const READ_MEMORY_UNREMEMBERED_LOOKUPS = 3;

/** A path checked to have no entry (see `vacantSlot`): its keys, to change without lookups. */
interface VacantSlot {
  readonly entryKey: string;
  /** The key of the path's tombstone, when it has one (the new entry clears it). */
  readonly tombstoneKey: string | undefined;
}

/** Where the run of small extents at the end of a file starts after adding `added`. */
function runAfter(
  runStartOffset: number,
  runCount: number,
  startOffset: number,
  added: readonly Extent[],
): { runStartOffset: number; runCount: number } {
  let fileOffset = startOffset;
  for (const extent of added) {
    if (extent.lengthBytes < SMALL_EXTENT_BYTES) {
      if (runCount === 0) runStartOffset = fileOffset;
      runCount++;
    } else {
      runCount = 0;
    }
    fileOffset += extent.lengthBytes;
    if (runCount === 0) runStartOffset = fileOffset;
  }
  return { runStartOffset, runCount };
}

/**
 * The journal bytes of the records a list of extents refers to. A patched file can refer to one
 * record through several extents (a patch in the middle of a record's bytes splits it), and the
 * record is live once however many of its pieces are.
 */
function recordBytesOf(extents: readonly Extent[]): number {
  let total = 0;
  let counted: Set<number> | undefined;
  for (const extent of extents) {
    if (counted !== undefined) {
      if (counted.has(extent.recordOffset)) continue;
      counted.add(extent.recordOffset);
    } else if (extents.length > 1) {
      counted = new Set([extent.recordOffset]);
    }
    total += extent.recordLengthBytes;
  }
  return total;
}

/**
 * A record's path must be what the canonical path function makes of it. The engine only
 * writes canonical paths; a record with another spelling (`/a/../b`, NFD, a trailing slash)
 * is forged, and folding it would make an entry that no canonical lookup can reach or deny.
 */
function requireCanonical(record: JournalRecord, path: string): void {
  let canonical: string | undefined;
  try {
    canonical = canonicalPath(path);
  } catch {
    canonical = undefined;
  }
  if (canonical !== path) throw journalCorrupt(record.offset, 'a record path is not canonical');
}

/** Counts one extent more (`step` 1) or fewer (-1) in its record. */
function addReference(
  deltas: Map<number, { count: number; recordLengthBytes: number }>,
  extent: Extent,
  step: number,
): void {
  const delta = deltas.get(extent.recordOffset);
  if (delta === undefined) {
    deltas.set(extent.recordOffset, { count: step, recordLengthBytes: extent.recordLengthBytes });
  } else {
    delta.count += step;
  }
}

/** The record's own blob as an extent, when it carries one. */
function ownExtent(record: JournalRecord): Extent[] {
  if (record.rawBlobLength === 0) return [];
  return [
    {
      recordOffset: record.offset,
      recordSequence: record.sequence,
      blobOffset: 0,
      lengthBytes: record.rawBlobLength,
      recordLengthBytes: record.lengthBytes,
    },
  ];
}

export class Catalog implements Projection {
  readonly name = 'catalog';
  private counters: CatalogCounters;
  /** Entries `lookup` found, by path, while the tree's content stamp was `readMemoryStamp`. */
  private readonly readMemory = new Map<string, CatalogNode>();
  private readMemoryStamp = -1;
  /** Lookups since the stamp last moved (see `lookup`). */
  private lookupsSinceChange = 0;
  /** The UTF-16 units of the paths the read memory holds as keys. */
  private readMemoryPathUnits = 0;
  /**
   * Whether the tree may hold a tombstone (see `mayHoldTombstones`): false for a new catalog,
   * undefined until a catalog read from disk is first asked, true from the first deletion on.
   */
  private tombstonesPossible: boolean | undefined;

  constructor(
    readonly tree: PagedTree,
    private readonly undo: UndoLog,
    counters?: CatalogCounters,
  ) {
    if (counters === undefined) {
      this.tombstonesPossible = false;
      this.counters = { nextInode: ROOT_INODE + 1, entryCount: 1, fileCount: 0 };
      const root: DirectoryNode = {
        kind: 'directory',
        inode: ROOT_INODE,
        mode: DIRECTORY_MODE_DEFAULT,
        createdAtMs: 0,
        modifiedAtMs: 0,
        versionOffset: 0,
        childCount: 0,
      };
      tree.set(entryKey(ROOT_PATH), encodeNode(root));
    } else {
      this.counters = counters;
    }
  }

  get(path: string): CatalogNode | undefined {
    const bytes = this.tree.get(entryKey(path));
    // Decoded once per index value (see `decodeNode`): a commit looks its file up several
    // times (the write's checks, the fold, the reads that follow).
    return bytes === undefined ? undefined : decodeNode(bytes);
  }

  /**
   * `get` for readers: the entries found since the tree's content last changed are remembered
   * by path, so reading the same files again costs a `Map` lookup instead of building the
   * entry's key and descending the index (the tree's own memory holds four keys, for the
   * repeated lookups of one commit). The memory is dropped whenever the tree's content stamp
   * moves, so an answer is always what `get` would give; writes keep using `get`, which adds
   * nothing to a commit's lookups.
   */
  lookup(path: string): CatalogNode | undefined {
    const memory = this.readMemory;
    const stamp = this.tree.contentStamp;
    if (stamp !== this.readMemoryStamp) {
      if (memory.size > 0) memory.clear();
      this.readMemoryPathUnits = 0;
      this.readMemoryStamp = stamp;
      this.lookupsSinceChange = 0;
    } else if (memory.size > 0) {
      const known = memory.get(path);
      if (known !== undefined) return known;
    }
    const node = this.get(path);
    // The first few lookups after a change are not remembered: writes that check a path or two
    // between commits (the fs facade's parent and target) would fill a memory the next commit
    // drops, a `Map` insert each for nothing. A run of reads is remembered from its fourth.
    if (node !== undefined && ++this.lookupsSinceChange > READ_MEMORY_UNREMEMBERED_LOOKUPS) {
      if (
        memory.size >= READ_MEMORY_ENTRIES ||
        this.readMemoryPathUnits + path.length > READ_MEMORY_PATH_UNITS
      ) {
        memory.clear();
        this.readMemoryPathUnits = 0;
      }
      memory.set(path, node);
      this.readMemoryPathUnits += path.length;
    }
    return node;
  }

  /**
   * The record of the last change to `path` (its entry's, or its tombstone's once deleted), or
   * null for a path never used: what the next event on the path names as `previous`.
   */
  versionLinkOf(path: string): VersionLink {
    const node = this.get(path);
    if (node !== undefined) return node.versionOffset;
    return this.absentLinkOf(path);
  }

  /**
   * `versionLinkOf` for a path known to have no entry (the caller just looked): its tombstone's
   * record, or null. Creating a file asked for the entry a second time to learn this.
   */
  absentLinkOf(path: string): VersionLink {
    if (!this.mayHoldTombstones()) return null;
    const tombstone = this.tree.get(tombstoneKey(path));
    return tombstone === undefined ? null : decodeTombstone(tombstone);
  }

  /**
   * Whether the tree may hold a tombstone. Only a deletion leaves one (`detach`), so a catalog
   * that was created here, or had none in its tree when first asked, holds none until it
   * deletes something: a path never used then has no tombstone to look for, and creating a
   * file skips that descent of the index (an archive that only grows never looks). Once true
   * it stays true, a rolled-back deletion included: the answer may be too cautious, never
   * wrong.
   */
  private mayHoldTombstones(): boolean {
    this.tombstonesPossible ??=
      this.tree.last(TOMBSTONE_KEY_RANGE.start, TOMBSTONE_KEY_RANGE.end) !== undefined;
    return this.tombstonesPossible;
  }

  get nextInode(): number {
    return this.counters.nextInode;
  }

  get entryCount(): number {
    return this.counters.entryCount;
  }

  /** Kept as entries come and go, so `stats()` does not walk the whole catalog. */
  get fileCount(): number {
    return this.counters.fileCount;
  }

  get state(): CatalogCounters {
    return this.counters;
  }

  /** Sorted names of a directory's children, walking only their key range. */
  childrenOf(path: string): string[] {
    const [start, end] = childrenRange(path);
    const names: string[] = [];
    this.tree.range(start, end, (key) => {
      const name = key.slice(start.length);
      // Keys come from index pages (untrusted): a name that the path function could never
      // have produced would alias another path (the directory itself, its parent).
      if (
        name === '' ||
        name === '.' ||
        name === '..' ||
        name.includes('/') ||
        name.includes('\u0000')
      ) {
        throw new CartridgeError('JOURNAL_CORRUPT', `catalog name under ${path} is not a name`);
      }
      names.push(name);
    });
    return names;
  }

  /** A file's extents in file order: from its entry, or from its extent keys. */
  extentsOf(file: FileNode): Extent[] {
    if (file.inlineExtents !== null) return [...file.inlineExtents];
    const [start, end] = extentRange(file.inode, 0);
    const extents: Extent[] = [];
    this.tree.range(start, end, (_key, value) => {
      extents.push(decodeExtent(value));
    });
    if (extents.length !== file.extentCount) {
      throw new CartridgeError('JOURNAL_CORRUPT', 'extent map disagrees with its entry');
    }
    return extents;
  }

  /** Applies a record; returns the file it changed as it was before and after, if any. */
  evolve(record: JournalRecord): FileChange {
    const event = record.event;
    if ('path' in event) requireCanonical(record, event.path);
    switch (event.type) {
      case 'genesis': {
        const root = this.get(ROOT_PATH) as DirectoryNode;
        this.put(ROOT_PATH, {
          ...root,
          createdAtMs: event.createdAtMs,
          modifiedAtMs: event.createdAtMs,
          versionOffset: record.offset,
        });
        return NO_CHANGE;
      }
      case 'directory.created': {
        const slot = this.vacantSlot(record, event.path, event.previous);
        this.insert(
          record,
          event.path,
          {
            kind: 'directory',
            inode: event.inode,
            mode: event.mode,
            createdAtMs: event.atMs,
            modifiedAtMs: event.atMs,
            versionOffset: record.offset,
            childCount: 0,
          },
          undefined,
          slot,
        );
        return NO_CHANGE;
      }
      case 'file.created': {
        const slot = this.vacantSlot(record, event.path, event.previous);
        const extents = [...event.extents, ...ownExtent(record)];
        const node = this.fileWithExtents(
          record,
          event.inode,
          event.mode,
          event.atMs,
          event.atMs,
          extents,
        );
        if (node.sizeBytes !== event.sizeBytes)
          throw journalCorrupt(record.offset, 'size disagrees');
        this.insert(record, event.path, node, undefined, slot);
        this.storeExtents(node, extents);
        return { before: undefined, after: node };
      }
      case 'file.written': {
        const before = this.fileAt(record, event.path);
        this.checkLink(record, event.path, event.previous, before);
        const extents = [...event.extents, ...ownExtent(record)];
        this.clearExtents(before, 0);
        const node = this.withNewContent(record, before, event, extents);
        this.put(event.path, node);
        this.storeExtents(node, extents);
        return { before, after: node };
      }
      case 'file.appended': {
        const before = this.fileAt(record, event.path);
        this.checkLink(record, event.path, event.previous, before);
        const added = [...event.extents, ...ownExtent(record)];
        const after = this.appendExtents(record, before, added, event.atMs);
        if (after.sizeBytes !== event.sizeBytes)
          throw journalCorrupt(record.offset, 'size disagrees');
        this.put(event.path, after);
        return { before, after };
      }
      case 'file.patched': {
        const before = this.fileAt(record, event.path);
        this.checkLink(record, event.path, event.previous, before);
        const sources = [...event.extents, ...ownExtent(record)];
        checkPatchShape(record, before.sizeBytes, event, sources);
        const keyed =
          before.inlineExtents === null
            ? this.patchKeyed(record, before, event, sources)
            : undefined;
        if (keyed !== undefined) {
          this.put(event.path, keyed);
          return { before, after: keyed };
        }
        const oldExtents = this.extentsOf(before);
        const extents = this.patchedExtents(record, before, oldExtents, event, sources);
        const rebuilt = this.withNewContent(record, before, event, extents);
        // A patched file has no trailing run to consolidate (see `patchKeyed`).
        const node = { ...rebuilt, runStartOffset: rebuilt.sizeBytes, runCount: 0 };
        this.put(event.path, node);
        this.clearExtents(before, 0);
        this.storeExtents(node, extents);
        return { before, after: node };
      }
      case 'entry.restored':
        return this.restore(record, event);
      case 'extents.consolidated': {
        const before = this.fileAt(record, event.path);
        const after = this.consolidate(record, before, event.fileOffset, event.replacedCount);
        this.put(event.path, after);
        return { before, after };
      }
      case 'entry.deleted':
        this.checkLink(record, event.path, event.previous);
        return this.remove(record, event.path, event.atMs);
      case 'path.moved':
        this.move(record, event);
        return NO_CHANGE;
      case 'data':
      case 'index.page':
      case 'checkpoint':
      case 'snapshot.created':
      case 'snapshot.deleted':
      case 'restore.started':
      case 'audit.batch':
      case 'policy.set':
      case 'key.rotated':
      case 'head.signed':
      case 'content.erased':
      case 'subject.key':
      case 'erasure.settled':
      case 'journal.compacted':
        return NO_CHANGE;
    }
  }

  /**
   * A file's entry once its content is replaced (whole or in ranges) by `extents`: the same
   * inode, mode and creation time; the event's size must be what the extents add up to.
   */
  private withNewContent(
    record: JournalRecord,
    before: FileNode,
    event: { readonly atMs: number; readonly sizeBytes: number },
    extents: readonly Extent[],
  ): FileNode {
    const node = this.fileWithExtents(
      record,
      before.inode,
      before.mode,
      before.createdAtMs,
      event.atMs,
      extents,
    );
    if (node.sizeBytes !== event.sizeBytes) throw journalCorrupt(record.offset, 'size disagrees');
    return node;
  }

  // ---- entries ------------------------------------------------------------------------------

  /**
   * An event's `previous` must name the path's last change: a record that breaks its path's
   * version chain is forged (history would otherwise skip or invent versions).
   */
  private checkLink(
    record: JournalRecord,
    path: string,
    previous: VersionLink,
    node?: CatalogNode,
  ): void {
    const expected = node !== undefined ? node.versionOffset : this.versionLinkOf(path);
    if (previous !== expected) {
      throw journalCorrupt(record.offset, `${path}: the version chain is broken`);
    }
  }

  /**
   * What `checkLink` and `insert` check of a path an event creates, with one lookup of each
   * key: the path has no entry, and the event's `previous` is its tombstone's record (or null
   * without one). A created file asked for its entry twice and its tombstone twice (the fold
   * is most of what creating a file costs). The refusals are the ones those two give.
   */
  private vacantSlot(record: JournalRecord, path: string, previous: VersionLink): VacantSlot {
    const key = entryKey(path);
    const existing = this.tree.get(key);
    if (existing !== undefined) {
      const linked = decodeNode(existing).versionOffset === previous;
      throw journalCorrupt(
        record.offset,
        linked ? `${path} already exists` : `${path}: the version chain is broken`,
      );
    }
    const tombstoneKey = tombstoneKeyOf(key);
    const tombstone = this.mayHoldTombstones() ? this.tree.get(tombstoneKey) : undefined;
    const link = tombstone === undefined ? null : decodeTombstone(tombstone);
    if (previous !== link)
      throw journalCorrupt(record.offset, `${path}: the version chain is broken`);
    return { entryKey: key, tombstoneKey: tombstone === undefined ? undefined : tombstoneKey };
  }

  /** A path gets an entry again: its tombstone has served (the new entry links to it). */
  private clearTombstone(path: string): void {
    if (!this.mayHoldTombstones()) return;
    const key = tombstoneKey(path);
    if (this.tree.get(key) !== undefined) this.tree.delete(key);
  }

  private put(path: string, node: CatalogNode): void {
    this.tree.set(entryKey(path), encodeNode(node));
  }

  private setCounters(counters: CatalogCounters): void {
    const before = this.counters;
    this.counters = counters;
    this.undo.push(() => {
      this.counters = before;
    });
  }

  private fileAt(record: JournalRecord, path: string): FileNode {
    const node = this.get(path);
    if (node === undefined || node.kind !== 'file')
      throw journalCorrupt(record.offset, `no file at ${path}`);
    return node;
  }

  private parentDirectory(record: JournalRecord, path: string): DirectoryNode {
    const parent = path === ROOT_PATH ? undefined : this.get(parentOf(path));
    if (parent === undefined || parent.kind !== 'directory') {
      throw journalCorrupt(record.offset, `no parent directory for ${path}`);
    }
    return parent;
  }

  /**
   * Inserts an entry; its parent's modification time becomes `parentModifiedAtMs` (by default
   * the entry's creation time; null keeps the parent's).
   */
  private insert(
    record: JournalRecord,
    path: string,
    node: CatalogNode,
    parentModifiedAtMs: number | null = node.createdAtMs,
    /** What `vacantSlot` found, when the caller asked it (it checked what this checks). */
    slot?: VacantSlot,
  ): void {
    if (slot === undefined && this.get(path) !== undefined) {
      throw journalCorrupt(record.offset, `${path} already exists`);
    }
    const parent = this.parentDirectory(record, path);
    this.put(parentOf(path), {
      ...parent,
      childCount: parent.childCount + 1,
      // A restored entry keeps its parent's time: the restore sets the parent's own metadata.
      modifiedAtMs:
        record.event.type === 'entry.restored' || parentModifiedAtMs === null
          ? parent.modifiedAtMs
          : parentModifiedAtMs,
    });
    // The same changes in the same order either way: the pages depend on the order.
    if (slot === undefined) {
      this.clearTombstone(path);
      this.put(path, node);
    } else {
      if (slot.tombstoneKey !== undefined) this.tree.delete(slot.tombstoneKey);
      this.tree.set(slot.entryKey, encodeNode(node));
    }
    const { nextInode, entryCount, fileCount } = this.counters;
    this.setCounters({
      nextInode: Math.max(nextInode, node.inode + 1),
      entryCount: entryCount + 1,
      fileCount: fileCount + (node.kind === 'file' ? 1 : 0),
    });
  }

  private remove(record: JournalRecord, path: string, atMs: number): FileChange {
    const node = this.get(path);
    if (node === undefined || path === ROOT_PATH) {
      throw journalCorrupt(record.offset, `nothing to delete at ${path}`);
    }
    if (node.kind === 'directory' && node.childCount > 0) {
      throw journalCorrupt(record.offset, `${path} is not empty`);
    }
    if (node.kind === 'file') this.clearExtents(node, 0);
    this.detach(record, path, node, atMs);
    return node.kind === 'file' ? { before: node, after: undefined } : NO_CHANGE;
  }

  /**
   * Moves entries (see the `path.moved` event), step by step, so that the catalog is a tree
   * after each: a file moves whole; a directory is opened at the target (an empty entry with
   * its inode, mode and times) and closed at the source once its children have left. Entries
   * keep their inode, so a file's extent keys stay where they are: nothing of the content moves.
   * Each path's version chain goes on: the target names the record, the source keeps a
   * tombstone of it.
   */
  private move(
    record: JournalRecord,
    event: Extract<JournalRecord['event'], { type: 'path.moved' }>,
  ): void {
    const { from, to } = event;
    requireCanonical(record, from);
    requireCanonical(record, to);
    if (from === ROOT_PATH || to === ROOT_PATH || from === to || to.startsWith(`${from}/`)) {
      throw journalCorrupt(record.offset, `cannot move ${from} to ${to}`);
    }
    if (event.entries.length === 0) throw journalCorrupt(record.offset, 'a move of nothing');
    for (const entry of event.entries) {
      const relative = entry.relativePath;
      const source = relative === '' ? from : `${from}/${relative}`;
      const target = relative === '' ? to : `${to}/${relative}`;
      requireCanonical(record, source);
      requireCanonical(record, target);
      // Only the parents of the entry moved get the commit's time: inside the subtree,
      // directories keep theirs (null), as their content did not change.
      this.moveStep(record, entry, source, target, relative === '' ? event.atMs : null);
    }
  }

  private moveStep(
    record: JournalRecord,
    entry: MovedEntry,
    source: string,
    target: string,
    parentTimeMs: number | null,
  ): void {
    const node = this.get(source);
    const wanted = entry.step === MoveStep.File ? 'file' : 'directory';
    if (node === undefined || node.kind !== wanted) {
      throw journalCorrupt(record.offset, `no ${wanted} to move at ${source}`);
    }
    if (entry.step !== MoveStep.File && entry.sizeBytes !== 0) {
      throw journalCorrupt(record.offset, 'a moved directory with a size');
    }
    switch (entry.step) {
      case MoveStep.File:
        if (entry.sizeBytes !== (node as FileNode).sizeBytes) {
          throw journalCorrupt(record.offset, 'size disagrees');
        }
        this.checkLink(record, source, entry.previousFrom, node);
        this.checkLink(record, target, entry.previousTo);
        this.detach(record, source, node, parentTimeMs);
        this.insert(record, target, { ...node, versionOffset: record.offset }, parentTimeMs);
        return;
      case MoveStep.DirectoryOpened:
        if (entry.previousFrom !== null) {
          throw journalCorrupt(record.offset, 'an opened directory names its source');
        }
        this.checkLink(record, target, entry.previousTo);
        this.insert(
          record,
          target,
          { ...(node as DirectoryNode), childCount: 0, versionOffset: record.offset },
          parentTimeMs,
        );
        return;
      case MoveStep.DirectoryClosed: {
        const opened = this.get(target);
        if (entry.previousTo !== null || opened?.inode !== node.inode) {
          throw journalCorrupt(record.offset, `${target} was not opened by the move`);
        }
        if ((node as DirectoryNode).childCount > 0) {
          throw journalCorrupt(record.offset, `${source} is not empty`);
        }
        this.checkLink(record, source, entry.previousFrom, node);
        this.detach(record, source, node, parentTimeMs);
        return;
      }
    }
  }

  /**
   * Removes an entry, leaving a tombstone; a file's extent keys stay (a move keeps its inode,
   * a deletion clears them first).
   */
  private detach(
    record: JournalRecord,
    path: string,
    node: CatalogNode,
    parentModifiedAtMs: number | null,
  ): void {
    const parent = this.parentDirectory(record, path);
    this.tree.delete(entryKey(path));
    this.tombstonesPossible = true;
    this.tree.set(tombstoneKey(path), encodeTombstone(record.offset));
    this.put(parentOf(path), {
      ...parent,
      childCount: parent.childCount - 1,
      modifiedAtMs: parentModifiedAtMs ?? parent.modifiedAtMs,
    });
    this.setCounters({
      ...this.counters,
      entryCount: this.counters.entryCount - 1,
      fileCount: this.counters.fileCount - (node.kind === 'file' ? 1 : 0),
    });
  }

  /**
   * Sets an entry to how it was at a restore's target (see the `entry.restored` event). The
   * engine deletes what the target does not have, and entries whose kind changes, first.
   */
  private restore(
    record: JournalRecord,
    event: Extract<JournalRecord['event'], { type: 'entry.restored' }>,
  ): FileChange {
    const { path } = event;
    const before = this.get(path);
    this.checkLink(record, path, event.previous, before);
    if (before !== undefined && before.kind !== event.kind) {
      throw journalCorrupt(record.offset, `${path}: a restore cannot change an entry's kind`);
    }
    const metadata = {
      inode: event.inode,
      mode: event.mode,
      createdAtMs: event.createdAtMs,
      modifiedAtMs: event.modifiedAtMs,
      versionOffset: record.offset,
    };
    if (event.kind === 'directory') {
      if (event.fileOffset !== 0 || event.extents.length > 0 || event.sizeBytes !== 0) {
        throw journalCorrupt(record.offset, 'a restored directory with content');
      }
      if (before === undefined) {
        this.insert(record, path, { kind: 'directory', ...metadata, childCount: 0 });
      } else {
        // A directory deleted and created again after the target has a new inode; the restore
        // gives it back the target's, as it does for a file (a directory's inode keys nothing:
        // its children are keyed by path). Refusing that made restoring such a directory fail
        // with JOURNAL_CORRUPT. An inode never handed out is still a forged record.
        if (event.inode >= this.counters.nextInode) {
          throw journalCorrupt(record.offset, 'a restored inode was never handed out');
        }
        this.put(path, { ...(before as DirectoryNode), ...metadata });
      }
      return NO_CHANGE;
    }
    const file = before as FileNode | undefined;
    let after: FileNode;
    if (event.fileOffset === 0) {
      if (file !== undefined) this.clearExtents(file, 0);
      const fresh = this.fileWithExtents(
        record,
        event.inode,
        event.mode,
        event.createdAtMs,
        event.modifiedAtMs,
        event.extents,
      );
      after = { ...fresh, ...metadata, contentOffset: event.contentOffset };
      if (file === undefined) this.insert(record, path, after);
      else this.put(path, after);
      this.storeExtents(after, event.extents);
    } else {
      const continues =
        file !== undefined &&
        file.sizeBytes === event.fileOffset &&
        file.inode === event.inode &&
        event.extents.length > 0;
      if (!continues) throw journalCorrupt(record.offset, 'a restore chunk out of place');
      const appended = this.appendExtents(record, file, event.extents, event.modifiedAtMs);
      after = { ...appended, ...metadata, contentOffset: event.contentOffset };
      this.put(path, after);
    }
    if (after.sizeBytes !== event.sizeBytes) throw journalCorrupt(record.offset, 'size disagrees');
    return { before: file, after };
  }

  // ---- extents ------------------------------------------------------------------------------

  private fileWithExtents(
    record: JournalRecord,
    inode: number,
    mode: number,
    createdAtMs: number,
    modifiedAtMs: number,
    extents: readonly Extent[],
  ): FileNode {
    let sizeBytes = 0;
    for (const extent of extents) sizeBytes += extent.lengthBytes;
    const run = runAfter(0, 0, 0, extents);
    return {
      kind: 'file',
      inode,
      mode,
      createdAtMs,
      modifiedAtMs,
      sizeBytes,
      recordBytes: recordBytesOf(extents),
      extentCount: extents.length,
      runStartOffset: run.runStartOffset,
      runCount: run.runCount,
      inlineExtents: extents.length <= INLINE_EXTENTS_MAX ? [...extents] : null,
      versionOffset: record.offset,
      contentOffset: record.offset,
    };
  }

  /**
   * The extent map of a file after a patch: its old extents, cut to the new size, with each
   * range replaced by the next piece of the patch content. Ranges must ascend without overlap
   * and every byte must come from somewhere: anything else is a forged record.
   */
  private patchedExtents(
    record: JournalRecord,
    file: FileNode,
    oldExtents: readonly Extent[],
    event: PatchEvent,
    sources: readonly Extent[],
  ): Extent[] {
    const keptSizeBytes = Math.min(file.sizeBytes, event.sizeBytes);
    const old = new ExtentCursor(oldExtents);
    const source = new ExtentCursor(sources);
    let sourceBytes = 0;
    for (const extent of event.extents) sourceBytes += extent.lengthBytes;
    sourceBytes += record.rawBlobLength;
    const result: Extent[] = [];
    let position = 0;
    let sourcePosition = 0;
    const keep = (end: number): void => {
      if (end <= position) return;
      if (end > keptSizeBytes || !old.slice(position, end, result)) {
        throw journalCorrupt(record.offset, 'a patch leaves bytes undefined');
      }
    };
    for (let index = 0; index < event.ranges.length; index += 2) {
      const fileOffset = event.ranges[index] as number;
      const lengthBytes = event.ranges[index + 1] as number;
      const end = fileOffset + lengthBytes;
      if (lengthBytes === 0 || fileOffset < position || end > event.sizeBytes) {
        throw journalCorrupt(record.offset, 'patch ranges out of order');
      }
      keep(fileOffset);
      if (!source.slice(sourcePosition, sourcePosition + lengthBytes, result)) {
        throw journalCorrupt(record.offset, 'a patch is shorter than its ranges');
      }
      sourcePosition += lengthBytes;
      position = end;
    }
    if (sourcePosition !== sourceBytes) {
      throw journalCorrupt(record.offset, 'a patch is longer than its ranges');
    }
    keep(event.sizeBytes);
    return result;
  }

  /**
   * A patch of a file whose map lives under extent keys, touching only the keys of the extents
   * it rewrites (see `patched-extents.ts`); undefined when the map becomes small enough to move
   * back into the entry, which the caller does by rebuilding it. Whether a record stops (or
   * starts) being live comes from the file's reference counts. A patched file gets no trailing
   * run: the run is for consolidating appended pieces, and a patched file's pieces are its
   * writer's pages, superseded in place by later patches; computing it would mean walking the
   * map back from its end at every commit that grows the file.
   */
  private patchKeyed(
    record: JournalRecord,
    before: FileNode,
    event: PatchEvent,
    sources: readonly Extent[],
  ): FileNode | undefined {
    const spans = planKeyedPatch(this.tree, before.inode, before.sizeBytes, record, event, sources);
    let extentCount = before.extentCount;
    for (const span of spans) extentCount += span.newExtents.length - span.oldExtents.length;
    if (extentCount <= INLINE_EXTENTS_MAX) return undefined;
    this.ensureReferences(record, before);
    // Per record: how many more (or fewer) of the file's extents lie in it after the patch.
    const deltas = new Map<number, { count: number; recordLengthBytes: number }>();
    for (const span of spans) {
      const stale = new Map<number, Extent>();
      let fileOffset = span.startOffset;
      for (const extent of span.oldExtents) {
        stale.set(fileOffset, extent);
        addReference(deltas, extent, -1);
        fileOffset += extent.lengthBytes;
      }
      fileOffset = span.startOffset;
      for (const extent of span.newExtents) {
        const previous = stale.get(fileOffset);
        if (previous === undefined || !sameExtent(previous, extent)) {
          this.tree.set(extentKey(before.inode, fileOffset), encodeExtent(extent));
        }
        stale.delete(fileOffset);
        addReference(deltas, extent, 1);
        fileOffset += extent.lengthBytes;
      }
      for (const offset of stale.keys()) this.tree.delete(extentKey(before.inode, offset));
    }
    let recordBytes = before.recordBytes;
    for (const [recordOffset, delta] of deltas) {
      if (delta.count === 0) continue;
      const key = referenceKey(before.inode, recordOffset);
      const stored = this.tree.get(key);
      const current = stored === undefined ? 0 : decodeReferenceCount(stored);
      const next = current + delta.count;
      if (next < 0) throw journalCorrupt(record.offset, 'a patch drops a record it does not hold');
      if (next === 0) {
        this.tree.delete(key);
        recordBytes -= delta.recordLengthBytes;
      } else {
        this.tree.set(key, encodeReferenceCount(next));
        if (current === 0) recordBytes += delta.recordLengthBytes;
      }
    }
    if (recordBytes < 0) throw journalCorrupt(record.offset, 'the live bytes went below zero');
    return {
      ...before,
      modifiedAtMs: event.atMs,
      sizeBytes: event.sizeBytes,
      recordBytes,
      extentCount,
      runStartOffset: event.sizeBytes,
      runCount: 0,
      versionOffset: record.offset,
      contentOffset: record.offset,
    };
  }

  /**
   * Builds a keyed file's reference counts (one walk of its map) unless they are there: at its
   * first patch, and at the first patch after another kind of change dropped them.
   */
  private ensureReferences(record: JournalRecord, file: FileNode): void {
    if (this.tree.get(referenceMarkerKey(file.inode)) !== undefined) return;
    const counts = new Map<number, number>();
    const [start, end] = extentRange(file.inode, 0);
    let extentCount = 0;
    this.tree.range(start, end, (_key, value) => {
      const extent = decodeExtent(value);
      counts.set(extent.recordOffset, (counts.get(extent.recordOffset) ?? 0) + 1);
      extentCount++;
    });
    if (extentCount !== file.extentCount) {
      throw journalCorrupt(record.offset, 'extent map disagrees with its entry');
    }
    this.tree.set(referenceMarkerKey(file.inode), REFERENCE_MARKER);
    for (const [recordOffset, count] of counts) {
      this.tree.set(referenceKey(file.inode, recordOffset), encodeReferenceCount(count));
    }
  }

  /** Drops a keyed file's reference counts: a change other than a patch made them stale. */
  private dropReferences(file: FileNode): void {
    if (this.tree.get(referenceMarkerKey(file.inode)) === undefined) return;
    const [start, end] = referenceRange(file.inode);
    const keys: string[] = [];
    this.tree.range(start, end, (key) => {
      keys.push(key);
    });
    for (const key of keys) this.tree.delete(key);
  }

  /** Writes the extent keys of a file whose map does not fit in its entry. */
  private storeExtents(file: FileNode, extents: readonly Extent[]): void {
    if (file.inlineExtents !== null) return;
    let fileOffset = 0;
    for (const extent of extents) {
      this.tree.set(extentKey(file.inode, fileOffset), encodeExtent(extent));
      fileOffset += extent.lengthBytes;
    }
  }

  /** Removes the extent keys of a file from `fileOffset` on (nothing for an inline map). */
  private clearExtents(file: FileNode, fileOffset: number): void {
    if (file.inlineExtents !== null) return;
    this.dropReferences(file);
    const [start, end] = extentRange(file.inode, fileOffset);
    const keys: string[] = [];
    this.tree.range(start, end, (key) => {
      keys.push(key);
    });
    for (const key of keys) this.tree.delete(key);
  }

  private appendExtents(
    record: JournalRecord,
    file: FileNode,
    added: readonly Extent[],
    atMs: number,
  ): FileNode {
    let sizeBytes = file.sizeBytes;
    for (const extent of added) sizeBytes += extent.lengthBytes;
    const extentCount = file.extentCount + added.length;
    let inlineExtents: Extent[] | null = null;
    if (file.inlineExtents !== null && extentCount <= INLINE_EXTENTS_MAX) {
      inlineExtents = [...file.inlineExtents, ...added];
    } else {
      // The map moves out of the entry once, then grows one key per extent.
      this.dropReferences(file);
      const existing = file.inlineExtents ?? [];
      let fileOffset = 0;
      for (const extent of existing) {
        this.tree.set(extentKey(file.inode, fileOffset), encodeExtent(extent));
        fileOffset += extent.lengthBytes;
      }
      fileOffset = file.sizeBytes;
      for (const extent of added) {
        this.tree.set(extentKey(file.inode, fileOffset), encodeExtent(extent));
        fileOffset += extent.lengthBytes;
      }
    }
    if (record.rawBlobLength === 0 && added.length === 0) {
      throw journalCorrupt(record.offset, 'an append without content');
    }
    const run = runAfter(file.runStartOffset, file.runCount, file.sizeBytes, added);
    return {
      ...file,
      modifiedAtMs: atMs,
      sizeBytes,
      recordBytes: file.recordBytes + recordBytesOf(added),
      extentCount,
      runStartOffset: run.runStartOffset,
      runCount: run.runCount,
      inlineExtents,
      versionOffset: record.offset,
      contentOffset: record.offset,
    };
  }

  /**
   * Replaces the trailing run of `replacedCount` extents, starting at `fileOffset`, by the
   * record's own blob. The run must match exactly: anything else is a forged record.
   */
  private consolidate(
    record: JournalRecord,
    file: FileNode,
    fileOffset: number,
    replacedCount: number,
  ): FileNode {
    const replaced = this.extentsFrom(file, fileOffset);
    const replacedBytes = replaced.reduce((sum, extent) => sum + extent.lengthBytes, 0);
    const valid =
      record.rawBlobLength > 0 &&
      replaced.length === replacedCount &&
      replacedCount >= 2 &&
      replacedBytes === record.rawBlobLength &&
      fileOffset + replacedBytes === file.sizeBytes;
    if (!valid) throw journalCorrupt(record.offset, 'consolidation does not match the file');
    const own = ownExtent(record)[0] as Extent;
    let inlineExtents: Extent[] | null = null;
    if (file.inlineExtents !== null) {
      inlineExtents = [...file.inlineExtents.slice(0, file.extentCount - replacedCount), own];
    } else {
      this.clearExtents(file, fileOffset);
      this.tree.set(extentKey(file.inode, fileOffset), encodeExtent(own));
    }
    return {
      ...file,
      recordBytes: file.recordBytes - recordBytesOf(replaced) + record.lengthBytes,
      extentCount: file.extentCount - replacedCount + 1,
      runStartOffset: file.sizeBytes,
      runCount: 0,
      inlineExtents,
    };
  }

  /**
   * The extents of a file from `fileOffset` to its end; `fileOffset` must be where an extent
   * starts (a forged record naming another offset is `JOURNAL_CORRUPT`).
   */
  extentsFrom(file: FileNode, fileOffset: number): Extent[] {
    if (file.inlineExtents !== null) {
      let position = 0;
      let index = 0;
      while (index < file.inlineExtents.length && position < fileOffset) {
        position += (file.inlineExtents[index] as Extent).lengthBytes;
        index++;
      }
      if (position !== fileOffset)
        throw new CartridgeError('JOURNAL_CORRUPT', 'no extent starts there');
      return file.inlineExtents.slice(index);
    }
    const [start, end] = extentRange(file.inode, fileOffset);
    const extents: Extent[] = [];
    let first = true;
    this.tree.range(start, end, (key, value) => {
      if (first && key !== start)
        throw new CartridgeError('JOURNAL_CORRUPT', 'no extent starts there');
      first = false;
      extents.push(decodeExtent(value));
    });
    return extents;
  }
}
