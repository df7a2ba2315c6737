import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Cartridge,
  type CartridgeOptions,
  type CartridgeView,
  positionOf,
} from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Tests of time travel through the public API: snapshots, checkout, views, restore, diff and
 * history, their argument checks and error codes, and what survives close and open. Commit
 * times come from an injected clock, so checkouts by date are deterministic.
 */

const JOURNAL_START_OFFSET = 8192;
const START_MS = 1_700_000_000_000;
const CHECKPOINT_INTERVAL_BYTES = 4096;

let directory: string;
let opened: Cartridge[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-time-travel-'));
  opened = [];
});

afterEach(() => {
  // Every cartridge a test opened is released before its directory goes (close is idempotent).
  for (const cart of opened) cart.close();
  rmSync(directory, { recursive: true, force: true });
});

/** A wall clock the test moves by hand; every commit reads it once. */
class TestClock {
  ms = START_MS;
  private monotonicMs = 0;

  now(): number {
    return this.ms;
  }

  nowMs(): number {
    return ++this.monotonicMs;
  }

  tick(deltaMs = 1000): number {
    this.ms += deltaMs;
    return this.ms;
  }
}

function fileAt(name = 'time.cart'): string {
  return join(directory, name);
}

function create(options: CartridgeOptions = {}, name = 'time.cart'): Cartridge {
  const cart = Cartridge.create(fileAt(name), options);
  opened.push(cart);
  return cart;
}

function open(options: CartridgeOptions = {}, name = 'time.cart'): Cartridge {
  const cart = Cartridge.open(fileAt(name), options);
  opened.push(cart);
  return cart;
}

function text(reader: Cartridge | CartridgeView, path: string): string {
  return reader.readFile(path).toString('utf8');
}

/** Every path a reader shows, with a file's text or `dir` for a directory. */
function tree(reader: Cartridge | CartridgeView): Record<string, string> {
  const found: Record<string, string> = {};
  const visit = (path: string): void => {
    for (const name of reader.listDir(path)) {
      const child = path === '/' ? `/${name}` : `${path}/${name}`;
      if (reader.metadata(child).type === 'directory') {
        found[child] = 'dir';
        visit(child);
      } else {
        found[child] = text(reader, child);
      }
    }
  };
  visit('/');
  return found;
}

function changes(cart: Cartridge, path: string): string[] {
  return cart.history(path).map((version) => `${version.change} ${version.kind}`);
}

