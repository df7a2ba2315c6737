import { describe, expect, it } from 'vitest';
import {
  type JournalEvent,
  type MovedEntry,
  MoveStep,
} from '../../../src/journal/journal-event.js';
import { decodeEvent, encodeEvent, recordTypeOf } from '../../../src/journal/event-codec.js';
import { expectCode } from '../../support/expect-code.js';
import { FoldJournal } from '../../support/fold-journal.js';

/**
 * The catalog's fold of `path.moved` records (type 24): valid walks move entries and keep
 * inodes and extents; a record that does not describe a move the catalog allows (a step out
 * of order, a broken version chain, a size that disagrees, a path that is not canonical) is
 * `JOURNAL_CORRUPT`, as it can only come from a forged or damaged journal.
 */

class Journal extends FoldJournal {
  file(path: string, sizeBytes: number): number {
    return this.apply(
      {
        type: 'file.created',
        path,
        inode: this.state.catalog.nextInode,
        mode: 0o644,
        atMs: 2,
        sizeBytes,
        extents: [],
        previous: this.state.catalog.versionLinkOf(path),
      },
      sizeBytes,
    );
  }

  directory(path: string): number {
    return this.apply({
      type: 'directory.created',
      path,
      inode: this.state.catalog.nextInode,
      mode: 0o755,
      atMs: 2,
      previous: this.state.catalog.versionLinkOf(path),
    });
  }

  move(from: string, to: string, entries: readonly MovedEntry[]): number {
    return this.apply({ type: 'path.moved', from, to, atMs: 3, entries });
  }
}

function corrupt(action: () => unknown): void {
  expectCode(action, 'JOURNAL_CORRUPT');
}

/** A journal with `/a` holding the file `/a/x` (5 bytes); returns it and the offsets. */
function withTree(): { journal: Journal; directoryOffset: number; fileOffset: number } {
  const journal = new Journal();
  const directoryOffset = journal.directory('/a');
  const fileOffset = journal.file('/a/x', 5);
  return { journal, directoryOffset, fileOffset };
}

const file = (relativePath: string, previousFrom: number, sizeBytes: number): MovedEntry => ({
  step: MoveStep.File,
  relativePath,
  previousFrom,
  previousTo: null,
  sizeBytes,
});
const opened = (relativePath: string): MovedEntry => ({
  step: MoveStep.DirectoryOpened,
  relativePath,
  previousFrom: null,
  previousTo: null,
  sizeBytes: 0,
});
const closed = (relativePath: string, previousFrom: number): MovedEntry => ({
  step: MoveStep.DirectoryClosed,
  relativePath,
  previousFrom,
  previousTo: null,
  sizeBytes: 0,
});

describe('the catalog folding path.moved', () => {
  it('round-trips through the codec as record type 24', () => {
    const event: JournalEvent = {
      type: 'path.moved',
      from: '/a',
      to: '/b',
      atMs: 7,
      entries: [opened(''), file('x', 9000, 5), closed('', 8192)],
    };
    expect(recordTypeOf(event)).toBe(24);
    expect(decodeEvent(24, encodeEvent(event))).toEqual(event);
    const unknownStep = { ...opened(''), step: 3 as MoveStep };
    corrupt(() => decodeEvent(24, encodeEvent({ ...event, entries: [unknownStep] })));
  });

  it('moves a directory in two records, keeping the inode of each entry', () => {
    const { journal, directoryOffset, fileOffset } = withTree();
    const { catalog } = journal.state;
    const inode = catalog.get('/a/x')?.inode;
    const first = journal.move('/a', '/b', [opened(''), file('x', fileOffset, 5)]);
    // Between the records the catalog is a tree: the source directory waits, empty.
    expect(catalog.childrenOf('/a')).toEqual([]);
    expect(catalog.childrenOf('/b')).toEqual(['x']);
    const second = journal.move('/a', '/b', [closed('', directoryOffset)]);
    expect(catalog.get('/a')).toBeUndefined();
    expect(catalog.get('/b/x')).toMatchObject({ inode, versionOffset: first, sizeBytes: 5 });
    expect(catalog.versionLinkOf('/a/x')).toBe(first);
    expect(catalog.versionLinkOf('/a')).toBe(second);
    expect(catalog.entryCount).toBe(3);
    expect(catalog.fileCount).toBe(1);
  });

  it('refuses records that no engine writes', () => {
    const { journal, directoryOffset, fileOffset } = withTree();
    journal.file('/f', 1);
    const cases: [string, string, MovedEntry[]][] = [
      ['/a', '/b', [file('', fileOffset, 5)]],
      ['/a/x', '/b', [file('', fileOffset, 6)]],
      ['/a/x', '/b', [file('', fileOffset + 1, 5)]],
      ['/a/x', '/f', [{ ...file('', fileOffset, 5) }]],
      ['/a/x', '/nowhere/b', [file('', fileOffset, 5)]],
      ['/a', '/b', [closed('', directoryOffset)]],
      ['/a', '/b', [opened(''), closed('', directoryOffset)]],
      ['/a', '/b', [{ ...opened(''), previousFrom: directoryOffset }]],
      ['/a', '/a/in', [opened('')]],
      ['/', '/b', [opened('')]],
      ['/a', '/b', []],
      ['/a', '/b/', [opened('')]],
      ['/a', '/b', [opened(''), file('../x', fileOffset, 5)]],
      ['/a', '/b', [opened(''), { ...opened('x'), sizeBytes: 1 }]],
    ];
    for (const [from, to, entries] of cases) {
      corrupt(() => journal.move(from, to, entries));
      // A refused record changed nothing.
      expect(journal.state.catalog.childrenOf('/a')).toEqual(['x']);
    }
  });
});
