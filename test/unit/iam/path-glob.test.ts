import { describe, expect, it } from 'vitest';
import { compilePathGlob as compileGlob } from '../../../src/iam/path-glob.js';
import { expectCode } from '../../support/expect-code.js';

/** Globs over canonical paths: `*` and `?` stay in a segment, `**` spans whole segments. */
describe('compileGlob', () => {
  const cases: [string, string, boolean][] = [
    ['/calls/**', '/calls', true],
    ['/calls/**', '/calls/a', true],
    ['/calls/**', '/calls/2026/11/a.json', true],
    ['/calls/**', '/callsx', false],
    ['/calls/**', '/other/calls/a', false],
    ['/docs/*.md', '/docs/readme.md', true],
    ['/docs/*.md', '/docs/sub/readme.md', false],
    ['/docs/*.md', '/docs/.hidden.md', true],
    ['/docs/*.md', '/docs/readme.mdx', false],
    ['/**/*.txt', '/a.txt', true],
    ['/**/*.txt', '/a/b/c.txt', true],
    ['/**/*.txt', '/a/b/c.txt/d', false],
    ['/a/?.log', '/a/1.log', true],
    ['/a/?.log', '/a/12.log', false],
    ['/a/b', '/a/b', true],
    ['/a/b', '/a/b/c', false],
    ['/', '/', true],
    ['/', '/a', false],
    // `*` always stands for one name: the root has none.
    ['/*', '/', false],
    ['/**', '/', true],
    // Regular-expression characters in a pattern are literal.
    ['/a+(b)/[c].txt', '/a+(b)/[c].txt', true],
    ['/a.b', '/axb', false],
  ];
  it.each(cases)('%s matches %s: %s', (pattern, path, expected) => {
    expect(compileGlob(pattern)(path)).toBe(expected);
  });

  it('canonicalises the pattern as paths are, so no spelling escapes it', () => {
    expect(compileGlob('/calls/../secret/*')('/secret/x')).toBe(true);
    expect(compileGlob('//calls/./**')('/calls/a')).toBe(true);
  });

  it('refuses relative patterns and a ** inside a segment', () => {
    expectCode(() => compileGlob('calls/**'), 'INVALID_ARGUMENT');
    expectCode(() => compileGlob('/calls/a**'), 'INVALID_ARGUMENT');
  });
});
