import { describe, expect, it } from 'vitest';
import type { VersionLink } from '../../../src/journal/journal-event.js';
import { Catalog } from '../../../src/projections/catalog.js';
import { indexDigest } from '../../../src/projections/index/index-digest.js';
import { expectCode } from '../../support/expect-code.js';
import { FoldJournal } from '../../support/fold-journal.js';

/**
 * The catalog's fold of `file.created` and `directory.created`, which checks a created path
 * with one lookup of its entry, one of its tombstone and one of its parent (see `vacantSlot`),
 * and the paged tree's remembered lookups under it. A record that creates over an entry, breaks
 * the path's version chain or has no directory to go in is `JOURNAL_CORRUPT`, and leaves the
 * catalog exactly as it was (its transaction rolls back); a path deleted and created again
 * links to its tombstone, which the new entry clears.
 */

class Journal extends FoldJournal {
  file(path: string, previous: VersionLink = this.state.catalog.versionLinkOf(path)): number {
    return this.apply(
      {
        type: 'file.created',
        path,
        inode: this.state.catalog.nextInode,
        mode: 0o644,
        atMs: 2,
        sizeBytes: 5,
        extents: [],
        previous,
      },
      5,
    );
  }

  directory(path: string, previous: VersionLink = this.state.catalog.versionLinkOf(path)): number {
    return this.apply({
      type: 'directory.created',
      path,
      inode: this.state.catalog.nextInode,
      mode: 0o755,
      atMs: 2,
      previous,
    });
  }
}

/** The action is refused as JOURNAL_CORRUPT and leaves the index and counters as they were. */
function corruptUnchanged(journal: Journal, action: () => unknown): void {
  const digest = indexDigest(journal.state.catalog.tree);
  const counters = journal.state.catalog.state;
  expectCode(action, 'JOURNAL_CORRUPT');
  expect(indexDigest(journal.state.catalog.tree)).toBe(digest);
  expect(journal.state.catalog.state).toEqual(counters);
}

describe('the catalog folding created entries', () => {
  it('refuses a file or directory created over an entry, whatever it names as previous', () => {
    const journal = new Journal();
    const directoryOffset = journal.directory('/a');
    const fileOffset = journal.file('/a/x');
    for (const previous of [null, fileOffset, directoryOffset, 12_345]) {
      corruptUnchanged(journal, () => journal.file('/a/x', previous));
      corruptUnchanged(journal, () => journal.directory('/a/x', previous));
    }
    corruptUnchanged(journal, () => journal.directory('/a', directoryOffset));
    expect(journal.state.catalog.get('/a/x')?.versionOffset).toBe(fileOffset);
  });

  it('links a path created again to its tombstone, and clears the tombstone', () => {
    const journal = new Journal();
    journal.directory('/a');
    journal.file('/a/x');
    const deletedOffset = journal.delete('/a/x');
    // Only the tombstone's record continues the chain.
    corruptUnchanged(journal, () => journal.file('/a/x', null));
    corruptUnchanged(journal, () => journal.file('/a/x', deletedOffset + 1));
    const createdOffset = journal.file('/a/x', deletedOffset);
    expect(journal.state.catalog.get('/a/x')?.versionOffset).toBe(createdOffset);
    expect(journal.state.catalog.absentLinkOf('/a/x')).toBeNull();
    expect(journal.state.catalog.versionLinkOf('/a/x')).toBe(createdOffset);
    // Deleted and created again as a directory: the same chain.
    const againOffset = journal.delete('/a/x');
    corruptUnchanged(journal, () => journal.directory('/a/x', createdOffset));
    journal.directory('/a/x', againOffset);
    expect(journal.state.catalog.get('/a/x')?.kind).toBe('directory');
    expect(journal.state.catalog.get('/a')).toMatchObject({ kind: 'directory', childCount: 1 });
  });

  it('finds the tombstones of a tree it did not fold, and keeps looking after a rollback', () => {
    const journal = new Journal();
    journal.directory('/a');
    journal.file('/a/kept');
    // A catalog over a tree without tombstones (as one read from disk): a path never used
    // links to nothing.
    const { tree } = journal.state.catalog;
    const opened = () => new Catalog(tree, journal.state.undo, journal.state.catalog.state);
    expect(opened().absentLinkOf('/a/x')).toBeNull();
    journal.file('/a/x');
    const deletedOffset = journal.delete('/a/x');
    // The same tree with a tombstone in it: a catalog that never saw the deletion finds it.
    const reopened = opened();
    expect(reopened.absentLinkOf('/a/x')).toBe(deletedOffset);
    expect(reopened.versionLinkOf('/a/x')).toBe(deletedOffset);
    expect(reopened.absentLinkOf('/a/never')).toBeNull();
    // A fresh journal whose only deletion rolls back: what it answers stays right.
    const fresh = new Journal();
    fresh.directory('/b');
    fresh.file('/b/y');
    corruptUnchanged(fresh, () => fresh.delete('/b/none'));
    fresh.state.undo.begin();
    fresh.state.catalog.evolve({
      offset: 900_000,
      sequence: 99,
      lengthBytes: 100,
      rawBlobLength: 0,
      event: {
        type: 'entry.deleted',
        path: '/b/y',
        atMs: 3,
        previous: fresh.state.catalog.versionLinkOf('/b/y'),
      },
      leafHash: Buffer.alloc(32),
    });
    expect(fresh.state.catalog.absentLinkOf('/b/y')).toBe(900_000);
    fresh.state.undo.end(false);
    expect(fresh.state.catalog.absentLinkOf('/b/y')).toBeNull();
    expect(fresh.state.catalog.get('/b/y')?.kind).toBe('file');
  });

  it('refuses a created entry without a directory to go in', () => {
    const journal = new Journal();
    journal.file('/f');
    corruptUnchanged(journal, () => journal.file('/missing/x', null));
    corruptUnchanged(journal, () => journal.file('/f/x', null));
    corruptUnchanged(journal, () => journal.directory('/f/x', null));
  });

  it('answers lookups made before a refused record as the catalog stands after its rollback', () => {
    // A refused record looked the path up (and its parent changed) before its rollback: the
    // tree must not answer from lookups remembered inside the transaction.
    const journal = new Journal();
    journal.directory('/a');
    const tree = journal.state.catalog.tree;
    const { undo } = journal.state;
    undo.begin();
    journal.state.catalog.tree.set('E/a\u0000ghost', Buffer.from([0x90]));
    expect(tree.get('E/a\u0000ghost')).toBeDefined();
    undo.end(false);
    expect(tree.get('E/a\u0000ghost')).toBeUndefined();
    expect(journal.state.catalog.get('/a/ghost')).toBeUndefined();
    const offset = journal.file('/a/ghost', null);
    expect(journal.state.catalog.get('/a/ghost')?.versionOffset).toBe(offset);
  });
});