describe('snapshots', () => {
  it('refuses bad names and descriptions', () => {
    const cart = create();
    expectCode(() => cart.createSnapshot(''), 'INVALID_ARGUMENT');
    expectCode(() => cart.createSnapshot('a'.repeat(256)), 'LIMIT_EXCEEDED');
    // 255 bytes is the limit, counted in UTF-8: 128 two-byte characters are 256 bytes.
    expectCode(() => cart.createSnapshot('é'.repeat(128)), 'LIMIT_EXCEEDED');
    expectCode(() => cart.createSnapshot('tab\there'), 'INVALID_ARGUMENT');
    expectCode(() => cart.createSnapshot('line\nbreak'), 'INVALID_ARGUMENT');
    expectCode(() => cart.createSnapshot('delete\u007f'), 'INVALID_ARGUMENT');
    expectCode(() => cart.createSnapshot(42 as unknown as string), 'INVALID_ARGUMENT');
    expectCode(() => cart.createSnapshot('ok', 'd'.repeat(4097)), 'LIMIT_EXCEEDED');
    expectCode(() => cart.createSnapshot('ok', 7 as unknown as string), 'INVALID_ARGUMENT');
    expectCode(() => cart.deleteSnapshot(''), 'INVALID_ARGUMENT');
    const head = cart.head;
    const longest = cart.createSnapshot('a'.repeat(255));
    expect(longest.name).toHaveLength(255);
    expect(cart.createSnapshot('é'.repeat(127), 'described').description).toBe('described');
    expect(cart.head).toBeGreaterThan(head);
    expect(cart.listSnapshots().map((snapshot) => snapshot.name)).toEqual([
      'a'.repeat(255),
      'é'.repeat(127),
    ]);
  });

  it('refuses a name taken, and names that do not exist', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    cart.createSnapshot('first');
    const head = cart.head;
    expectCode(() => cart.createSnapshot('first'), 'SNAPSHOT_EXISTS');
    expect(cart.head).toBe(head);
    expectCode(() => cart.deleteSnapshot('second'), 'SNAPSHOT_NOT_FOUND');
    expectCode(() => cart.checkout('second'), 'SNAPSHOT_NOT_FOUND');
    expectCode(() => cart.restoreSnapshot('second'), 'SNAPSHOT_NOT_FOUND');
    expectCode(() => cart.diff('second'), 'SNAPSHOT_NOT_FOUND');
    expect(cart.head).toBe(head);
    cart.deleteSnapshot('first');
    expectCode(() => cart.checkout('first'), 'SNAPSHOT_NOT_FOUND');
    expectCode(() => cart.deleteSnapshot('first'), 'SNAPSHOT_NOT_FOUND');
    // A deleted name can be taken again, for the state at that moment.
    cart.writeFile('/a', 'two');
    cart.createSnapshot('first');
    expect(text(cart.checkout('first'), '/a')).toBe('two');
  });

  it('records name, position, offset, time and description', () => {
    const clock = new TestClock();
    const cart = create({ clock });
    cart.createFile('/a', 'one');
    const head = cart.head;
    const at = clock.tick();
    const info = cart.createSnapshot('named', 'a description');
    expect(info).toMatchObject({
      name: 'named',
      offset: head,
      createdAtMs: at,
      description: 'a description',
    });
    expect(info.createdAt.getTime()).toBe(at);
    expect(info.position.offset).toBe(info.offset);
    expect(cart.listSnapshots()).toEqual([info]);
    // The snapshot's own record is what its position names.
    expect(tree(cart.checkout(info.position))).toEqual({ '/a': 'one' });
  });

  it('survive close and open, deletions included', () => {
    const clock = new TestClock();
    let cart = create({ clock, checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    cart.createFile('/a', 'one');
    cart.createSnapshot('kept', 'stays');
    cart.writeFile('/a', 'two');
    cart.createSnapshot('dropped');
    cart.deleteSnapshot('dropped');
    cart.writeFile('/a', 'three');
    const listed = cart.listSnapshots();
    cart.close();
    cart = open({ clock });
    expect(cart.listSnapshots()).toEqual(listed);
    expect(text(cart.checkout('kept'), '/a')).toBe('one');
    expectCode(() => cart.checkout('dropped'), 'SNAPSHOT_NOT_FOUND');
    cart.close();
    // A read-only handle sees them too, and can check out but not change them.
    const reader = open({ readOnly: true });
    expect(reader.listSnapshots()).toEqual(listed);
    expect(text(reader.checkout('kept'), '/a')).toBe('one');
    expectCode(() => reader.createSnapshot('new'), 'READ_ONLY');
    expectCode(() => reader.deleteSnapshot('kept'), 'READ_ONLY');
    expectCode(() => reader.restoreSnapshot('kept'), 'READ_ONLY');
  });
});

describe('a snapshot after many records', () => {
  it('starts from a checkpoint written just before it, so its state replays nothing more', () => {
    // A long interval: without the snapshot's own checkpoint, none would be written here.
    const cart = create({ checkpointIntervalBytes: 2 ** 30, checkpointIntervalRecords: 2 ** 30 });
    for (let index = 0; index < 100; index++) cart.createFile(`/f-${index}`, `${index}`);
    const before = cart.stats().checkpointOffset;
    const head = cart.head;
    const taken = cart.createSnapshot('after-100');
    const root = cart.stats().checkpointOffset;
    expect(root).toBeGreaterThan(before);
    // The root lies between the last write and the snapshot's record.
    expect(root).toBeGreaterThanOrEqual(head);
    expect(taken.offset).toBeGreaterThan(root);
    cart.writeFile('/f-7', 'changed');
    expect(cart.diff('after-100')).toEqual([{ path: '/f-7', change: 'modified' }]);
    expect(text(cart.checkout('after-100'), '/f-7')).toBe('7');
    // A few records later, the next snapshot needs none.
    cart.createSnapshot('soon-after');
    expect(cart.stats().checkpointOffset).toBe(root);
  });

  it('writes no checkpoint inside a transaction', () => {
    const cart = create({ checkpointIntervalBytes: 2 ** 30, checkpointIntervalRecords: 2 ** 30 });
    for (let index = 0; index < 100; index++) cart.createFile(`/f-${index}`, `${index}`);
    const before = cart.stats().checkpointOffset;
    cart.transaction(() => {
      cart.createSnapshot('inside');
    });
    expect(cart.stats().checkpointOffset).toBe(before);
    expect(text(cart.checkout('inside'), '/f-99')).toBe('99');
  });
});

describe('checkout targets', () => {
  it('refuses offsets outside the journal, and numbers that are not offsets', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    const head = cart.head;
    expectCode(() => cart.checkout(head + 1), 'INVALID_ARGUMENT');
    expectCode(() => cart.checkout(-1), 'INVALID_ARGUMENT');
    expectCode(() => cart.checkout(head - 0.5), 'INVALID_ARGUMENT');
    expectCode(() => cart.checkout(Number.NaN), 'INVALID_ARGUMENT');
    expectCode(() => cart.checkout(Number.POSITIVE_INFINITY), 'INVALID_ARGUMENT');
    // The journal's start is before the cartridge's first commit.
    expectCode(() => cart.checkout(JOURNAL_START_OFFSET), 'INVALID_ARGUMENT');
    expect(tree(cart.checkout(head))).toEqual({ '/a': 'one' });
  });

  it('refuses targets of no known kind', () => {
    const cart = create();
    for (const target of [null, undefined, {}, { offset: 1 }, [], true, () => 1]) {
      expectCode(() => cart.checkout(target as unknown as number), 'INVALID_ARGUMENT');
    }
  });

  it('checks that a position names a record of this journal', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    cart.writeFile('/a', 'two');
    const [written, created] = cart.history('/a');
    if (written === undefined || created === undefined) throw new Error('two versions expected');
    expect(text(cart.checkout(created.position), '/a')).toBe('one');
    expect(text(cart.checkout(written.position), '/a')).toBe('two');
    const { offset, sequence } = created.position;
    expectCode(() => cart.checkout(positionOf(offset, sequence + 1)), 'HISTORY_UNAVAILABLE');
    expectCode(() => cart.checkout(positionOf(offset + 1, sequence)), 'HISTORY_UNAVAILABLE');
    expectCode(() => cart.checkout(positionOf(cart.head, sequence)), 'HISTORY_UNAVAILABLE');
    expectCode(() => cart.checkout(positionOf(0, 0)), 'HISTORY_UNAVAILABLE');
    expectCode(() => cart.restoreSnapshot(positionOf(offset, sequence + 1)), 'HISTORY_UNAVAILABLE');
    // A position from another cartridge names nothing here.
    // Uncompressed, so its records lie beyond this cartridge's head.
    const other = create({ compression: 'none' }, 'other.cart');
    other.createFile('/long-enough-to-differ', 'x'.repeat(1000));
    other.writeFile('/long-enough-to-differ', 'y');
    const foreign = other.history('/long-enough-to-differ')[0]?.position;
    if (foreign === undefined) throw new Error('a version expected');
    expect(foreign.offset).toBeGreaterThan(cart.head);
    expectCode(() => cart.checkout(foreign), 'HISTORY_UNAVAILABLE');
  });

  it('finds the state at a date, and refuses dates before creation', () => {
    const clock = new TestClock();
    const cart = create({ clock, checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    const createdAt = clock.ms;
    const first = clock.tick();
    cart.createFile('/a', 'one');
    // Two commits in the same millisecond: a date names both.
    const second = clock.tick();
    cart.writeFile('/a', 'two');
    cart.createFile('/b', 'same time');
    clock.tick();
    cart.writeFile('/a', 'three');
    expectCode(() => cart.checkout(new Date(createdAt - 1)), 'INVALID_ARGUMENT');
    expectCode(() => cart.checkout(new Date(Number.NaN)), 'INVALID_ARGUMENT');
    expect(tree(cart.checkout(new Date(createdAt)))).toEqual({});
    expect(tree(cart.checkout(new Date(first - 1)))).toEqual({});
    expect(tree(cart.checkout(new Date(first)))).toEqual({ '/a': 'one' });
    expect(tree(cart.checkout(new Date(second - 1)))).toEqual({ '/a': 'one' });
    expect(tree(cart.checkout(new Date(second)))).toEqual({ '/a': 'two', '/b': 'same time' });
    expect(tree(cart.checkout(new Date(START_MS * 2)))).toEqual(tree(cart));
  });

  it('never lets commit times run backwards, so dates stay in order', () => {
    const clock = new TestClock();
    const cart = create({ clock });
    const first = clock.tick();
    cart.createFile('/a', 'one');
    // The wall clock is set back: the next commit keeps the time of the last.
    clock.tick(-5000);
    cart.writeFile('/a', 'two');
    const [written, created] = cart.history('/a');
    expect(created?.atMs).toBe(first);
    expect(written?.atMs).toBe(first);
    expect(text(cart.checkout(new Date(first)), '/a')).toBe('two');
  });

  it('at an offset inside a checkpoint, shows the state before it, ending at or before it', () => {
    const cart = create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    cart.createFile('/a', 'one');
    const before = cart.head;
    cart.checkpoint();
    const root = cart.stats().checkpointOffset;
    const after = cart.head;
    expect(root).toBeGreaterThanOrEqual(before);
    for (const target of [root, root + 1, after - 1]) {
      const view = cart.checkout(target);
      expect(view.head).toBeLessThanOrEqual(target);
      expect(tree(view)).toEqual({ '/a': 'one' });
    }
    expect(cart.checkout(after).head).toBe(after);
  });

  it('is refused inside a transaction, as are diff, history and restore', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    cart.createSnapshot('s');
    const head = cart.head;
    cart.transaction(() => {
      cart.writeFile('/a', 'two');
      expectCode(() => cart.checkout(head), 'INVALID_ARGUMENT');
      expectCode(() => cart.checkout('s'), 'INVALID_ARGUMENT');
      expectCode(() => cart.diff('s'), 'INVALID_ARGUMENT');
      expectCode(() => cart.history('/a'), 'INVALID_ARGUMENT');
      expectCode(() => cart.restoreSnapshot('s'), 'INVALID_ARGUMENT');
    });
    // The transaction went on after the refusals and committed its write.
    expect(text(cart, '/a')).toBe('two');
    expect(changes(cart, '/a')).toEqual(['written file', 'created file']);
  });

  it('reads a bounded stretch of journal after many checkpoints', () => {
    const cart = create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    const roots = new Set<number>();
    const heads: number[] = [];
    for (let index = 0; index < 400 && roots.size < 25; index++) {
      cart.createFile(`/d${index % 7}/f${index}`, `content ${index} `.repeat(20));
      heads.push(cart.head);
      roots.add(cart.stats().checkpointOffset);
    }
    expect(roots.size).toBeGreaterThanOrEqual(20);
    const target = heads[Math.floor(heads.length / 2)] as number;
    const view = cart.checkout(target);
    // The view starts from the last root at or before its target: what it replayed is the
    // journal between that root and the target, less than one interval and one commit.
    const start = view.stats().checkpointOffset;
    expect(start).toBeGreaterThan(JOURNAL_START_OFFSET);
    expect(start).toBeLessThanOrEqual(target);
    expect(target - start).toBeLessThan(2 * CHECKPOINT_INTERVAL_BYTES);
    expect(view.stats().fileCount).toBe(Math.floor(heads.length / 2) + 1);
    const index = Math.floor(heads.length / 2);
    expect(text(view, `/d${index % 7}/f${index}`)).toBe(`content ${index} `.repeat(20));
    expect(view.exists(`/d0/f${index + 7}`)).toBe(false);
  });
});

