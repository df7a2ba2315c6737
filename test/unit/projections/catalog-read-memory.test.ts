import { describe, expect, it } from 'vitest';
import { type CatalogNode, encodeNode, entryKey } from '../../../src/projections/catalog-entry.js';
import { FoldJournal } from '../../support/fold-journal.js';

/**
 * The catalog's read memory (`Catalog.lookup`): entries found by path are remembered while the
 * tree's content stamp stands still, and every answer is what `get` gives at that moment:
 * after a create, a delete, a change of the entry, a rollback, and past the memory's size.
 */

class Journal extends FoldJournal {
  file(path: string, sizeBytes = 5): number {
    const catalog = this.state.catalog;
    return this.apply(
      {
        type: 'file.created',
        path,
        inode: catalog.nextInode,
        mode: 0o644,
        atMs: 2,
        sizeBytes,
        extents: [],
        previous: catalog.versionLinkOf(path),
      },
      sizeBytes,
    );
  }
}

describe('the catalog read memory', () => {
  it('answers a repeated lookup with the entry it found, until the content changes', () => {
    const journal = new Journal();
    const catalog = journal.state.catalog;
    const offset = journal.file('/a');
    const first = catalog.lookup('/a');
    expect(first?.versionOffset).toBe(offset);
    expect(catalog.lookup('/a')).toBe(first);
    // A change anywhere in the tree drops the memory: the next answer is looked up again.
    journal.file('/b');
    const again = catalog.lookup('/a');
    expect(again).toEqual(first);
    expect(catalog.lookup('/b')).toEqual(catalog.get('/b'));
  });

  it('forgets a deleted entry and finds one created again at the same path', () => {
    const journal = new Journal();
    const catalog = journal.state.catalog;
    journal.file('/a');
    expect(catalog.lookup('/a')).toBeDefined();
    journal.delete('/a');
    expect(catalog.lookup('/a')).toBeUndefined();
    const offset = journal.file('/a', 9);
    const node = catalog.lookup('/a');
    expect(node?.versionOffset).toBe(offset);
    expect(node?.kind === 'file' ? node.sizeBytes : undefined).toBe(9);
  });

  it('answers as the catalog stands after a rollback, not as it stood inside', () => {
    const journal = new Journal();
    const catalog = journal.state.catalog;
    const offset = journal.file('/a');
    const ghost = catalog.get('/a') as CatalogNode;
    const { undo } = journal.state;
    // Inside a transaction that is then rolled back, an entry goes and another comes.
    undo.begin();
    catalog.tree.delete(entryKey('/a'));
    catalog.tree.set(entryKey('/ghost'), encodeNode(ghost));
    expect(catalog.lookup('/a')).toBeUndefined();
    expect(catalog.lookup('/ghost')).toBeDefined();
    undo.end(false);
    expect(catalog.lookup('/a')?.versionOffset).toBe(offset);
    expect(catalog.lookup('/ghost')).toBeUndefined();
  });

  it('keeps answering right past the path length it holds', () => {
    const journal = new Journal();
    const catalog = journal.state.catalog;
    // Seven directories of 250 characters: each file's path is about 1 770 characters, so 300
    // of them are more path than the memory keeps.
    let directory = '';
    for (let level = 0; level < 7; level++) {
      directory += `/${String(level).repeat(250)}`;
      journal.apply({
        type: 'directory.created',
        path: directory,
        inode: catalog.nextInode,
        mode: 0o755,
        atMs: 2,
        previous: null,
      });
    }
    const paths = Array.from({ length: 300 }, (_, index) => `${directory}/file-${index}`);
    const offsets = paths.map((path) => journal.file(path));
    for (let pass = 0; pass < 3; pass++) {
      paths.forEach((path, index) => {
        expect(catalog.lookup(path)?.versionOffset).toBe(offsets[index]);
      });
    }
  });

  it('keeps answering right past its size, for more paths than it holds', () => {
    const journal = new Journal();
    const catalog = journal.state.catalog;
    const count = 10_000;
    const offsets = Array.from({ length: count }, (_, index) => journal.file(`/f${index}`));
    for (let pass = 0; pass < 2; pass++) {
      for (let index = 0; index < count; index++) {
        expect(catalog.lookup(`/f${index}`)?.versionOffset).toBe(offsets[index]);
      }
    }
    expect(catalog.lookup(`/f${count}`)).toBeUndefined();
  });
});
