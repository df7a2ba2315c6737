import { journalCorrupt } from '../errors.js';
import type { Extent, JournalRecord } from '../journal/journal-event.js';
import { nameOf, parentOf, ROOT_PATH } from '../path/canonical-path.js';
import type { Projection } from './projection.js';
import type { UndoLog } from './undo-log.js';

/**
 * The catalog: canonical path → entry. Each directory keeps the set of its children's names,
 * so listing a directory costs its children, not the whole catalog. Records were validated by
 * the engine before they were written; during replay a record that does not apply (a file
 * written before it exists, a child without a parent) means a forged or damaged journal and
 * is reported as `JOURNAL_CORRUPT` at the record's offset.
 */

export const FILE_MODE_DEFAULT = 0o644;
export const DIRECTORY_MODE_DEFAULT = 0o755;
export const ROOT_INODE = 1;

interface NodeCommon {
  readonly inode: number;
  readonly mode: number;
  createdAtMs: number;
  modifiedAtMs: number;
}

export interface FileNode extends NodeCommon {
  readonly kind: 'file';
  sizeBytes: number;
  extents: Extent[];
}

export interface DirectoryNode extends NodeCommon {
  readonly kind: 'directory';
  readonly children: Set<string>;
}

export type CatalogNode = FileNode | DirectoryNode;

export class Catalog implements Projection {
  readonly name = 'catalog';
  private readonly entries = new Map<string, CatalogNode>();
  private nextInodeValue = ROOT_INODE + 1;
  private fileCountValue = 0;

  constructor(private readonly undo: UndoLog) {
    this.entries.set(ROOT_PATH, {
      kind: 'directory',
      inode: ROOT_INODE,
      mode: DIRECTORY_MODE_DEFAULT,
      createdAtMs: 0,
      modifiedAtMs: 0,
      children: new Set(),
    });
  }

  get(path: string): CatalogNode | undefined {
    return this.entries.get(path);
  }

  get nextInode(): number {
    return this.nextInodeValue;
  }

  get entryCount(): number {
    return this.entries.size;
  }

  /** Kept as entries come and go, so `stats()` does not walk the whole catalog. */
  get fileCount(): number {
    return this.fileCountValue;
  }

  /** Sorted names of a directory's children. */
  childrenOf(directory: DirectoryNode): string[] {
    return [...directory.children].sort();
  }

  /** Every entry in insertion order (parents before children), for checkpoints. */
  allEntries(): IterableIterator<[string, CatalogNode]> {
    return this.entries.entries();
  }

  evolve(record: JournalRecord): void {
    const event = record.event;
    switch (event.type) {
      case 'genesis': {
        const root = this.entries.get(ROOT_PATH) as DirectoryNode;
        this.setTimes(root, event.createdAtMs, event.createdAtMs);
        return;
      }
      case 'directory.created':
        this.insert(record, event.path, {
          kind: 'directory',
          inode: event.inode,
          mode: event.mode,
          createdAtMs: event.atMs,
          modifiedAtMs: event.atMs,
          children: new Set(),
        });
        return;
      case 'file.created':
        this.insert(record, event.path, {
          kind: 'file',
          inode: event.inode,
          mode: event.mode,
          createdAtMs: event.atMs,
          modifiedAtMs: event.atMs,
          sizeBytes: event.sizeBytes,
          extents: [...event.extents],
        });
        return;
      case 'file.written':
        this.replaceContent(
          this.fileAt(record, event.path),
          event.sizeBytes,
          [...event.extents],
          event.atMs,
        );
        return;
      case 'file.appended':
        this.appendContent(
          this.fileAt(record, event.path),
          event.sizeBytes,
          event.extents,
          event.atMs,
        );
        return;
      case 'entry.deleted':
        this.remove(record, event.path, event.atMs);
        return;
      case 'data':
      case 'checkpoint':
        return;
    }
  }

  private fileAt(record: JournalRecord, path: string): FileNode {
    const node = this.entries.get(path);
    if (node === undefined || node.kind !== 'file')
      throw journalCorrupt(record.offset, `no file at ${path}`);
    return node;
  }

