import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cartridge, type ChangeEvent } from '../../src/index.js';

/**
 * Model-based property of change streams: random operations, with reopens at random points,
 * keep a reference list of the events they must produce. Afterwards a stream from any start
 * (the genesis, a recorded head offset, a snapshot, or the token of any event) delivers exactly
 * the model's events after that start, in order, once, with and without a filter. fast-check
 * prints the seed of a failure; `PROPERTY_SEED` replays it.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '25', 10) || 25;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

type Op =
  | { readonly kind: 'create'; readonly path: string; readonly size: number }
  | { readonly kind: 'write'; readonly file: number }
  | { readonly kind: 'append'; readonly file: number; readonly count: number }
  | { readonly kind: 'delete'; readonly file: number }
  | { readonly kind: 'snapshot' }
  | { readonly kind: 'mark' }
  | { readonly kind: 'reopen' }
  | { readonly kind: 'batch'; readonly paths: readonly string[] }
  | { readonly kind: 'move'; readonly entry: number; readonly target: string };

const segment = fc.constantFrom('a', 'b', 'calls', 'x.txt', 'y.md');
const pathArbitrary = fc
  .array(segment, { minLength: 1, maxLength: 3 })
  .map((segments) => `/${segments.join('/')}`);

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      path: pathArbitrary,
      size: fc.nat({ max: 3000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('write' as const), file: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      file: fc.nat(),
      count: fc.integer({ min: 1, max: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), file: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'mark' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('move' as const), entry: fc.nat(), target: pathArbitrary }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      paths: fc.array(pathArbitrary, { minLength: 1, maxLength: 4 }),
    }),
  },
);

/** Where a stream may start, and how many model events precede it. */
type Start = { readonly from: number | string; readonly eventsBefore: number };

interface Model {
  readonly events: string[];
  /** Path → 'file' | 'directory'. */
  readonly entries: Map<string, 'file' | 'directory'>;
}

function describeEvent(event: ChangeEvent): string {
  const moved = event.from === undefined ? '' : ` from ${event.from}`;
  return `${event.type} ${event.path ?? event.name ?? '-'}${moved}`;
}

/**
 * Moves an entry with its subtree in the cartridge and the model when the move is possible
 * (the target is free, its parent a directory, and not inside the entry): one event.
 */
function moveIn(cartridge: Cartridge, model: Model, from: string, to: string): void {
  const parent = to.slice(0, to.lastIndexOf('/')) || '/';
  if (model.entries.has(to) || to.startsWith(`${from}/`)) return;
  if (model.entries.get(parent) !== 'directory') return;
  cartridge.rename(from, to);
  for (const [path, kind] of [...model.entries]) {
    if (path !== from && !path.startsWith(`${from}/`)) continue;
    model.entries.delete(path);
    model.entries.set(to + path.slice(from.length), kind);
  }
  model.events.push(`path.moved ${to} from ${from}`);
}

function ancestorsOf(path: string): string[] {
  const parts = path.split('/').slice(1, -1);
  return parts.map((_, index) => `/${parts.slice(0, index + 1).join('/')}`);
}

/** Creates a file (and its missing parents) in the cartridge and the model, if it can. */
function createIn(cartridge: Cartridge, model: Model, path: string, size: number): void {
  if (model.entries.has(path)) return;
  const ancestors = ancestorsOf(path);
  if (ancestors.some((ancestor) => model.entries.get(ancestor) === 'file')) return;
  cartridge.createFile(path, 'c'.repeat(size));
  for (const ancestor of ancestors) {
    if (model.entries.has(ancestor)) continue;
    model.entries.set(ancestor, 'directory');
    model.events.push(`directory.created ${ancestor}`);
  }
  model.entries.set(path, 'file');
  model.events.push(`file.created ${path}`);
}

function filesOf(model: Model): string[] {
  return [...model.entries]
    .filter(([, kind]) => kind === 'file')
    .map(([path]) => path)
    .sort();
}

/** Collects a stream until its caught-up marker. */
async function collectUntilCaughtUp(
  cartridge: Cartridge,
  from: number | string,
  filter?: (event: ChangeEvent) => boolean,
): Promise<string[]> {
  const seen: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const subscription = cartridge.changes({ from, filter }).subscribe({
      next: (event) => {
        if (event.type === 'caught-up') {
          subscription.unsubscribe();
          resolve();
          return;
        }
        seen.push(describeEvent(event));
      },
      error: reject,
    });
  });
  return seen;
}

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-stream-property-'));
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

