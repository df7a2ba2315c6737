import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeStorage } from '../../../src/journal/io/node-storage.js';
import { type PathWatch, watchPath } from '../../../src/journal/io/path-watch.js';
import { pathWatchAvailable } from '../../support/path-watch-probe.js';

/**
 * The watch a writer asks before its per-commit `stat` (src/journal/io/path-watch.ts): quiet
 * while nothing happens to the file or the names leading to it, and never quiet after any change
 * the `stat` would have seen: written or cut by another program, unlinked, replaced, moved, its
 * directory moved. Writes through a mapping of the file (the writer's own commits) are quiet.
 */

const WATCHABLE = pathWatchAvailable();

describe.skipIf(!WATCHABLE)('a watch on a path', () => {
  let root: string;
  let directory: string;
  let path: string;
  let watch: PathWatch;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'path-watch-'));
    directory = join(root, 'inner');
    mkdirSync(directory);
    path = join(directory, 'watched.bin');
    writeFileSync(path, Buffer.alloc(8192));
    const opened = watchPath(path);
    expect(opened).toBeDefined();
    watch = opened as PathWatch;
  });
  afterEach(() => {
    watch.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is quiet while nothing happens, and when other names in its directories change', () => {
    expect(watch.poll()).toBe('quiet');
    writeFileSync(join(directory, 'neighbour.bin'), 'x');
    unlinkSync(join(directory, 'neighbour.bin'));
    mkdirSync(join(root, 'sibling'));
    expect(watch.poll()).toBe('quiet');
  });

  it('says look again after another program writes or cuts the file, then is quiet', () => {
    appendFileSync(path, 'more');
    expect(watch.poll()).toBe('look-again');
    expect(watch.poll()).toBe('quiet');
    truncateSync(path, 100);
    expect(watch.poll()).toBe('look-again');
    chmodSync(path, 0o600);
    expect(watch.poll()).toBe('look-again');
    expect(watch.poll()).toBe('quiet');
  });

  const gone: Record<string, () => void> = {
    unlinked: () => unlinkSync(path),
    'renamed over': () => {
      writeFileSync(join(directory, 'other.bin'), 'other');
      renameSync(join(directory, 'other.bin'), path);
    },
    'moved away': () => renameSync(path, join(directory, 'moved.bin')),
    'its directory moved': () => renameSync(directory, join(root, 'elsewhere')),
    'a directory above moved': () => renameSync(root, `${root}-moved`),
  };
  for (const [name, act] of Object.entries(gone)) {
    it(`is never quiet once the file is ${name}`, () => {
      act();
      expect(watch.poll()).not.toBe('quiet');
      if (name === 'a directory above moved') renameSync(`${root}-moved`, root);
    });
  }

  it('is quiet for writes through a mapping of the file', () => {
    const file = new NodeStorage().open(path, { create: false, truncate: false, readOnly: false });
    try {
      if (file.writeInPlace?.() !== true) return;
      expect(watch.poll()).toBe('quiet');
      file.write([Buffer.from('a commit')], 4096);
      expect(watch.poll()).toBe('quiet');
      // The same bytes through pwritev (growing the file) are a change it reports.
      file.write([Buffer.from('grows')], 8192);
      expect(watch.poll()).toBe('look-again');
    } finally {
      file.close();
    }
  });

  it('shares one instance: each file has its own verdict, and closing some keeps the rest', () => {
    const others = Array.from({ length: 200 }, (_, index) => {
      const otherPath = join(directory, `other-${index}.bin`);
      writeFileSync(otherPath, 'x');
      const opened = watchPath(otherPath);
      // More watches than the default 128 inotify instances per user: they share one.
      expect(opened).toBeDefined();
      return opened as PathWatch;
    });
    expect(watch.poll()).toBe('quiet');
    appendFileSync(join(directory, 'other-7.bin'), 'changed');
    expect(others[7]?.poll()).toBe('look-again');
    expect(others[8]?.poll()).toBe('quiet');
    expect(watch.poll()).toBe('quiet');
    // Closing every other watch keeps this one's directories watched.
    for (const other of others) other.close();
    renameSync(directory, join(root, 'elsewhere'));
    expect(watch.poll()).toBe('gone');
  });

  it('answers look-again without reading after its owner says it wrote the file itself', () => {
    const owned = watchPath(path);
    expect(owned).toBeDefined();
    try {
      owned?.wroteItself();
      expect(owned?.poll()).toBe('look-again');
      // Nothing was written, so the kernel has nothing: quiet.
      expect(owned?.poll()).toBe('quiet');
      appendFileSync(path, 'by the owner');
      owned?.wroteItself();
      expect(owned?.poll()).toBe('look-again');
      // The write's own event is read later: look again once more, then quiet.
      expect(owned?.poll()).toBe('look-again');
      expect(owned?.poll()).toBe('quiet');
    } finally {
      owned?.close();
    }
  });

  it('is gone once closed', () => {
    watch.close();
    expect(watch.poll()).toBe('gone');
  });

  it('is not given for a path with a symbolic link on the way', () => {
    const link = join(root, 'link');
    symlinkSync(directory, link);
    expect(watchPath(join(link, 'watched.bin'))).toBeUndefined();
  });
});
