import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import { NAME_MAX_BYTES, PATH_DEPTH_MAX, PATH_MAX_BYTES } from '../../../src/limits.js';
import {
  ancestorsOf,
  canonicalPath,
  nameOf,
  parentOf,
  parsePath,
  parsePathInFull,
  ROOT_PATH,
} from '../../../src/path/canonical-path.js';
import { cartridgePathOf } from '../../../src/vfs/fs-arguments.js';
import { thrownBy } from '../../support/expect-code.js';

const codeOf = (action: () => unknown): string => thrownBy(action).code;

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '500', 10) || 500;

describe('parsePath: what the spelling says beyond the key', () => {
  it.each([
    ['/a', false],
    ['/a/', true],
    ['/a/.', true],
    ['/a/b/..', true],
    ['a//', true],
    ['/', true],
    ['.', true],
    ['/a/.b', false],
  ])('%j must name a directory: %s', (input, mustBeDirectory) => {
    expect(parsePath(input).mustBeDirectory).toBe(mustBeDirectory);
    expect(parsePath(input).path).toBe(canonicalPath(input));
  });

  it('refuses every C0 control, DEL, C1 control and bidirectional format character', () => {
    const forbidden = [
      ...Array.from({ length: 0x20 }, (_, code) => code),
      ...Array.from({ length: 0x21 }, (_, index) => 0x7f + index),
      0x061c,
      0x200e,
      0x200f,
      0x202a,
      0x202b,
      0x202c,
      0x202d,
      0x202e,
      0x2066,
      0x2067,
      0x2068,
      0x2069,
    ];
    for (const code of forbidden) {
      expect(
        codeOf(() => canonicalPath(`/a${String.fromCharCode(code)}b`)),
        code.toString(16),
      ).toBe('EINVAL');
    }
    for (const code of [0x20, 0x7e, 0xa0, 0x200d, 0x2065, 0x206a, 0xfeff]) {
      expect(canonicalPath(`/a${String.fromCharCode(code)}b`)).toBe(
        `/a${String.fromCharCode(code)}b`,
      );
    }
  });

  it('normalises names to NFC', () => {
    expect(canonicalPath('/cafe\u0301')).toBe('/caf\u00e9');
    expect(canonicalPath('/\u212b')).toBe('/\u00c5');
    expect(canonicalPath('/caf\u00e9')).toBe('/caf\u00e9');
  });
});

