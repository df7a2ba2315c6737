import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { FULL_CHECK_INTERVAL_MS } from '../../src/engine/file-identity.js';
import {
  Cartridge,
  type Durability,
  MemoryStorage,
  NodeStorage,
  type PathStatus,
} from '../../src/index.js';
import { MAPPED_WRITES_AVAILABLE } from '../../src/journal/io/mapped-tail.js';
import { pathWatchAvailable } from '../support/path-watch-probe.js';
import { codeThrownBy, expectCode } from '../support/expect-code.js';

/**
 * The file changed underneath an open writer: unlinked, renamed over, moved away, truncated,
 * extended by someone else, or its directory removed. In every durability mode the next commit
 * (or the close) fails with FILE_CHANGED, nothing more is acknowledged, and the cartridge is
 * poisoned; what was acknowledged before the change is still in the file where the file still
 * exists.
 */

const MODES: readonly Durability[] = ['full', 'normal', 'off'];

interface Scene {
  readonly directory: string;
  readonly path: string;
}

type Action = (scene: Scene) => void;

const ACTIONS: Record<string, Action> = {
  unlink: ({ path }) => unlinkSync(path),
  'rename over': ({ directory, path }) => {
    const other = join(directory, 'other.cart');
    Cartridge.create(other).close();
    renameSync(other, path);
  },
  'move away': ({ directory, path }) => renameSync(path, join(directory, 'moved.cart')),
  truncate: ({ path }) => truncateSync(path, 8192),
  'append by another writer': ({ path }) => appendFileSync(path, Buffer.alloc(100, 7)),
  'remove the directory': ({ directory }) => rmSync(directory, { recursive: true, force: true }),
  'move the directory': ({ directory }) => renameSync(directory, `${directory}-moved`),
  'move the directory and put another in its place': ({ directory, path }) => {
    renameSync(directory, `${directory}-moved`);
    mkdirSync(directory);
    Cartridge.create(path).close();
  },
};

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cartridge-changed-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function sceneIn(name: string): Scene {
  const directory = join(root, name.replaceAll(' ', '-'));
  mkdirSync(directory);
  return { directory, path: join(directory, 'a.cart') };
}

describe.each(MODES)('a file changed under the writer, durability %s', (durability) => {
  for (const [name, action] of Object.entries(ACTIONS)) {
    it(`${name}: the next commit fails typed and poisons; close reports it`, () => {
      const scene = sceneIn(`${durability}-${name}`);
      const cartridge = Cartridge.create(scene.path, { durability });
      cartridge.createFile('/before', 'acknowledged before the change');
      cartridge.flush();
      action(scene);
      expectCode(() => cartridge.createFile('/after', 'never acknowledged'), 'FILE_CHANGED');
      expect(cartridge.poisoned).toBe(true);
      expect(cartridge.exists('/after')).toBe(false);
      expectCode(() => cartridge.createFile('/later', 'x'), 'POISONED');
      expectCode(() => cartridge.flush(), 'POISONED');
      expectCode(() => cartridge.close(), 'POISONED');
      // The handle is released: a second close does nothing.
      cartridge.close();
    });

    it(`${name}: close without a further commit reports the change`, () => {
      const scene = sceneIn(`${durability}-${name}-close`);
      const cartridge = Cartridge.create(scene.path, { durability });
      cartridge.createFile('/before', 'acknowledged before the change');
      action(scene);
      expectCode(() => cartridge.close(), 'FILE_CHANGED');
      cartridge.close();
    });
  }

  it('rename over: the replacing cartridge is untouched and opens clean', () => {
    const scene = sceneIn(`${durability}-untouched`);
    const cartridge = Cartridge.create(scene.path, { durability });
    cartridge.createFile('/mine', 'mine');
    ACTIONS['rename over']?.(scene);
    expectCode(() => cartridge.createFile('/lost', 'x'), 'FILE_CHANGED');
    expectCode(() => cartridge.close(), 'POISONED');
    const reopened = Cartridge.open(scene.path);
    expect(reopened.listDir('/')).toEqual([]);
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });

  it('move away: what was acknowledged before the move is in the moved file', () => {
    const scene = sceneIn(`${durability}-moved`);
    const cartridge = Cartridge.create(scene.path, { durability });
    cartridge.createFile('/kept', 'kept');
    cartridge.flush();
    ACTIONS['move away']?.(scene);
    expect(codeThrownBy(() => cartridge.createFile('/lost', 'x'))).toBe('FILE_CHANGED');
    expect(codeThrownBy(() => cartridge.close())).toBe('POISONED');
    const moved = Cartridge.open(join(scene.directory, 'moved.cart'));
    expect(moved.readFile('/kept').toString()).toBe('kept');
    expect(moved.exists('/lost')).toBe(false);
    expect(moved.verify().ok).toBe(true);
    moved.close();
  });
});

