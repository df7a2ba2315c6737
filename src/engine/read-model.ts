import { CartridgeError } from '../errors.js';
import { JOURNAL_START_OFFSET } from '../journal/file-header.js';
import { PAGE_SIZE_BYTES } from '../limits.js';
import { ancestorsOf, type ParsedPath } from '../path/canonical-path.js';
import type { CatalogNode } from '../projections/catalog.js';
import type { Projections } from '../projections/projection-set.js';
import type { ByteRange, CartridgeStats, EntryMetadata } from './cartridge-types.js';
import type { ContentReader } from './content-reader.js';
import type { Extent } from '../journal/journal-event.js';

/**
 * The read API, written once over a state: the head's projections (a `Cartridge`) or a past
 * state rebuilt by a checkout (a `CartridgeView`). Both answer `readFile`, `listDir`, `exists`
 * and `metadata` here, with the same path rules and the same errors.
 */

export function blocksFor(sizeBytes: number): number {
  return Math.ceil(sizeBytes / PAGE_SIZE_BYTES);
}

/** What the counters of a state say, for `stats()` of a cartridge or a view. */
export interface StateCounts {
  readonly journalBytes: number;
  readonly liveBytes: number;
  readonly usedBlocks: number;
  readonly livePages: number;
  readonly fileCount: number;
  readonly directoryCount: number;
}

/** Share of the journal's bytes that no live file refers to (what compaction would reclaim). */
function fragmentationOf(counts: StateCounts): number {
  const { journalBytes, liveBytes } = counts;
  return journalBytes === 0 ? 0 : (journalBytes - liveBytes) / journalBytes;
}

/** The figures of `stats()` that describe the journal rather than the state. */
export type JournalFigures = Pick<
  CartridgeStats,
  | 'recordCount'
  | 'syncedLength'
  | 'checkpointOffset'
  | 'oldestPinnedOffset'
  | 'durability'
  | 'bufferPool'
>;

export class ReadModel {
  constructor(
    private readonly state: Projections,
    private readonly content: ContentReader,
  ) {}

  /**
   * The content of the file at a canonical path (see `fileOperand`), or the bytes `[start, end)`
   * of it; a range past the end stops at the end.
   */
  readFile(canonical: string, range?: ByteRange): Buffer {
    const node = this.readNodeAt(canonical);
    if (node.kind !== 'file')
      throw new CartridgeError('EISDIR', `${canonical} is a directory`, { path: canonical });
    this.content.refuseRedactedVersion(node.versionOffset, canonical);
    const extents = this.state.catalog.extentsOf(node);
    if (range === undefined) return this.content.read(extents, node.sizeBytes, canonical);
    const end = Math.min(range.end ?? node.sizeBytes, node.sizeBytes);
    const start = Math.min(range.start ?? 0, end);
    return this.content.readRange(extents, node.sizeBytes, canonical, start, end);
  }

  /**
   * The content of the file at a canonical path in pieces of whole extents, about
   * `pieceBytes` each (one extent may be larger): a reader that streams a large file (freeze)
   * holds one piece at a time, not the whole file.
   */
  *readPieces(canonical: string, pieceBytes: number): Generator<Buffer> {
    const node = this.readNodeAt(canonical);
    if (node.kind !== 'file')
      throw new CartridgeError('EISDIR', `${canonical} is a directory`, { path: canonical });
    this.content.refuseRedactedVersion(node.versionOffset, canonical);
    const extents = this.state.catalog.extentsOf(node);
    let start = 0;
    while (start < extents.length) {
      let end = start;
      let sizeBytes = 0;
      while (end < extents.length) {
        const lengthBytes = (extents[end] as Extent).lengthBytes;
        if (end > start && sizeBytes + lengthBytes > pieceBytes) break;
        sizeBytes += lengthBytes;
        end++;
      }
      yield this.content.read(extents.slice(start, end), sizeBytes, canonical);
      start = end;
    }
  }

  /** The names in the directory at a canonical path. */
  listDir(canonical: string): string[] {
    const node = this.readNodeAt(canonical);
    if (node.kind !== 'directory')
      throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
    return this.state.catalog.childrenOf(canonical);
  }

  /** Whether an entry is at a parsed path (a directory, when the spelling asks for one). */
  exists(parsed: ParsedPath): boolean {
    const { path: canonical, mustBeDirectory } = parsed;
    const node = this.state.catalog.lookup(canonical);
    return node !== undefined && (!mustBeDirectory || node.kind === 'directory');
  }

  /** The metadata of the entry at a canonical path (see `fileOperand`). */
  metadata(canonical: string): EntryMetadata {
    return this.metadataOf(canonical, this.readNodeAt(canonical));
  }