describe('views', () => {
  it('refuse every write with READ_ONLY', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    const view = cart.checkout(cart.head);
    expect(view.readOnly).toBe(true);
    expectCode(() => view.createFile('/b', 'x'), 'READ_ONLY');
    expectCode(() => view.writeFile('/a', 'x'), 'READ_ONLY');
    expectCode(() => view.appendFile('/a', 'x'), 'READ_ONLY');
    expectCode(() => view.deleteFile('/a'), 'READ_ONLY');
    expectCode(() => view.createDir('/d'), 'READ_ONLY');
    expectCode(() => view.rename('/a', '/b'), 'READ_ONLY');
    expectCode(() => view.transaction(() => 1), 'READ_ONLY');
    expect(tree(view)).toEqual({ '/a': 'one' });
  });

  it('answer reads with the same errors as the cartridge', () => {
    const cart = create();
    cart.createFile('/d/a', 'one');
    const view = cart.checkout(cart.head);
    expectCode(() => view.readFile('/missing'), 'ENOENT');
    expectCode(() => view.readFile('/d'), 'EISDIR');
    expectCode(() => view.listDir('/d/a'), 'ENOTDIR');
    expectCode(() => view.readFile('/d/a/below'), 'ENOTDIR');
    expect(view.exists('/d/a/')).toBe(false);
    expect(view.exists('d/./a')).toBe(true);
    expect(view.metadata('/d/a')).toEqual(cart.metadata('/d/a'));
  });

  it('stay valid while the head moves on', () => {
    const cart = create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    cart.createFile('/a', 'one');
    cart.createDir('/d');
    const view = cart.checkout(cart.head);
    const metadata = view.metadata('/a');
    for (let index = 0; index < 60; index++) cart.createFile(`/d/f${index}`, 'x'.repeat(200));
    cart.writeFile('/a', 'two');
    cart.deleteFile('/d/f0');
    cart.checkpoint();
    cart.restoreSnapshot(cart.head);
    expect(tree(view)).toEqual({ '/a': 'one', '/d': 'dir' });
    expect(view.metadata('/a')).toEqual(metadata);
    expect(view.stats()).toMatchObject({ fileCount: 1, directoryCount: 2, head: view.head });
  });

  it('throw CARTRIDGE_CLOSED once the cartridge is closed', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    const view = cart.checkout(cart.head);
    cart.close();
    expectCode(() => view.readFile('/a'), 'CARTRIDGE_CLOSED');
    expectCode(() => view.listDir('/'), 'CARTRIDGE_CLOSED');
    expectCode(() => view.exists('/a'), 'CARTRIDGE_CLOSED');
    expectCode(() => view.metadata('/a'), 'CARTRIDGE_CLOSED');
    expectCode(() => view.stats(), 'CARTRIDGE_CLOSED');
    expectCode(() => cart.checkout(JOURNAL_START_OFFSET + 1), 'CARTRIDGE_CLOSED');
    expectCode(() => cart.history('/a'), 'CARTRIDGE_CLOSED');
    expectCode(() => cart.diff(JOURNAL_START_OFFSET + 1), 'CARTRIDGE_CLOSED');
    expectCode(() => cart.listSnapshots(), 'CARTRIDGE_CLOSED');
    expectCode(() => cart.createSnapshot('late'), 'CARTRIDGE_CLOSED');
  });

  it('are diff targets', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    const view = cart.checkout(cart.head);
    cart.createFile('/b', 'two');
    expect(cart.diff(view)).toEqual([{ path: '/b', change: 'added' }]);
    expect(cart.diff(cart.head, view)).toEqual([{ path: '/b', change: 'removed' }]);
    expect(cart.diff(view, view)).toEqual([]);
  });

  it('of another cartridge are refused by diff, and of a closed one are CARTRIDGE_CLOSED', () => {
    // Two cartridges written alike: their index pages and records lie at the same offsets,
    // so a diff that trusted a page reference across them would find nothing different.
    const [first, second] = ['first.cart', 'second.cart'].map((name) =>
      create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES }, name),
    ) as [Cartridge, Cartridge];
    for (const [cart, letter] of [
      [first, 'a'],
      [second, 'b'],
    ] as const) {
      for (let index = 0; index < 300; index++) cart.createFile(`/x/f${index}`, letter + index);
      cart.checkpoint();
    }
    const view = first.checkout(first.head);
    expectCode(() => second.diff(view), 'INVALID_ARGUMENT');
    expectCode(() => second.diff(second.head, view), 'INVALID_ARGUMENT');
    first.close();
    expectCode(() => second.diff(view), 'CARTRIDGE_CLOSED');
  });
});

