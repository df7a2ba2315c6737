import {
  appendFileSync,
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
import { Cartridge, type Durability, MemoryStorage } from '../../src/index.js';
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