describe('canonicalPath rules', () => {
  it.each([
    ['a.txt', '/a.txt'],
    ['docs/a.txt', '/docs/a.txt'],
    ['/', '/'],
    ['/a/', '/a'],
    ['/./a/./b/.', '/a/b'],
    ['.', '/'],
    ['/a/b/../c', '/a/c'],
    ['/a/../../..', '/'],
    ['../../etc/passwd', '/etc/passwd'],
    ['/..', '/'],
    ['//a///b//', '/a/b'],
    ['a//..//b', '/b'],
    ['/...', '/...'],
    ['/..a/b..', '/..a/b..'],
    ['/a\\b', '/a\\b'],
    ['/ spaced /name ', '/ spaced /name '],
    ['/日本/résumé', '/日本/résumé'],
  ])('%j becomes %j', (input, expected) => {
    expect(canonicalPath(input)).toBe(expected);
  });

  it('refuses NUL, empty and non-string paths with EINVAL', () => {
    expect(codeOf(() => canonicalPath('/a\0b'))).toBe('EINVAL');
    expect(codeOf(() => canonicalPath('\0'))).toBe('EINVAL');
    expect(codeOf(() => canonicalPath(''))).toBe('EINVAL');
    for (const input of [
      undefined,
      null,
      42,
      ['/a'],
      { path: '/a' },
      Buffer.from('/a'),
      Symbol('a'),
    ]) {
      expect(
        codeOf(() => canonicalPath(input)),
        String(typeof input),
      ).toBe('EINVAL');
    }
  });

  it('accepts a name of exactly NAME_MAX_BYTES bytes and refuses one byte more with ENAMETOOLONG', () => {
    expect(canonicalPath('/' + 'a'.repeat(NAME_MAX_BYTES))).toBe('/' + 'a'.repeat(NAME_MAX_BYTES));
    expect(codeOf(() => canonicalPath('/' + 'a'.repeat(NAME_MAX_BYTES + 1)))).toBe('ENAMETOOLONG');
    // The limit is in UTF-8 bytes, not characters: 128 two-byte characters are 256 bytes.
    expect(codeOf(() => canonicalPath('/' + 'é'.repeat(128)))).toBe('ENAMETOOLONG');
    expect(canonicalPath('/' + 'é'.repeat(127))).toBe('/' + 'é'.repeat(127));
  });

  it('refuses a path over PATH_MAX_BYTES with ENAMETOOLONG', () => {
    // 17 names of 250 bytes: every name is fine, the whole is 4267 bytes.
    const segments = Array.from({ length: 17 }, (_, index) => String(index).padEnd(250, 'x'));
    expect(codeOf(() => canonicalPath('/' + segments.join('/')))).toBe('ENAMETOOLONG');
    // Exactly PATH_MAX_BYTES is allowed: 16 names of 255 bytes plus 16 slashes is 4096.
    const fitting =
      '/' + Array.from({ length: 16 }, (_, index) => String(index).padEnd(255, 'y')).join('/');
    expect(Buffer.byteLength(fitting)).toBe(PATH_MAX_BYTES);
    expect(canonicalPath(fitting)).toBe(fitting);
  });

  it('refuses absurdly long inputs even when they would canonicalise short', () => {
    expect(codeOf(() => canonicalPath('/a/..'.repeat(PATH_MAX_BYTES)))).toBe('ENAMETOOLONG');
  });

  it('accepts PATH_DEPTH_MAX segments and refuses one more with LIMIT_EXCEEDED', () => {
    expect(canonicalPath('/a'.repeat(PATH_DEPTH_MAX))).toBe('/a'.repeat(PATH_DEPTH_MAX));
    expect(codeOf(() => canonicalPath('/a'.repeat(PATH_DEPTH_MAX + 1)))).toBe('LIMIT_EXCEEDED');
    // Depth counts what remains after '..', so climbing back makes a deep input fine.
    expect(canonicalPath('/a'.repeat(PATH_DEPTH_MAX + 1) + '/..')).toBe(
      '/a'.repeat(PATH_DEPTH_MAX),
    );
  });

  it('has helpers that agree with the canonical form', () => {
    expect(parentOf('/a/b/c')).toBe('/a/b');
    expect(parentOf('/a')).toBe(ROOT_PATH);
    expect(parentOf(ROOT_PATH)).toBe(ROOT_PATH);
    expect(nameOf('/a/b/c')).toBe('c');
    expect(nameOf(ROOT_PATH)).toBe('');
    expect(ancestorsOf('/a/b/c')).toEqual(['/a', '/a/b']);
    expect(ancestorsOf('/a')).toEqual([]);
  });
});