describe('restore', () => {
  it('brings back a snapshot and is itself recorded in history', () => {
    const clock = new TestClock();
    const cart = create({ clock });
    cart.createFile('/a', 'one');
    cart.createFile('/keep', 'kept');
    cart.createSnapshot('s');
    clock.tick();
    cart.writeFile('/a', 'two');
    cart.createFile('/new', 'added later');
    cart.deleteFile('/keep');
    const restoredAt = clock.tick();
    const result = cart.restoreSnapshot('s');
    // Three files, and the root, whose modification time the restore sets back.
    expect(result).toMatchObject({ snapshot: 's', changedCount: 4, head: cart.head });
    expect(changes(cart, '/')).toEqual(['restored directory', 'created directory']);
    expect(tree(cart)).toEqual({ '/a': 'one', '/keep': 'kept' });
    expect(cart.diff('s')).toEqual([]);
    expect(changes(cart, '/a')).toEqual(['restored file', 'written file', 'created file']);
    expect(changes(cart, '/new')).toEqual(['deleted file', 'created file']);
    expect(changes(cart, '/keep')).toEqual(['restored file', 'deleted file', 'created file']);
    expect(cart.history('/a')[0]).toMatchObject({ atMs: restoredAt, sizeBytes: 3 });
    // History before the restore stays readable.
    const written = cart.history('/a')[1];
    if (written === undefined) throw new Error('a written version expected');
    expect(text(cart.checkout(written.position), '/a')).toBe('two');
    expect(cart.verify().ok).toBe(true);
  });

  it('of the state it already has changes nothing, and says so', () => {
    const cart = create();
    cart.createFile('/a', 'one');
    cart.createSnapshot('s');
    cart.writeFile('/a', 'two');
    expect(cart.restoreSnapshot('s').changedCount).toBe(1);
    expect(cart.restoreSnapshot('s').changedCount).toBe(0);
    expect(changes(cart, '/a')).toEqual(['restored file', 'written file', 'created file']);
    expect(cart.diff('s')).toEqual([]);
  });

  it('brings back a file deleted and created again, with its metadata', () => {
    const clock = new TestClock();
    const cart = create({ clock });
    cart.createFile('/a', 'original');
    const before = cart.metadata('/a');
    cart.createSnapshot('s');
    clock.tick();
    cart.deleteFile('/a');
    clock.tick();
    cart.createFile('/a', 'impostor');
    expect(cart.metadata('/a').inode).not.toBe(before.inode);
    expect(cart.diff('s')).toEqual([{ path: '/a', change: 'modified' }]);
    cart.restoreSnapshot('s');
    expect(text(cart, '/a')).toBe('original');
    expect(cart.metadata('/a')).toEqual(before);
    expect(changes(cart, '/a')).toEqual([
      'restored file',
      'created file',
      'deleted file',
      'created file',
    ]);
  });

  it('brings back a directory deleted and created again', () => {
    const clock = new TestClock();
    const cart = create({ clock });
    cart.createFile('/d/a', 'one');
    const before = cart.metadata('/d');
    cart.createSnapshot('s');
    clock.tick();
    cart.deleteFile('/d/a');
    cart.deleteFile('/d');
    clock.tick();
    cart.createDir('/d');
    expect(cart.diff('s')).toEqual([
      { path: '/d', change: 'metadata' },
      { path: '/d/a', change: 'removed' },
    ]);
    cart.restoreSnapshot('s');
    expect(tree(cart)).toEqual({ '/d': 'dir', '/d/a': 'one' });
    expect(cart.metadata('/d')).toEqual(before);
    expect(cart.diff('s')).toEqual([]);
    expect(cart.verify().ok).toBe(true);
  });

  it('across a change of kind, file to directory and back', () => {
    const cart = create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    cart.createFile('/k', 'a file');
    cart.createSnapshot('file');
    cart.deleteFile('/k');
    cart.createFile('/k/deep/child', 'below');
    cart.createSnapshot('directory');
    expect(cart.diff('file')).toEqual([
      { path: '/k', change: 'modified' },
      { path: '/k/deep', change: 'added' },
      { path: '/k/deep/child', change: 'added' },
    ]);
    cart.restoreSnapshot('file');
    expect(tree(cart)).toEqual({ '/k': 'a file' });
    expect(changes(cart, '/k')).toEqual([
      'restored file',
      'deleted directory',
      'created directory',
      'deleted file',
      'created file',
    ]);
    cart.restoreSnapshot('directory');
    expect(tree(cart)).toEqual({ '/k': 'dir', '/k/deep': 'dir', '/k/deep/child': 'below' });
    expect(cart.diff('directory')).toEqual([]);
    cart.close();
    const reopened = open();
    expect(tree(reopened)).toEqual({ '/k': 'dir', '/k/deep': 'dir', '/k/deep/child': 'below' });
    expect(reopened.verify().ok).toBe(true);
  });

  it('to an offset, a position or a date', () => {
    const clock = new TestClock();
    const cart = create({ clock });
    cart.createFile('/a', 'one');
    const offset = cart.head;
    const at = clock.tick();
    cart.writeFile('/a', 'two');
    const position = cart.history('/a')[0]?.position;
    if (position === undefined) throw new Error('a version expected');
    clock.tick();
    cart.writeFile('/a', 'three');
    expect(cart.restoreSnapshot(offset)).toMatchObject({ targetHead: offset, snapshot: null });
    expect(text(cart, '/a')).toBe('one');
    cart.restoreSnapshot(position);
    expect(text(cart, '/a')).toBe('two');
    cart.writeFile('/a', 'four');
    cart.restoreSnapshot(new Date(at));
    expect(text(cart, '/a')).toBe('two');
  });
});

