import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/engine/cartridge.js';
import { CARTRIDGE_ERROR_CODES } from '../../src/errors.js';

/**
 * docs/API.md must keep up with the code: every error code has its own section, and every
 * public member of `Cartridge` has a heading. The public members are read from the source
 * (TypeScript `private` members exist at runtime too, so the prototype alone cannot tell them
 * apart), then cross-checked against the runtime class so that the parse cannot drift silently.
 */

const API_DOC = readFileSync(fileURLToPath(new URL('../../docs/API.md', import.meta.url)), 'utf8');
const CARTRIDGE_SOURCE = readFileSync(
  fileURLToPath(new URL('../../src/engine/cartridge.ts', import.meta.url)),
  'utf8',
);

const MEMBER_LINE = /^ {2}(static )?(get )?([a-zA-Z]+)(<[^>]*>)?\(/;
const PRIVATE_MEMBER_LINE = /^ {2}private (?:static )?(?:readonly )?(?:get )?([a-zA-Z]+)/;

function sourceLines(): string[] {
  return CARTRIDGE_SOURCE.split(/\r?\n/);
}

/** Public members of `Cartridge`: member lines of the class body not marked `private`. */
function publicMembers(): { name: string; isStatic: boolean }[] {
  const members: { name: string; isStatic: boolean }[] = [];
  for (const line of sourceLines()) {
    if (line.includes('private')) continue;
    const match = MEMBER_LINE.exec(line);
    if (match === null) continue;
    const name = match[3] as string;
    if (name === 'constructor' || name.startsWith('_')) continue;
    members.push({ name, isStatic: match[1] !== undefined });
  }
  return members;
}

function privateMemberNames(): Set<string> {
  const names = new Set<string>();
  for (const line of sourceLines()) {
    const match = PRIVATE_MEMBER_LINE.exec(line);
    if (match !== null) names.add(match[1] as string);
  }
  return names;
}

function headings(): string[] {
  return API_DOC.split(/\r?\n/).filter((line) => /^#{1,6} /.test(line));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** GitHub's heading anchors: lower case, punctuation and symbols dropped, spaces to hyphens. */
function slugOf(heading: string): string {
  return heading
    .replace(/^#{1,6} /, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

describe('docs/API.md', () => {
  it('has a "### `CODE`" heading for every code in CARTRIDGE_ERROR_CODES', () => {
    const lines = new Set(API_DOC.split(/\r?\n/).map((line) => line.trimEnd()));
    const missing = CARTRIDGE_ERROR_CODES.filter((code) => !lines.has(`### \`${code}\``));
    expect(missing).toEqual([]);
  });

  it('documents no error code that does not exist', () => {
    const documented = API_DOC.split(/\r?\n/)
      .map((line) => /^### `([A-Z_]+)`$/.exec(line.trimEnd())?.[1])
      .filter((code): code is string => code !== undefined);
    expect(new Set(documented)).toEqual(new Set(CARTRIDGE_ERROR_CODES));
    expect(documented).toHaveLength(CARTRIDGE_ERROR_CODES.length);
  });

  it('finds the public members of Cartridge in its source, and they exist at runtime', () => {
    const members = publicMembers();
    // Members every version of the API has; guards against a parse that finds nothing.
    for (const name of ['create', 'open', 'readFile', 'transaction', 'close']) {
      expect(members.map((member) => member.name)).toContain(name);
    }
    for (const { name, isStatic } of members) {
      const owner: object = isStatic ? Cartridge : Cartridge.prototype;
      expect(Object.getOwnPropertyNames(owner), `${isStatic ? 'Cartridge' : 'prototype'}.${name}`).toContain(name);
    }
  });

  it('covers every runtime member of Cartridge: public ones are parsed, the rest are private', () => {
    const publicNames = new Set(publicMembers().map((member) => member.name));
    const privateNames = privateMemberNames();
    const runtimeNames = [
      ...Object.getOwnPropertyNames(Cartridge.prototype),
      ...Object.getOwnPropertyNames(Cartridge).filter((name) => !['length', 'name', 'prototype'].includes(name)),
    ].filter((name) => name !== 'constructor' && !name.startsWith('_'));
    const unaccounted = runtimeNames.filter((name) => !publicNames.has(name) && !privateNames.has(name));
    expect(unaccounted).toEqual([]);
  });

  it('has a heading naming cartridge.NAME or Cartridge.NAME for every public member', () => {
    const all = headings();
    const missing = publicMembers()
      .map((member) => member.name)
      .filter((name) => {
        const pattern = new RegExp(`[cC]artridge\\.${escapeRegExp(name)}(?![A-Za-z0-9_])`);
        return !all.some((heading) => pattern.test(heading));
      });
    expect(missing).toEqual([]);
  });

  it('has table-of-contents links that all point at headings of the page', () => {
    const anchors = new Set<string>();
    const seen = new Map<string, number>();
    for (const heading of headings()) {
      const slug = slugOf(heading);
      const count = seen.get(slug) ?? 0;
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
      seen.set(slug, count + 1);
    }
    const links = [...API_DOC.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1] as string);
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });
});
