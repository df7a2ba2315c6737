import * as nodeFs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Cartridge, type CartridgeFs } from '../../src/index.js';

/**
 * Differential conformance of the fs facade: fast-check generates sequences of `node:fs`
 * calls over a small set of paths (so that they collide: files under files, renames onto
 * non-empty directories, ...), runs each on real `node:fs` in a temp directory and on
 * `cartridge.fs`, and compares every result and every error code, then the whole tree.
 * `PROPERTY_RUNS` and `PROPERTY_SEED` as in the other property tests; fast-check prints the
 * seed and the shrunk sequence on failure.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '60', 10) || 60;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

const scratch = mkdtempSync(join(tmpdir(), 'cartridge-fs-conformance-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const name = fc.constantFrom('a', 'b', 'c');
const path = fc
  .tuple(
    fc.array(name, { minLength: 1, maxLength: 3 }),
    fc.boolean(),
    fc.integer({ min: 0, max: 9 }),
  )
  .map(([names, relative, slash]) => {
    const joined = names.join('/');
    // Mostly absolute paths; now and then a relative one or a trailing slash.
    const spelled = relative && names.length === 1 ? joined : `/${joined}`;
    return slash === 0 ? `${spelled}/` : spelled;
  });
const text = fc.string({ maxLength: 12 });

type Op =
  | { op: 'writeFile'; path: string; data: string; flag: 'w' | 'wx' | 'a' }
  | { op: 'appendFile'; path: string; data: string }
  | { op: 'readFile'; path: string }
  | { op: 'mkdir'; path: string; recursive: boolean }
  | { op: 'rm'; path: string; recursive: boolean; force: boolean }
  | { op: 'rmdir'; path: string }
  | { op: 'unlink'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'copyFile'; from: string; to: string; exclusive: boolean }
  | { op: 'exists'; path: string }
  | { op: 'readdir'; path: string; withFileTypes: boolean }
  | { op: 'stat'; path: string }
  | { op: 'ranged'; path: string; start: number; length: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('writeFile' as const),
      path,
      data: text,
      flag: fc.constantFrom('w' as const, 'wx' as const, 'a' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('appendFile' as const), path, data: text }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('readFile' as const), path }) },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('mkdir' as const), path, recursive: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('rm' as const),
      path,
      recursive: fc.boolean(),
      force: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rmdir' as const), path }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unlink' as const), path }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rename' as const), from: path, to: path }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('copyFile' as const),
      from: path,
      to: path,
      exclusive: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('exists' as const), path }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('readdir' as const),
      path,
      withFileTypes: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('stat' as const), path }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('ranged' as const),
      path,
      start: fc.integer({ min: 0, max: 14 }),
      length: fc.integer({ min: 0, max: 14 }),
    }),
  },
);

/** The subset of `node:fs` the sequences use, with paths already mapped. */
type FsLike = Pick<
  typeof nodeFs,
  | 'writeFileSync'
  | 'appendFileSync'
  | 'readFileSync'
  | 'mkdirSync'
  | 'rmSync'
  | 'rmdirSync'
  | 'unlinkSync'
  | 'renameSync'
  | 'copyFileSync'
  | 'existsSync'
  | 'readdirSync'
  | 'statSync'
  | 'openSync'
  | 'readSync'
  | 'closeSync'
>;

type Outcome = { ok: unknown } | { code: unknown };

function outcome(action: () => unknown): Outcome {
  try {
    return { ok: action() };
  } catch (error) {
    return { code: (error as { code?: unknown }).code };
  }
}

function run(fs: FsLike, at: (path: string) => string, step: Op): Outcome {
  switch (step.op) {
    case 'writeFile':
      return outcome(() => fs.writeFileSync(at(step.path), step.data, { flag: step.flag }));
    case 'appendFile':
      return outcome(() => fs.appendFileSync(at(step.path), step.data));
    case 'readFile':
      return outcome(() => fs.readFileSync(at(step.path), 'utf8'));
    case 'mkdir':
      return outcome(() => {
        const first = fs.mkdirSync(at(step.path), { recursive: step.recursive });
        // Node returns the first directory it made: compare it relative to the root.
        return typeof first === 'string' ? first.slice(at('/').length - 1) : first;
      });
    case 'rm':
      return outcome(() =>
        fs.rmSync(at(step.path), { recursive: step.recursive, force: step.force }),
      );
    case 'rmdir':
      return outcome(() => fs.rmdirSync(at(step.path)));
    case 'unlink':
      return outcome(() => fs.unlinkSync(at(step.path)));
    case 'rename':
      return outcome(() => fs.renameSync(at(step.from), at(step.to)));
    case 'copyFile':
      return outcome(() =>
        fs.copyFileSync(
          at(step.from),
          at(step.to),
          step.exclusive ? nodeFs.constants.COPYFILE_EXCL : 0,
        ),
      );
    case 'exists':
      return outcome(() => fs.existsSync(at(step.path)));
    case 'readdir':
      return outcome(() =>
        step.withFileTypes
          ? fs
              .readdirSync(at(step.path), { withFileTypes: true })
              .map((entry) => `${entry.name}:${entry.isDirectory() ? 'd' : 'f'}`)
              .sort()
          : fs.readdirSync(at(step.path)).sort(),
      );
    case 'stat':
      return outcome(() => {
        const stats = fs.statSync(at(step.path));
        return {
          file: stats.isFile(),
          directory: stats.isDirectory(),
          size: stats.isFile() ? stats.size : 0,
        };
      });
    case 'ranged':
      return outcome(() => {
        const descriptor = fs.openSync(at(step.path), 'r');
        try {
          const buffer = Buffer.alloc(step.length);
          const read = fs.readSync(descriptor, buffer, 0, step.length, step.start);
          return buffer.subarray(0, read).toString('utf8');
        } finally {
          fs.closeSync(descriptor);
        }
      });
  }
}

/** Every entry under the root: path, kind and content. */
function tree(fs: FsLike, at: (path: string) => string, directory = '/'): string[] {
  const lines: string[] = [];
  for (const name of (fs.readdirSync(at(directory)) as string[]).sort()) {
    const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
    if (fs.statSync(at(path))?.isDirectory()) {
      lines.push(`${path}/`, ...tree(fs, at, path));
    } else {
      lines.push(`${path}=${fs.readFileSync(at(path), 'utf8')}`);
    }
  }
  return lines;
}

let runCount = 0;

describe('the fs facade against node:fs', () => {
  it('gives the same results and error codes for random operation sequences', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (steps) => {
        const root = join(scratch, `run-${runCount++}`);
        nodeFs.mkdirSync(root);
        // A relative path is relative to the root on both sides.
        const onDisk = (path: string) => (path.startsWith('/') ? root + path : `${root}/${path}`);
        const cartridge = Cartridge.memory();
        try {
          const facade: CartridgeFs = cartridge.fs;
          const inCartridge = (path: string) => path;
          steps.forEach((step, index) => {
            const expected = run(nodeFs, onDisk, step);
            const actual = run(facade as unknown as FsLike, inCartridge, step);
            expect(actual, `step ${index}: ${JSON.stringify(step)}`).toEqual(expected);
          });
          expect(tree(facade as unknown as FsLike, inCartridge)).toEqual(tree(nodeFs, onDisk));
        } finally {
          cartridge.close();
          rmSync(root, { recursive: true, force: true });
        }
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });
});