describe('diff', () => {
  it('lists what was added, removed and modified, under a prefix', () => {
    const cart = create();
    cart.createFile('/x/a', 'one');
    cart.createFile('/x/b', 'two');
    cart.createFile('/y/c', 'three');
    cart.createFile('/xy', 'four');
    const from = cart.head;
    cart.writeFile('/x/a', 'changed');
    // The same bytes written again are a new write: modified.
    cart.writeFile('/x/b', 'two');
    cart.deleteFile('/y/c');
    cart.createFile('/x/sub/d', 'five');
    cart.appendFile('/xy', '!');
    const all = [
      { path: '/x/a', change: 'modified' },
      { path: '/x/b', change: 'modified' },
      { path: '/x/sub', change: 'added' },
      { path: '/x/sub/d', change: 'added' },
      { path: '/xy', change: 'modified' },
      { path: '/y/c', change: 'removed' },
    ];
    expect(cart.diff(from)).toEqual(all);
    expect(cart.diff(from, undefined, { prefix: '/x' })).toEqual(all.slice(0, 4));
    expect(cart.diff(from, cart.head, { prefix: 'x/sub/' })).toEqual(all.slice(2, 4));
    expect(cart.diff(from, undefined, { prefix: '/x/a' })).toEqual(all.slice(0, 1));
    expect(cart.diff(from, undefined, { prefix: '/y' })).toEqual(all.slice(5));
    expect(cart.diff(from, undefined, { prefix: '/nothing' })).toEqual([]);
    // Reversed, additions are removals.
    expect(cart.diff(cart.head, from, { prefix: '/x/sub' })).toEqual([
      { path: '/x/sub', change: 'removed' },
      { path: '/x/sub/d', change: 'removed' },
    ]);
    expect(cart.diff(from, from)).toEqual([]);
    expectCode(() => cart.diff(from, undefined, 'prefix' as unknown as object), 'INVALID_ARGUMENT');
  });

  it('skips pages both states share, and still finds one change among many', () => {
    const cart = create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    cart.transaction(() => {
      for (let index = 0; index < 2000; index++) cart.createFile(`/many/f${index}`, `${index}`);
    });
    cart.checkpoint();
    const from = cart.head;
    cart.writeFile('/many/f1234', 'changed');
    expect(cart.diff(from)).toEqual([{ path: '/many/f1234', change: 'modified' }]);
    expect(cart.diff(from, undefined, { prefix: '/many/f1' })).toEqual([]);
  });
});

