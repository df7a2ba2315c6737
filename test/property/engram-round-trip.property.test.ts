import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cartridge, Engram, type EngramCompression } from '../../src/index.js';

/**
 * Round trip: a random tree (nested directories, empty ones included, files of every size from
 * empty to several data records, compressible or not, non-ASCII names) frozen with a random
 * codec, checked by `verify`, thawed into a new cartridge and compared entry by entry with the
 * original; the archive's view must answer the same reads too.
 *
 * `PROPERTY_RUNS` sets the number of runs, `PROPERTY_SEED` (and `PROPERTY_PATH`) replay one;
 * the seed is printed at the start, and fast-check prints it with the path of a failure.
 */

const DEFAULT_RUNS = 25;
const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '', 10) || DEFAULT_RUNS;
const SEED_TEXT = process.env['PROPERTY_SEED'];
const SEED = SEED_TEXT === undefined ? Math.floor(Math.random() * 0x7fffffff) : Number(SEED_TEXT);
const REPLAY_PATH = process.env['PROPERTY_PATH'];

const NAMES = ['a', 'b', 'data', 'Ünï', 'файл', 'x.txt', 'y.json', 'z.bin', 'img.png', 'n o'];

interface FileSpec {
  readonly kind: 'file';
  readonly segments: readonly string[];
  readonly sizeBytes: number;
  readonly seed: number;
  readonly compressible: boolean;
}

interface DirectorySpec {
  readonly kind: 'directory';
  readonly segments: readonly string[];
}

const segmentsArbitrary = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 4 });

const entryArbitrary: fc.Arbitrary<FileSpec | DirectorySpec> = fc.oneof(
  fc.record({
    kind: fc.constant('file' as const),
    segments: segmentsArbitrary,
    sizeBytes: fc.oneof(
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 4000, max: 20_000 }),
      fc.integer({ min: 1_000_000, max: 2_500_000 }),
    ),
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    compressible: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('directory' as const), segments: segmentsArbitrary }),
);

function contentOf(spec: FileSpec): Buffer {
  const bytes = Buffer.alloc(spec.sizeBytes);
  let state = spec.seed | 1;
  for (let index = 0; index < bytes.length; index++) {
    if (spec.compressible) bytes[index] = 97 + ((index * 7 + (spec.seed & 3)) % 13);
    else {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      bytes[index] = state & 0xff;
    }
  }
  return bytes;
}

/** Builds the tree; entries that clash with earlier ones (a file where a directory is) are skipped. */
function build(cart: Cartridge, specs: readonly (FileSpec | DirectorySpec)[]): void {
  for (const spec of specs) {
    const path = `/${spec.segments.join('/')}`;
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    try {
      if (parent !== '/' && !cart.exists(parent)) cart.createDir(parent, { recursive: true });
      if (cart.exists(path)) continue;
      if (spec.kind === 'directory') cart.createDir(path);
      else cart.createFile(path, contentOf(spec));
    } catch (error) {
      // A file on the way (ENOTDIR, EEXIST) only means this random entry does not fit the tree.
      const code = (error as { code?: string }).code;
      if (code !== 'ENOTDIR' && code !== 'EEXIST' && code !== 'EISDIR') throw error;
    }
  }
}

/** Every entry under `/`: directories as null, files with their content. */
function snapshotOf(reader: {
  listDir(path: string): string[];
  metadata(path: string): { type: 'file' | 'directory' };
  readFile(path: string): Buffer;
}): Map<string, Buffer | null> {
  const entries = new Map<string, Buffer | null>();
  const pending = ['/'];
  while (pending.length > 0) {
    const directory = pending.pop() as string;
    for (const name of reader.listDir(directory)) {
      const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
      if (reader.metadata(path).type === 'directory') {
        entries.set(path, null);
        pending.push(path);
      } else entries.set(path, reader.readFile(path));
    }
  }
  return entries;
}

/** Compares with Buffer.equals: a deep equality over megabytes of bytes takes minutes. */
function expectSameTree(actual: Map<string, Buffer | null>, expected: Map<string, Buffer | null>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [path, content] of expected) {
    const found = actual.get(path);
    if (content === null) expect(found, path).toBeNull();
    else expect(found?.equals(content), path).toBe(true);
  }
}

describe('Engram round trip property', () => {
  it('thaws what it froze: the same tree, the same bytes', () => {
    console.log(`engram round trip: PROPERTY_SEED=${SEED}`);
    const directory = mkdtempSync(join(tmpdir(), 'cartridge-engram-property-'));
    let run = 0;
    try {
      fc.assert(
        fc.property(
          fc.array(entryArbitrary, { minLength: 0, maxLength: 30 }),
          fc.constantFrom<EngramCompression>('auto', 'zstd', 'lz4', 'none'),
          (specs, compression) => {
            run++;
            const cart = Cartridge.create(join(directory, `source-${run}.cart`));
            const archivePath = join(directory, `frozen-${run}.eng`);
            const thawedPath = join(directory, `thawed-${run}.cart`);
            try {
              build(cart, specs);
              const expected = snapshotOf(cart);
              cart.freeze(archivePath, { name: 'p', version: '1', author: 'p', compression });
              const engram = Engram.open(archivePath);
              try {
                expect(engram.verify().fileMismatches).toEqual([]);
                const fromView = snapshotOf(engram.view());
                const files = [...expected].filter(([, content]) => content !== null);
                for (const [path, content] of files) {
                  expect((fromView.get(path) as Buffer).equals(content as Buffer), path).toBe(true);
                }
              } finally {
                engram.close();
              }
              const thawed = Cartridge.fromEngram(archivePath, thawedPath);
              try {
                expectSameTree(snapshotOf(thawed), expected);
              } finally {
                thawed.close();
              }
            } finally {
              cart.close();
              rmSync(join(directory, `source-${run}.cart`), { force: true });
              rmSync(archivePath, { force: true });
              rmSync(thawedPath, { force: true });
            }
          },
        ),
        {
          numRuns: NUM_RUNS,
          seed: SEED,
          // Each run writes real files; shrinking a failure at full size would take minutes.
          endOnFailure: process.env['PROPERTY_SHRINK'] === undefined,
          ...(REPLAY_PATH === undefined ? {} : { path: REPLAY_PATH }),
        },
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