  private metadataOf(canonical: string, node: CatalogNode): EntryMetadata {
    const sizeBytes = node.kind === 'file' ? node.sizeBytes : 0;
    return {
      type: node.kind,
      path: canonical,
      sizeBytes,
      createdAtMs: node.createdAtMs,
      modifiedAtMs: node.modifiedAtMs,
      mode: node.mode,
      inode: node.inode,
      blockCount: blocksFor(sizeBytes),
    };
  }

  /**
   * The metadata of the entry at a canonical path, or undefined when nothing is there; ENOTDIR
   * when a file stands where a directory must, as `metadata` (what the fs facade looks at
   * before a change, where nothing being there is an answer, not an error).
   */
  metadataOrAbsent(canonical: string): EntryMetadata | undefined {
    const node = this.state.catalog.lookup(canonical);
    if (node === undefined) {
      this.refuseUnderFile(canonical);
      return undefined;
    }
    return this.metadataOf(canonical, node);
  }

  /**
   * What `stats()` reports of a state whose last commit ends at `headOffset`; the caller adds
   * what belongs to its journal (`JournalFigures`).
   */
  stats(headOffset: number, journal: JournalFigures): CartridgeStats {
    const counts = this.counts(headOffset);
    const capacity = this.state.allocator.capacityBlocks;
    const totalBlocks = capacity ?? counts.usedBlocks;
    return {
      totalBlocks,
      usedBlocks: counts.usedBlocks,
      freeBlocks: totalBlocks - counts.usedBlocks,
      capacityBlocks: capacity,
      journalBytes: counts.journalBytes,
      liveBytes: counts.liveBytes,
      deadBytes: counts.journalBytes - counts.liveBytes,
      fragmentation: fragmentationOf(counts),
      livePages: counts.livePages,
      head: headOffset,
      fileCount: counts.fileCount,
      directoryCount: counts.directoryCount,
      dirtyIndexPages: this.state.catalog.tree.dirtyCount,
      ...journal,
    };
  }

  /** The counters of a state whose last commit ends at `headOffset`. */
  counts(headOffset: number): StateCounts {
    const { allocator, catalog } = this.state;
    const fileCount = catalog.fileCount;
    return {
      journalBytes: headOffset - JOURNAL_START_OFFSET,
      liveBytes: allocator.liveBytes,
      usedBlocks: allocator.usedBlocks,
      livePages: allocator.livePages,
      fileCount,
      directoryCount: catalog.entryCount - fileCount,
    };
  }

  /**
   * The canonical path of an operand that may be a file. A trailing `/` (or `/.`, `/..`) can
   * only name a directory, so on a file it is `ENOTDIR`, and creating a file by it `EISDIR`,
   * as in POSIX; without that, `/file/` would read or create `/file`.
   */
  fileOperand(parsed: ParsedPath, creating = false): string {
    const { path: canonical, mustBeDirectory } = parsed;
    if (!mustBeDirectory) return canonical;
    const node = this.state.catalog.get(canonical);
    if (node?.kind === 'file')
      throw new CartridgeError('ENOTDIR', `${canonical} is a file`, { path: canonical });
    if (node === undefined && creating) {
      throw new CartridgeError('EISDIR', `${canonical}/ names a directory`, { path: canonical });
    }
    return canonical;
  }

  /** The entry at a canonical path; ENOTDIR when a file stands where a directory must. */
  nodeAt(path: string): CatalogNode {
    return this.foundOrRefused(path, this.state.catalog.get(path));
  }

  /**
   * `nodeAt` for this model's own reads, through the catalog's read memory (`Catalog.lookup`):
   * reading the same files again skips the index. The write path keeps `nodeAt`, as each of
   * its commits would drop the memory anyway.
   */
  private readNodeAt(path: string): CatalogNode {
    return this.foundOrRefused(path, this.state.catalog.lookup(path));
  }

  /** `node`, found at `path`, or the error that says why there is none. */
  private foundOrRefused(path: string, node: CatalogNode | undefined): CatalogNode {
    if (node !== undefined) return node;
    this.refuseUnderFile(path);
    throw new CartridgeError('ENOENT', `no such file or directory: ${path}`, { path });
  }

  /** ENOTDIR when an ancestor of `path`, where nothing is, is a file. */
  private refuseUnderFile(path: string): void {
    for (const ancestor of ancestorsOf(path)) {
      const above = this.state.catalog.get(ancestor);
      if (above === undefined) break;
      if (above.kind === 'file')
        throw new CartridgeError('ENOTDIR', `${ancestor} is a file`, { path });
    }
  }
}