describe('history', () => {
  it('of a deleted path, and of a path created again after deletion', () => {
    const clock = new TestClock();
    const cart = create({ clock });
    const times: number[] = [];
    times.push(clock.tick());
    cart.createFile('/a', 'one');
    times.push(clock.tick());
    cart.appendFile('/a', ' more');
    times.push(clock.tick());
    cart.deleteFile('/a');
    expect(
      cart
        .history('/a')
        .map(({ change, kind, atMs, sizeBytes }) => [change, kind, atMs, sizeBytes]),
    ).toEqual([
      ['deleted', 'file', times[2], 0],
      ['appended', 'file', times[1], 8],
      ['created', 'file', times[0], 3],
    ]);
    cart.createDir('/a');
    cart.deleteFile('/a');
    cart.createFile('/a', 'again');
    expect(changes(cart, '/a')).toEqual([
      'created file',
      'deleted directory',
      'created directory',
      'deleted file',
      'appended file',
      'created file',
    ]);
    expect(cart.history('/never')).toEqual([]);
    expect(changes(cart, '/')).toEqual(['created directory']);
  });

  it('stops at a limit, and names the kind of a deletion the limit cuts after', () => {
    const cart = create();
    cart.createDir('/d');
    cart.deleteFile('/d');
    cart.createFile('/f', 'x');
    cart.writeFile('/f', 'y');
    cart.writeFile('/f', 'z');
    expect(cart.history('/d', { limit: 1 }).map((version) => version.kind)).toEqual(['directory']);
    expect(cart.history('/f', { limit: 2 })).toEqual(cart.history('/f').slice(0, 2));
    expect(cart.history('/f', { limit: 10 })).toHaveLength(3);
    expectCode(() => cart.history('/f', { limit: 0 }), 'INVALID_ARGUMENT');
    expectCode(() => cart.history('/f', { limit: 1.5 }), 'INVALID_ARGUMENT');
    expectCode(() => cart.history('/f', 'all' as unknown as object), 'INVALID_ARGUMENT');
  });

  it('gives positions that check out the state right after each version', () => {
    const cart = create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    for (let index = 0; index < 30; index++) {
      if (index === 0) cart.createFile('/log', `${index};`);
      else cart.appendFile('/log', `${index};`);
      cart.createFile(`/noise/${index}`, 'n'.repeat(300));
    }
    const versions = cart.history('/log');
    expect(versions).toHaveLength(30);
    versions.forEach((version, newest) => {
      const count = 30 - newest;
      const expected = Array.from({ length: count }, (_, index) => `${index};`).join('');
      expect(text(cart.checkout(version.position), '/log')).toBe(expected);
      expect(version.sizeBytes).toBe(expected.length);
    });
  });

  it('survives close and open', () => {
    let cart = create({ checkpointIntervalBytes: CHECKPOINT_INTERVAL_BYTES });
    cart.createFile('/a', 'one');
    cart.writeFile('/a', 'two');
    const before = cart.history('/a');
    cart.close();
    cart = open();
    expect(cart.history('/a')).toEqual(before);
  });
});
