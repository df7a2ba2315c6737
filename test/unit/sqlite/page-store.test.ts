import { describe, expect, it } from 'vitest';
import type { FilePatch } from '../../../src/engine/write-path.js';
import { PAGE_SIZE_BYTES } from '../../../src/limits.js';
import { type PageSource, PageStore } from '../../../src/sqlite/page-store.js';

/**
 * The page store alone, over a source that keeps the committed bytes in memory and records
 * every commit it is handed: what one SQLite sync becomes (which patches, which bytes), and
 * that the bytes handed over stay as they were when SQLite writes the same page again.
 */

interface RecordingSource extends PageSource {
  readonly commits: { records: readonly FilePatch[][]; sizeBytes: number }[];
  bytes: Buffer;
  refuseNext: boolean;
}

function recordingSource(initial: Buffer = Buffer.alloc(0)): RecordingSource {
  const source: RecordingSource = {
    key: 'unit',
    readOnly: false,
    commits: [],
    bytes: Buffer.from(initial),
    refuseNext: false,
    sizeBytes: () => source.bytes.length,
    read: (start, end) => Buffer.from(source.bytes.subarray(start, end)),
    commit: (records, sizeBytes) => {
      if (source.refuseNext) {
        source.refuseNext = false;
        throw new Error('refused');
      }
      source.commits.push({ records, sizeBytes });
      const next = Buffer.alloc(sizeBytes);
      source.bytes.copy(next, 0, 0, Math.min(sizeBytes, source.bytes.length));
      for (const patches of records) {
        for (const patch of patches) next.set(patch.content as Uint8Array, patch.offsetBytes);
      }
      source.bytes = next;
    },
  };
  return source;
}

function page(fill: number): Buffer {
  return Buffer.alloc(PAGE_SIZE_BYTES, fill);
}

/** The patches of the source's only commit, as offsets and the bytes handed over. */
function onlyCommit(source: RecordingSource): { offsetBytes: number; content: Buffer }[] {
  expect(source.commits).toHaveLength(1);
  const records = source.commits[0]?.records ?? [];
  expect(records).toHaveLength(1);
  return (records[0] ?? []).map((patch) => ({
    offsetBytes: patch.offsetBytes,
    content: Buffer.from(patch.content as Uint8Array),
  }));
}

describe('PageStore', () => {
  it('hands a one-page commit over as one patch, which a later write of the page leaves alone', () => {
    const source = recordingSource(Buffer.concat([page(1), page(2), page(3)]));
    const store = new PageStore(source);
    store.write(PAGE_SIZE_BYTES, page(20));
    store.sync();
    const [patch] = onlyCommit(source);
    expect(patch?.offsetBytes).toBe(PAGE_SIZE_BYTES);
    expect(patch?.content.equals(page(20))).toBe(true);
    // SQLite's next transaction writes the same page: what the first commit handed over must
    // not change under the journal's feet.
    const handedOver = source.commits[0]?.records[0]?.[0]?.content as Uint8Array;
    store.write(PAGE_SIZE_BYTES, page(21));
    expect(Buffer.from(handedOver).equals(page(20))).toBe(true);
    store.sync();
    expect(Buffer.from(handedOver).equals(page(20))).toBe(true);
    expect(source.bytes.equals(Buffer.concat([page(1), page(21), page(3)]))).toBe(true);
  });

  it('makes each run of consecutive pages one patch, in page order', () => {
    const source = recordingSource(Buffer.concat([0, 1, 2, 3, 4, 5, 6].map((fill) => page(fill))));
    const store = new PageStore(source);
    // Written out of order, as SQLite's page cache may.
    for (const index of [5, 1, 0, 2]) store.write(index * PAGE_SIZE_BYTES, page(100 + index));
    store.sync();
    const patches = onlyCommit(source);
    expect(patches.map((patch) => [patch.offsetBytes, patch.content.length])).toEqual([
      [0, 3 * PAGE_SIZE_BYTES],
      [5 * PAGE_SIZE_BYTES, PAGE_SIZE_BYTES],
    ]);
    expect(patches[0]?.content.equals(Buffer.concat([page(100), page(101), page(102)]))).toBe(
      true,
    );
    expect(source.sizeBytes()).toBe(7 * PAGE_SIZE_BYTES);
  });

  it('fills pages past the committed size that SQLite never wrote with zeros', () => {
    const source = recordingSource(page(9));
    const store = new PageStore(source);
    store.write(3 * PAGE_SIZE_BYTES, page(33));
    expect(store.sizeBytes).toBe(4 * PAGE_SIZE_BYTES);
    store.sync();
    const patches = onlyCommit(source);
    expect(patches.map((patch) => patch.offsetBytes)).toEqual([PAGE_SIZE_BYTES]);
    expect(patches[0]?.content.equals(Buffer.concat([page(0), page(0), page(33)]))).toBe(true);
    expect(source.commits[0]?.sizeBytes).toBe(4 * PAGE_SIZE_BYTES);
  });

  it('keeps the committed bytes of a page around a partial write', () => {
    const source = recordingSource(Buffer.concat([page(7), page(8)]));
    const store = new PageStore(source);
    store.write(PAGE_SIZE_BYTES + 10, Buffer.alloc(100, 55));
    const expected = page(8);
    expected.fill(55, 10, 110);
    const read = Buffer.alloc(PAGE_SIZE_BYTES);
    expect(store.read(PAGE_SIZE_BYTES, read)).toBe(true);
    expect(read.equals(expected)).toBe(true);
    store.sync();
    expect(onlyCommit(source)[0]?.content.equals(expected)).toBe(true);
  });

  it('cuts the last page at the size after a truncation', () => {
    const source = recordingSource(Buffer.concat([page(1), page(2)]));
    const store = new PageStore(source);
    store.write(0, page(11));
    store.write(PAGE_SIZE_BYTES, page(12));
    store.truncate(PAGE_SIZE_BYTES + 100);
    store.sync();
    const patches = onlyCommit(source);
    expect(patches[0]?.content.length).toBe(PAGE_SIZE_BYTES + 100);
    expect(source.bytes.equals(Buffer.concat([page(11), page(12).subarray(0, 100)]))).toBe(true);
  });

  it('drops a refused commit, and the rollback that writes the old pages back commits nothing', () => {
    const source = recordingSource(Buffer.concat([page(1), page(2)]));
    const store = new PageStore(source);
    store.write(0, page(40));
    source.refuseNext = true;
    expect(() => store.sync()).toThrow('refused');
    expect(store.dirtyPageCount).toBe(0);
    expect(store.sizeBytes).toBe(2 * PAGE_SIZE_BYTES);
    // SQLite rolls back by writing the page's old content and syncing again.
    store.write(0, page(1));
    expect(store.dirtyPageCount).toBe(0);
    store.sync();
    expect(source.commits).toHaveLength(0);
    // The next real commit goes through.
    store.write(0, page(41));
    store.sync();
    expect(onlyCommit(source)[0]?.content.equals(page(41))).toBe(true);
  });
});
