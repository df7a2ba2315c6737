import { describe, expect, it } from 'vitest';
import { Cartridge, MemoryStorage, canonicalPath } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Names that could forge a listing are refused; a trailing slash means a directory, as in
 * POSIX; and one name cannot exist twice in two Unicode spellings (names are normalised to
 * NFC, then compared as stored).
 */

const FORGING_NAMES: readonly [string, string][] = [
  ['NUL', '/a\u0000b'],
  ['newline', '/line\nbreak'],
  ['carriage return', '/a\rb'],
  ['tab', '/a\tb'],
  ['ESC (ANSI colours)', '/\u001b[31mred'],
  ['DEL', '/a\u007fb'],
  ['a C1 control (CSI)', '/a\u009bb'],
  ['right-to-left override', '/txt.\u202eexe'],
  ['left-to-right embedding', '/a\u202ab'],
  ['pop directional formatting', '/a\u202cb'],
  ['first strong isolate', '/a\u2068b'],
  ['pop directional isolate', '/a\u2069b'],
  ['right-to-left mark', '/a\u200fb'],
  ['left-to-right mark', '/a\u200eb'],
  ['Arabic letter mark', '/a\u061cb'],
];

describe('names that could forge a listing', () => {
  it.each(FORGING_NAMES)('%s is refused with EINVAL everywhere', (_label, path) => {
    expectCode(() => canonicalPath(path), 'EINVAL');
    const cartridge = Cartridge.memory();
    expectCode(() => cartridge.createFile(path, 'x'), 'EINVAL');
    expectCode(() => cartridge.createDir(path), 'EINVAL');
    expectCode(() => cartridge.readFile(path), 'EINVAL');
    expectCode(() => cartridge.exists(path), 'EINVAL');
    expect(cartridge.listDir('/')).toEqual([]);
    cartridge.close();
  });

  it('keeps ordinary non-ASCII names, spaces and emoji', () => {
    const cartridge = Cartridge.memory();
    for (const name of ['/日本語', '/résumé', '/ spaced ', '/family 👩‍👩‍👧', '/עברית', '/عربي']) {
      cartridge.createFile(name, name);
      expect(cartridge.readFile(name).toString()).toBe(name);
    }
    cartridge.close();
  });
});

describe('a trailing slash names a directory', () => {
  it('refuses file operations on /file/ with ENOTDIR', () => {
    const cartridge = Cartridge.memory();
    cartridge.createFile('/plain', 'content');
    for (const spelling of ['/plain/', '/plain/.', '/plain//']) {
      expectCode(() => cartridge.readFile(spelling), 'ENOTDIR');
      expectCode(() => cartridge.writeFile(spelling, 'x'), 'ENOTDIR');
      expectCode(() => cartridge.appendFile(spelling, 'x'), 'ENOTDIR');
      expectCode(() => cartridge.metadata(spelling), 'ENOTDIR');
      expectCode(() => cartridge.deleteFile(spelling), 'ENOTDIR');
      expectCode(() => cartridge.createFile(spelling, 'x'), 'ENOTDIR');
      expectCode(() => cartridge.listDir(spelling), 'ENOTDIR');
      expect(cartridge.exists(spelling)).toBe(false);
    }
    expect(cartridge.readFile('/plain').toString()).toBe('content');
    cartridge.close();
  });

  it('refuses to create a file through a trailing slash with EISDIR', () => {
    const cartridge = Cartridge.memory();
    expectCode(() => cartridge.createFile('/newfile/', 'x'), 'EISDIR');
    expect(cartridge.exists('/newfile')).toBe(false);
    cartridge.close();
  });

  it('still accepts a trailing slash on a directory', () => {
    const cartridge = Cartridge.memory();
    cartridge.createDir('/dir/');
    cartridge.createFile('/dir/file', 'x');
    expect(cartridge.listDir('/dir/')).toEqual(['file']);
    expect(cartridge.exists('/dir/')).toBe(true);
    expect(cartridge.metadata('/dir/').type).toBe('directory');
    expectCode(() => cartridge.readFile('/dir/'), 'EISDIR');
    cartridge.deleteFile('/dir/file');
    cartridge.deleteFile('/dir/');
    expect(cartridge.exists('/dir')).toBe(false);
    cartridge.close();
  });
});

describe('Unicode normalisation: one name, one entry', () => {
  const nfc = '/caf\u00e9.txt';
  const nfd = '/cafe\u0301.txt';

  it('stores and finds a name by either spelling, as NFC', () => {
    const cartridge = Cartridge.memory();
    cartridge.createFile(nfd, 'decomposed');
    expect(cartridge.listDir('/')).toEqual(['caf\u00e9.txt']);
    expect(cartridge.readFile(nfc).toString()).toBe('decomposed');
    expectCode(() => cartridge.createFile(nfc, 'composed'), 'EEXIST');
    expect(cartridge.listDir('/')).toHaveLength(1);
    expect(canonicalPath(nfd)).toBe(nfc);
    cartridge.close();
  });

  it('keeps the NFC name across a reopen', () => {
    const storage = new MemoryStorage();
    const cartridge = Cartridge.create('/n.cart', { storage });
    cartridge.createDir('/Ame\u0301lie');
    cartridge.createFile('/Ame\u0301lie/no\u0308te', 'x');
    cartridge.close();
    const reopened = Cartridge.open('/n.cart', { storage });
    expect(reopened.listDir('/')).toEqual(['Am\u00e9lie']);
    expect(reopened.listDir('/Am\u00e9lie')).toEqual(['n\u00f6te']);
    expect(reopened.readFile('/Ame\u0301lie/no\u0308te').toString()).toBe('x');
    reopened.close();
  });
});