  private parentDirectory(record: JournalRecord, path: string): DirectoryNode {
    const parent = this.entries.get(parentOf(path));
    if (parent === undefined || parent.kind !== 'directory' || path === ROOT_PATH) {
      throw journalCorrupt(record.offset, `no parent directory for ${path}`);
    }
    return parent;
  }

  private setTimes(node: CatalogNode, createdAtMs: number, modifiedAtMs: number): void {
    const before = { createdAtMs: node.createdAtMs, modifiedAtMs: node.modifiedAtMs };
    node.createdAtMs = createdAtMs;
    node.modifiedAtMs = modifiedAtMs;
    this.undo.push(() => Object.assign(node, before));
  }

  private insert(record: JournalRecord, path: string, node: CatalogNode): void {
    if (this.entries.has(path)) throw journalCorrupt(record.offset, `${path} already exists`);
    const parent = this.parentDirectory(record, path);
    const name = nameOf(path);
    const nextInodeBefore = this.nextInodeValue;
    const fileDelta = node.kind === 'file' ? 1 : 0;
    this.entries.set(path, node);
    parent.children.add(name);
    this.fileCountValue += fileDelta;
    this.nextInodeValue = Math.max(this.nextInodeValue, node.inode + 1);
    this.setTimes(parent, parent.createdAtMs, node.createdAtMs);
    this.undo.push(() => {
      this.entries.delete(path);
      parent.children.delete(name);
      this.fileCountValue -= fileDelta;
      this.nextInodeValue = nextInodeBefore;
    });
  }

  private replaceContent(file: FileNode, sizeBytes: number, extents: Extent[], atMs: number): void {
    const before = { sizeBytes: file.sizeBytes, extents: file.extents };
    file.sizeBytes = sizeBytes;
    file.extents = extents;
    this.setTimes(file, file.createdAtMs, atMs);
    this.undo.push(() => Object.assign(file, before));
  }

  /** Appends in place (a copy per append would make many small appends quadratic). */
  private appendContent(
    file: FileNode,
    sizeBytes: number,
    added: readonly Extent[],
    atMs: number,
  ): void {
    const before = { sizeBytes: file.sizeBytes, extentCount: file.extents.length };
    file.sizeBytes = sizeBytes;
    for (const extent of added) file.extents.push(extent);
    this.setTimes(file, file.createdAtMs, atMs);
    this.undo.push(() => {
      file.sizeBytes = before.sizeBytes;
      file.extents.length = before.extentCount;
    });
  }

  private remove(record: JournalRecord, path: string, atMs: number): void {
    const node = this.entries.get(path);
    if (node === undefined || path === ROOT_PATH)
      throw journalCorrupt(record.offset, `nothing to delete at ${path}`);
    if (node.kind === 'directory' && node.children.size > 0) {
      throw journalCorrupt(record.offset, `${path} is not empty`);
    }
    const parent = this.parentDirectory(record, path);
    const name = nameOf(path);
    const fileDelta = node.kind === 'file' ? 1 : 0;
    this.entries.delete(path);
    parent.children.delete(name);
    this.fileCountValue -= fileDelta;
    this.setTimes(parent, parent.createdAtMs, atMs);
    this.undo.push(() => {
      this.entries.set(path, node);
      parent.children.add(name);
      this.fileCountValue += fileDelta;
    });
  }

  /** Starts loading a checkpoint into an empty catalog (open only; no undo). */
  beginLoad(): void {
    this.entries.clear();
    this.fileCountValue = 0;
  }

  loadEntry(path: string, node: CatalogNode): void {
    if (this.entries.has(path)) throw journalCorrupt(0, `checkpoint repeats ${path}`);
    this.entries.set(path, node);
    if (node.kind === 'file') this.fileCountValue++;
  }

  /** Links every entry to its parent once all are loaded; orphans mean a damaged checkpoint. */
  finishLoad(nextInode: number): void {
    const root = this.entries.get(ROOT_PATH);
    if (root?.kind !== 'directory') throw journalCorrupt(0, 'checkpoint has no root');
    for (const path of this.entries.keys()) {
      if (path === ROOT_PATH) continue;
      const parent = this.entries.get(parentOf(path));
      if (parent === undefined || parent.kind !== 'directory') {
        throw journalCorrupt(0, `checkpoint orphan ${path}`);
      }
      parent.children.add(nameOf(path));
    }
    this.nextInodeValue = nextInode;
  }
}
