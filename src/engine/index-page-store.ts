import { journalCorrupt } from '../errors.js';
import type { StorageFile } from '../journal/io/storage.js';
import { RecordType } from '../journal/journal-event.js';
import { blobOf, readRecordOfLength } from '../journal/journal-reader.js';
import type { RecordSealing } from '../journal/record-sealing.js';
import { BufferPool } from '../projections/buffer-pool.js';
import {
  cachedBytesOf,
  decodePage,
  type IndexNode,
  type PageRef,
} from '../projections/index/index-page.js';
import type { PageSource } from '../projections/index/paged-tree.js';

/**
 * Where the index's clean pages come from: an ARC cache of decoded pages, bounded in bytes,
 * in front of the journal. A page is read as a record and must be an index page with the
 * sequence its parent names; anything else is `JOURNAL_CORRUPT` at the page's offset.
 */

interface CachedPage {
  readonly sequence: number;
  readonly node: IndexNode;
  /** What the cache charges (see `cachedBytesOf`). */
  readonly length: number;
}

export class IndexPageStore implements PageSource {
  private readonly cache: BufferPool<CachedPage>;
  private pagesReadCount = 0;

  constructor(
    private readonly file: StorageFile,
    cacheBytes: number,
    /** Opens the pages of an encrypted cartridge (they hold paths). */
    private readonly sealing: RecordSealing | undefined,
  ) {
    this.cache = new BufferPool<CachedPage>(cacheBytes);
  }

  get pagesRead(): number {
    return this.pagesReadCount;
  }

  load(ref: PageRef): IndexNode {
    const cached = this.cache.get(ref.offset);
    if (cached !== undefined && cached.sequence === ref.sequence) return cached.node;
    // With its length known (every child of a branch), a page takes one read.
    const raw = readRecordOfLength(this.file, ref.offset, ref.lengthBytes ?? 0);
    if (raw.header.type !== RecordType.IndexPage || raw.header.sequence !== ref.sequence) {
      throw journalCorrupt(ref.offset, 'index reference points at another record');
    }
    const node = decodePage(blobOf(raw, this.sealing), ref.offset);
    this.pagesReadCount++;
    this.remember(ref, node);
    return node;
  }

  /** Caches a page just written (it is clean from now on and will be read again soon). */
  remember(ref: PageRef, node: IndexNode): void {
    this.cache.set(ref.offset, {
      sequence: ref.sequence,
      node,
      length: cachedBytesOf(node),
    });
  }

  /** Forgets pages at or after `offset` (a journal tail that was cut and will be reused). */
  forgetFrom(offset: number): void {
    this.cache.deleteFrom(offset);
  }

  clear(): void {
    this.cache.clear();
  }
}