/** A real storage that counts the stats the writer's file check makes. */
class CountingStorage extends NodeStorage {
  statCount = 0;

  override statPath(path: string): PathStatus | undefined {
    this.statCount++;
    return super.statPath(path);
  }
}

/** A clock whose monotonic time moves only when told. */
function steppedClock(): Clock & { advance(ms: number): void } {
  let nowMs = 0;
  return {
    now: () => Date.now(),
    nowMs: () => nowMs,
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

const watched = pathWatchAvailable() && MAPPED_WRITES_AVAILABLE;

describe.skipIf(!watched)('a writer whose path is watched (ARCHITECTURE 86)', () => {
  it("stats its path only after something happened, and at least once a second ('off')", () => {
    const scene = sceneIn('watched-counts');
    const storage = new CountingStorage();
    const clock = steppedClock();
    const cartridge = Cartridge.create(scene.path, { storage, durability: 'off', clock });
    for (let index = 0; index < 200; index++) cartridge.createFile(`/f${index}`, 'x'.repeat(100));
    // The create's own header and zero writes bring a stat or two, the commits none.
    const afterCommits = storage.statCount;
    expect(afterCommits).toBeLessThanOrEqual(4);
    // A harmless change (a chmod) brings one stat, and the commit goes on.
    chmodSync(scene.path, 0o600);
    cartridge.createFile('/after-chmod', 'ok');
    expect(storage.statCount).toBe(afterCommits + 1);
    cartridge.createFile('/quiet-again', 'ok');
    expect(storage.statCount).toBe(afterCommits + 1);
    // A second without a stat brings one, whatever the watch says.
    clock.advance(FULL_CHECK_INTERVAL_MS);
    cartridge.createFile('/a-second-later', 'ok');
    expect(storage.statCount).toBe(afterCommits + 2);
    cartridge.close();
    const reopened = Cartridge.open(scene.path);
    expect(reopened.readFile('/a-second-later').toString()).toBe('ok');
    reopened.close();
  });

  it("stats every commit in 'full', whose writes the watch would report", () => {
    const scene = sceneIn('watched-full');
    const storage = new CountingStorage();
    const cartridge = Cartridge.create(scene.path, { storage, durability: 'full' });
    const before = storage.statCount;
    for (let index = 0; index < 20; index++) cartridge.createFile(`/f${index}`, 'x');
    expect(storage.statCount - before).toBeGreaterThanOrEqual(20);
    cartridge.close();
  });
});

describe('a file removed from a memory storage', () => {
  it('fails the next commit with FILE_CHANGED', () => {
    const storage = new MemoryStorage();
    const cartridge = Cartridge.create('/m.cart', { storage });
    cartridge.createFile('/x', 'x');
    storage.remove('/m.cart');
    expectCode(() => cartridge.writeFile('/x', 'y'), 'FILE_CHANGED');
    expect(cartridge.readFile('/x').toString()).toBe('x');
    expectCode(() => cartridge.close(), 'POISONED');
  });
});
