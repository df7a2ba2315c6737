import {
  decodePage,
  encodePage,
  type IndexNode,
  type PageRef,
} from '../../src/projections/index/index-page.js';
import type { PageSource } from '../../src/projections/index/paged-tree.js';

/**
 * Index pages "on disk" for tests of the paged tree: encoded bytes by offset, decoded on every
 * load as the real store decodes them. Offsets grow with every page written, as in a journal.
 */
export class MemoryPages implements PageSource {
  private readonly pages = new Map<number, Buffer>();
  private nextOffset = 8192;

  write(node: IndexNode): PageRef {
    const offset = this.nextOffset;
    this.nextOffset += 100;
    this.pages.set(offset, encodePage(node));
    return { offset, sequence: offset };
  }

  load(ref: PageRef): IndexNode {
    const bytes = this.pages.get(ref.offset);
    if (bytes === undefined || ref.sequence !== ref.offset) throw new Error('no such page');
    return decodePage(bytes, ref.offset + 1);
  }
}
