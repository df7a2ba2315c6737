import { describe, expect, it } from 'vitest';
import type { Extent, JournalEvent, JournalRecord } from '../../../src/journal/journal-event.js';
import { Catalog, type FileNode } from '../../../src/projections/catalog.js';
import {
  decodePage,
  encodePage,
  type IndexNode,
  type PageRef,
} from '../../../src/projections/index/index-page.js';
import { PagedTree, type PageSource } from '../../../src/projections/index/paged-tree.js';
import { UndoLog } from '../../../src/projections/undo-log.js';

/**
 * A patch of a few pages of a large keyed file reads a few index pages, not the file's whole
 * extent map: the cost of a SQLite commit must not grow with the database. Pages are counted
 * as the tree loads them from a flushed index (every load decodes a page, as a cold cache
 * would), so the test measures work, not time.
 */

class CountingPages implements PageSource {
  private readonly pages = new Map<number, Buffer>();
  private nextOffset = 1;
  loads = 0;

  write(node: IndexNode): PageRef {
    const offset = this.nextOffset++;
    this.pages.set(offset, encodePage(node));
    return { offset, sequence: offset };
  }

  load(ref: PageRef): IndexNode {
    this.loads++;
    const bytes = this.pages.get(ref.offset);
    if (bytes === undefined) throw new Error('no such page');
    return decodePage(bytes, ref.offset + 1);
  }
}

const PAGE_BYTES = 4096;
const EXTENT_COUNT = 20_000;

let nextOffset = 8192;
function record(event: JournalEvent, rawBlobLength: number): JournalRecord {
  const offset = nextOffset;
  const lengthBytes = 64 + rawBlobLength;
  nextOffset += lengthBytes;
  return { offset, sequence: offset, lengthBytes, rawBlobLength, event, leafHash: Buffer.alloc(0) };
}

function dataExtent(): Extent {
  const data = record({ type: 'data' }, PAGE_BYTES);
  return {
    recordOffset: data.offset,
    recordSequence: data.sequence,
    blobOffset: 0,
    lengthBytes: PAGE_BYTES,
    recordLengthBytes: data.lengthBytes,
  };
}

describe('the fold of a patch on a large keyed file', () => {
  it('loads a few index pages, not the pages of the whole extent map', () => {
    const pages = new CountingPages();
    let tree = new PagedTree(pages, new UndoLog());
    let catalog = new Catalog(tree, new UndoLog());
    // One page per record: the map has one extent key per page, over many index pages.
    const extents = Array.from({ length: EXTENT_COUNT }, dataExtent);
    const sizeBytes = EXTENT_COUNT * PAGE_BYTES;
    catalog.evolve(
      record(
        {
          type: 'file.created',
          path: '/db',
          inode: 2,
          mode: 0o644,
          atMs: 1,
          sizeBytes,
          extents,
          previous: null,
        },
        0,
      ),
    );
    const patch = (pageIndex: number): void => {
      const file = catalog.get('/db') as FileNode;
      catalog.evolve(
        record(
          {
            type: 'file.patched',
            path: '/db',
            atMs: 2,
            sizeBytes,
            ranges: [0, PAGE_BYTES, pageIndex * PAGE_BYTES, PAGE_BYTES],
            extents: [],
            previous: file.versionOffset,
          },
          2 * PAGE_BYTES,
        ),
      );
    };
    const reload = (): void => {
      tree.flush((node) => pages.write(node));
      tree = new PagedTree(pages, new UndoLog(), tree.rootRef);
      catalog = new Catalog(tree, new UndoLog(), catalog.state);
      pages.loads = 0;
    };
    // The first patch builds the file's reference counts (one walk of the map).
    patch(5_000);
    reload();
    const mapLoads = (() => {
      catalog.extentsOf(catalog.get('/db') as FileNode);
      return pages.loads;
    })();
    reload();
    patch(15_000);
    const patchLoads = pages.loads;
    expect(mapLoads).toBeGreaterThan(150);
    expect(patchLoads).toBeLessThan(60);
    const file = catalog.get('/db') as FileNode;
    // Pages 0, 5 000 and 15 000 are now pieces of the two patch records, the rest unchanged.
    expect(file.extentCount).toBe(EXTENT_COUNT);
    expect(file.sizeBytes).toBe(sizeBytes);
  });
});