describe('canonicalPath properties', () => {
  /** Segments drawn so that '.', '..' and empty segments are common. */
  const segment = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom('', '.', '..', '...', 'a', 'b', 'é', ' ', '\\') },
    {
      weight: 3,
      arbitrary: fc.string({ minLength: 1, maxLength: 12 }).filter((text) => !text.includes('\0')),
    },
  );
  const pathLike = fc
    .tuple(fc.boolean(), fc.array(segment, { maxLength: 20 }))
    .map(([absolute, segments]) => (absolute ? '/' : '') + segments.join('/'));

  function checkCanonical(path: string): void {
    expect(path.startsWith('/')).toBe(true);
    if (path === ROOT_PATH) return;
    for (const name of path.slice(1).split('/')) {
      expect(name).not.toBe('');
      expect(name).not.toBe('.');
      expect(name).not.toBe('..');
    }
  }

  it('returns an absolute path without ".", ".." or empty segments, and is idempotent', () => {
    fc.assert(
      fc.property(pathLike, (input) => {
        fc.pre(input.length > 0);
        const once = canonicalPath(input);
        checkCanonical(once);
        expect(canonicalPath(once)).toBe(once);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('either returns a canonical path or throws a typed error, for any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 300 }),
          pathLike,
        ),
        (input) => {
          let once: string;
          try {
            once = canonicalPath(input);
          } catch (error) {
            if (!(error instanceof CartridgeError)) throw error;
            expect(['EINVAL', 'ENAMETOOLONG', 'LIMIT_EXCEEDED']).toContain(error.code);
            return;
          }
          checkCanonical(once);
          expect(canonicalPath(once)).toBe(once);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('gives what the full parse gives, result or error code, through its fast path', () => {
    const outcome = (parse: (input: unknown) => unknown, input: string) => {
      try {
        return { result: parse(input) };
      } catch (error) {
        if (!(error instanceof CartridgeError)) throw error;
        return { code: error.code };
      }
    };
    // Plain ASCII paths near every bound: the fast path's own ground.
    const plainName = fc.stringMatching(/^[ -.0-~]{0,6}$/);
    const plainPath = fc
      .tuple(fc.array(plainName, { maxLength: PATH_DEPTH_MAX + 2 }), fc.constantFrom('', '/', '//'))
      .map(([names, tail]) => `/${names.join('/')}${tail}`);
    const longName = fc
      .integer({ min: NAME_MAX_BYTES - 1, max: NAME_MAX_BYTES + 1 })
      .map((length) => `/a/${'n'.repeat(length)}`);
    const longPath = fc
      .integer({ min: PATH_MAX_BYTES - 2, max: PATH_MAX_BYTES + 2 })
      .map((length) => `/${'p/'.repeat(Math.floor((length - 2) / 2))}z`.slice(0, length));
    const deepPath = fc
      .integer({ min: PATH_DEPTH_MAX - 1, max: PATH_DEPTH_MAX + 1 })
      .map((depth) => '/d'.repeat(depth));
    fc.assert(
      fc.property(
        fc.oneof(plainPath, longName, longPath, deepPath, pathLike, fc.string({ maxLength: 40 })),
        (input) => {
          expect(outcome(parsePath, input)).toEqual(outcome(parsePathInFull, input));
        },
      ),
      { numRuns: NUM_RUNS * 4 },
    );
  });

  it('leaves the facade resolving every path as node:path does, fast path or not', () => {
    // `cartridgePathOf` returns a plain canonical path as it is, without `posix.resolve`: the
    // two must agree on every spelling, plain or not.
    const resolvedByNode = (spelled: string): string => {
      const resolved = posix.resolve('/', spelled);
      return spelled.endsWith('/') && resolved !== '/' ? `${resolved}/` : resolved;
    };
    const segment = fc.oneof(
      fc.stringMatching(/^[ -.0-~]{0,5}$/),
      fc.constantFrom('.', '..', '', 'é', 'a\\b'),
    );
    const spelling = fc
      .tuple(fc.boolean(), fc.array(segment, { maxLength: 8 }), fc.constantFrom('', '/', '//'))
      .map(([absolute, names, tail]) => `${absolute ? '/' : ''}${names.join('/')}${tail}`)
      .filter((spelled) => spelled.length > 0);
    fc.assert(
      fc.property(spelling, (spelled) => {
        expect(cartridgePathOf(spelled, 'open')).toBe(resolvedByNode(spelled));
      }),
      { numRuns: NUM_RUNS * 4 },
    );
  });

  it('treats a relative path as taken from the root', () => {
    fc.assert(
      fc.property(pathLike, (input) => {
        fc.pre(input.length > 0 && !input.startsWith('/'));
        expect(canonicalPath(input)).toBe(canonicalPath('/' + input));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
