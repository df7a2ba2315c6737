import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Style rules that a reviewer should not have to check by eye (after TigerBeetle's tidy.zig):
 * they fail the build instead.
 */

const SOURCE_ROOT = 'src';

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) files.push(path);
  }
  return files;
}

const files = sourceFiles(SOURCE_ROOT).map((path) => ({ path, text: readFileSync(path, 'utf8') }));

describe('source tidiness', () => {
  it('finds the source files', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it('keeps lines within 100 columns', () => {
    const long = files.flatMap(({ path, text }) =>
      text
        .split('\n')
        .flatMap((line, index) => (line.length > 100 ? [`${path}:${index + 1}`] : [])),
    );
    expect(long).toEqual([]);
  });

  it('has no console output, no any and no default exports in src', () => {
    const offending = files.flatMap(({ path, text }) =>
      [/console\.(log|error|warn)/, /:\s*any\b|<any>|as any\b/, /export default/]
        .filter((pattern) => pattern.test(text))
        .map((pattern) => `${path}: ${pattern.source}`),
    );
    expect(offending).toEqual([]);
  });

  it('imports node:fs only inside the I/O seam (and the CLI and the loader of the package)', () => {
    // The CLI is a program over host files; the loader reads the package's own engine bundle
    // and code cache before any engine code exists to have a seam.
    const outside = files.filter(
      ({ path, text }) =>
        /from 'node:fs'/.test(text) &&
        !path.includes(join('journal', 'io')) &&
        !path.startsWith(join(SOURCE_ROOT, 'cli')) &&
        !path.startsWith(join(SOURCE_ROOT, 'loader')),
    );
    expect(outside.map(({ path }) => path)).toEqual([]);
  });

  it('uses kebab-case file names', () => {
    const badNames = files.filter(
      ({ path }) => !/^[a-z0-9]+(-[a-z0-9]+)*\.ts$/.test(path.split(/[\\/]/).pop() ?? ''),
    );
    expect(badNames.map(({ path }) => path)).toEqual([]);
  });
});