let runIndex = 0;

async function runScenario(ops: readonly Op[], tokenPicks: readonly number[]): Promise<void> {
  const path = join(directory, `run-${runIndex++}.cart`);
  const options = { checkpointIntervalBytes: 4096, durability: 'off' as const };
  let cartridge = Cartridge.create(path, options);
  const model: Model = { events: [], entries: new Map([['/', 'directory']]) };
  const starts: Start[] = [{ from: 'start', eventsBefore: 0 }];
  let snapshotCount = 0;
  try {
    for (const op of ops) {
      const files = filesOf(model);
      switch (op.kind) {
        case 'create':
          createIn(cartridge, model, op.path, op.size);
          break;
        case 'write': {
          const file = files[op.file % Math.max(1, files.length)];
          if (file === undefined) break;
          cartridge.writeFile(file, `w${op.file}`);
          model.events.push(`file.written ${file}`);
          break;
        }
        case 'append': {
          const file = files[op.file % Math.max(1, files.length)];
          if (file === undefined) break;
          // Appends inside one transaction are one record, so one event.
          cartridge.transaction(() => {
            for (let index = 0; index < op.count; index++)
              cartridge.appendFile(file, `line ${index}\n`);
          });
          model.events.push(`file.appended ${file}`);
          break;
        }
        case 'delete': {
          const file = files[op.file % Math.max(1, files.length)];
          if (file === undefined) break;
          cartridge.deleteFile(file);
          model.entries.delete(file);
          model.events.push(`entry.deleted ${file}`);
          break;
        }
        case 'snapshot': {
          const name = `s${snapshotCount++}`;
          cartridge.createSnapshot(name);
          model.events.push(`snapshot.created ${name}`);
          starts.push({ from: name, eventsBefore: model.events.length });
          break;
        }
        case 'mark':
          starts.push({ from: cartridge.head, eventsBefore: model.events.length });
          break;
        case 'reopen':
          cartridge.close();
          cartridge = Cartridge.open(path, options);
          break;
        case 'move': {
          const paths = [...model.entries.keys()].filter((entry) => entry !== '/').sort();
          const from = paths[op.entry % Math.max(1, paths.length)];
          if (from !== undefined) moveIn(cartridge, model, from, op.target);
          break;
        }
        case 'batch':
          cartridge.transaction(() => {
            for (const batchPath of op.paths) createIn(cartridge, model, batchPath, 10);
          });
          break;
      }
    }
    // Everything from the genesis, then from every recorded start, with and without a filter.
    const everything = await collectUntilCaughtUp(cartridge, 'start');
    expect(everything).toEqual(model.events);
    const all = await new Promise<ChangeEvent[]>((resolve, reject) => {
      const events: ChangeEvent[] = [];
      const subscription = cartridge.changes({ from: 'start' }).subscribe({
        next: (event) => {
          if (event.type === 'caught-up') {
            subscription.unsubscribe();
            resolve(events);
          } else events.push(event);
        },
        error: reject,
      });
    });
    for (const pick of tokenPicks) {
      if (all.length === 0) break;
      const index = pick % all.length;
      starts.push({ from: (all[index] as ChangeEvent).token, eventsBefore: index + 1 });
    }
    // Reopened once more: tokens and offsets outlive the handle that made them.
    cartridge.close();
    cartridge = Cartridge.open(path, options);
    const underA = (event: ChangeEvent): boolean => event.path?.startsWith('/a/') === true;
    for (const start of starts) {
      const expected = model.events.slice(start.eventsBefore);
      expect(
        await collectUntilCaughtUp(cartridge, start.from),
        `from ${String(start.from)}`,
      ).toEqual(expected);
      const filtered = expected.filter((line) => line.split(' ')[1]?.startsWith('/a/') === true);
      expect(await collectUntilCaughtUp(cartridge, start.from, underA)).toEqual(filtered);
    }
  } finally {
    cartridge.close();
  }
}

describe('change streams, model-based', () => {
  it('deliver exactly the events after any start, in order, across reopens, filtered or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArbitrary, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        runScenario,
      ),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  }, 120_000);
});
