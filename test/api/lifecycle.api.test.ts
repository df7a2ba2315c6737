import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * The lifecycle habits better-sqlite3 users expect: `using` closes, `path`, `closed` and
 * `inTransaction` getters, and a short summary from `console.log`.
 */

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-lifecycle-'));
});

afterEach(() => rmSync(directory, { recursive: true, force: true }));

describe('lifecycle', () => {
  it('closes at the end of a using block, and a second dispose does nothing', () => {
    const path = join(directory, 'using.cart');
    let kept: Cartridge | undefined;
    {
      using cartridge = Cartridge.create(path);
      cartridge.createFile('/a', 'b');
      kept = cartridge;
      expect(cartridge.closed).toBe(false);
    }
    expect(kept.closed).toBe(true);
    kept[Symbol.dispose]();
    expectCode(() => kept?.readFile('/a'), 'CARTRIDGE_CLOSED');
    // The lock was given back: the file opens for writing again.
    const again = Cartridge.open(path);
    expect(again.readFile('/a').toString()).toBe('b');
    again.close();
  });

  it('names its path and says whether a transaction runs', () => {
    const path = join(directory, 'getters.cart');
    const cartridge = Cartridge.create(path);
    expect(cartridge.path).toBe(path);
    expect(Cartridge.memory().path).toBeNull();
    expect(cartridge.inTransaction).toBe(false);
    cartridge.transaction(() => expect(cartridge.inTransaction).toBe(true));
    expect(cartridge.inTransaction).toBe(false);
    cartridge.close();
  });

  it('prints a short summary, not its internals', () => {
    const cartridge = Cartridge.create(join(directory, 'print.cart'));
    const printed = inspect(cartridge);
    expect(printed).toMatch(/^Cartridge \{ .*print\.cart, head \d+ \}$/);
    cartridge.close();
    expect(inspect(cartridge)).toMatch(/closed \}$/);
  });
});
