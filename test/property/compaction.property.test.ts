import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Subscription } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Cartridge,
  type CartridgeOptions,
  type CartridgeView,
  type ChangeEvent,
} from '../../src/index.js';

/**
 * Model-based test of compaction. Random histories (files written, appended to, deleted;
 * directories; snapshots taken, deleted and restored; views checked out; change streams
 * subscribed; checkpoints) are interleaved with compactions from random horizons. Before each
 * compaction the test reads, through the engine, every state compaction promises to keep: each
 * named snapshot, each commit after the horizon (addressed by its commit time: the clock ticks
 * once per reading, so every commit has a time of its own), the head, and each open view.
 * After it, every one must read exactly as before; the file must be no larger than the live
 * data at the horizon, the journal after it, and a small overhead; `verify()` must pass and
 * name the old head; open streams must deliver every change once, in order; and a reopen
 * must read the same head.
 *
 * `PROPERTY_RUNS` sets the number of runs, `PROPERTY_SEED` replays one; the seed is printed.
 */

const DEFAULT_RUNS = 25;
const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '', 10) || DEFAULT_RUNS;
const SEED_TEXT = process.env['PROPERTY_SEED'];
const SEED = SEED_TEXT === undefined ? Date.now() % 2 ** 31 : Number(SEED_TEXT);
const START_MS = 1_700_000_000_000;
const PATHS = ['/a', '/b', '/d/c', '/d/e'] as const;
const SNAPSHOT_NAMES = ['s1', 's2', 's3'] as const;
/** The journal's header slots: every file has them, whatever it holds. */
const HEADER_BYTES = 8192;
/** Per entry at the horizon: its `entry.restored` record and its share of the index pages. */
const OVERHEAD_PER_ENTRY_BYTES = 384;
const OVERHEAD_BYTES = 4096;

type Operation =
  | { readonly kind: 'write'; readonly path: number; readonly sizeBytes: number; readonly fill: number }
  | { readonly kind: 'append'; readonly path: number; readonly sizeBytes: number }
  | { readonly kind: 'delete'; readonly path: number }
  | { readonly kind: 'snapshot'; readonly name: number }
  | { readonly kind: 'deleteSnapshot'; readonly name: number }
  | { readonly kind: 'restore'; readonly name: number }
  | { readonly kind: 'view' }
  | { readonly kind: 'subscribe' }
  | { readonly kind: 'deliver' }
  | { readonly kind: 'checkpoint' }
  | { readonly kind: 'compact'; readonly keepFraction: number | null }
  | { readonly kind: 'reopen' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      path: fc.nat(PATHS.length - 1),
      sizeBytes: fc.oneof(fc.nat(300), fc.integer({ min: 3000, max: 40_000 })),
      fill: fc.nat(255),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      path: fc.nat(PATHS.length - 1),
      sizeBytes: fc.integer({ min: 1, max: 2000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), path: fc.nat(3) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('snapshot' as const), name: fc.nat(2) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('deleteSnapshot' as const), name: fc.nat(2) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restore' as const), name: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'view' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'subscribe' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'deliver' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      keepFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** Everything a state shows: each entry's kind, size, times, mode, and a file's bytes. */
type Dump = Record<string, string>;

function dumpOf(state: Pick<CartridgeView, 'listDir' | 'metadata' | 'readFile'>): Dump {
  const dump: Dump = {};
  const walk = (directory: string): void => {
    for (const name of state.listDir(directory)) {
      const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
      const metadata = state.metadata(path);
      const { type, sizeBytes, mode, createdAtMs, modifiedAtMs, inode } = metadata;
      const described = JSON.stringify({ type, sizeBytes, mode, createdAtMs, modifiedAtMs, inode });
      if (type === 'directory') {
        dump[path] = described;
        walk(path);
      } else {
        dump[path] = `${described}:${state.readFile(path).toString('base64')}`;
      }
    }
  };
  walk('/');
  return dump;
}

/** A stream and what it was expected to deliver: the changes made since it subscribed. */
interface OpenStream {
  readonly subscription: Subscription;
  readonly received: string[];
  readonly expected: string[];
  error: unknown;
}

const flushed = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function deliverAll(streams: readonly OpenStream[]): Promise<void> {
  for (let turn = 0; turn < 50; turn++) {
    await flushed();
    if (streams.every((stream) => stream.received.length >= stream.expected.length)) return;
  }
}

const directory = mkdtempSync(join(tmpdir(), 'cartridge-compaction-property-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let runCount = 0;

async function run(operations: readonly Operation[]): Promise<void> {
  const path = join(directory, `run-${runCount++}.cart`);
  // The wall clock moves only between operations, so each commit has a time of its own.
  let nowMs = START_MS;
  const clock = { now: () => nowMs, nowMs: () => nowMs - START_MS };
  const options = { clock, checkpointIntervalBytes: 4096, durability: 'off' as const };
  let cart = Cartridge.create(path, options);
  /** Commit times, oldest first: each names the state right after its commit. */
  const commitTimes: number[] = [];
  const views: { view: CartridgeView; dump: Dump }[] = [];
  const streams: OpenStream[] = [];
  const changed = (entry: string): void => {
    for (const stream of streams) stream.expected.push(entry);
  };
  try {
    for (const step of operations) {
      nowMs += 10;
      switch (step.kind) {
        case 'write': {
          const target = PATHS[step.path] as string;
          const bytes = Buffer.alloc(step.sizeBytes, step.fill);
          if (cart.exists(target)) {
            cart.writeFile(target, bytes);
            changed(`file.written ${target}`);
          } else {
            cart.createFile(target, bytes);
            changed(`file.created ${target}`);
          }
          commitTimes.push(nowMs);
          break;
        }
        case 'append': {
          const target = PATHS[step.path] as string;
          if (!cart.exists(target)) continue;
          cart.appendFile(target, Buffer.alloc(step.sizeBytes, 0x61));
          changed(`file.appended ${target}`);
          commitTimes.push(nowMs);
          break;
        }
        case 'delete': {
          const target = PATHS[step.path] as string;
          if (!cart.exists(target)) continue;
          cart.deleteFile(target);
          changed(`entry.deleted ${target}`);
          commitTimes.push(nowMs);
          break;
        }
        case 'snapshot': {
          const name = SNAPSHOT_NAMES[step.name] as string;
          if (cart.listSnapshots().some((snapshot) => snapshot.name === name)) continue;
          cart.createSnapshot(name);
          changed(`snapshot.created ${name}`);
          commitTimes.push(nowMs);
          break;
        }
        case 'deleteSnapshot': {
          const name = SNAPSHOT_NAMES[step.name] as string;
          if (!cart.listSnapshots().some((snapshot) => snapshot.name === name)) continue;
          cart.deleteSnapshot(name);
          changed(`snapshot.deleted ${name}`);
          commitTimes.push(nowMs);
          break;
        }
        case 'restore': {
          // Restores bring back content from anywhere in history; streams are closed first,
          // since what a restore emits is not modelled here.
          const name = SNAPSHOT_NAMES[step.name] as string;
          if (streams.length > 0) continue;
          if (!cart.listSnapshots().some((snapshot) => snapshot.name === name)) continue;
          cart.restoreSnapshot(name);
          commitTimes.push(nowMs);
          break;
        }
        case 'view': {
          const view = cart.checkout(cart.head);
          views.push({ view, dump: dumpOf(view) });
          break;
        }
        case 'subscribe': {
          if (streams.length >= 2) continue;
          const stream: OpenStream = {
            subscription: undefined as never,
            received: [],
            expected: [],
            error: undefined,
          };
          const subscription = cart.changes().subscribe({
            next: (event: ChangeEvent) => {
              if (event.type === 'caught-up') return;
              if (event.type === 'directory.created') return;
              stream.received.push(`${event.type} ${event.path ?? event.name ?? ''}`);
            },
            error: (error: unknown) => {
              stream.error = error;
            },
          });
          streams.push(Object.assign(stream, { subscription }));
          break;
        }
        case 'deliver':
          await deliverAll(streams);
          break;
        case 'checkpoint':
          cart.checkpoint();
          break;
        case 'compact':
          compactAndCheck(cart, options, step.keepFraction, commitTimes, views, streams.length);
          break;
        case 'reopen': {
          if (streams.length > 0 || views.length > 0) continue;
          const head = dumpOf(cart);
          cart.close();
          cart = Cartridge.open(path, options);
          expect(dumpOf(cart)).toEqual(head);
          break;
        }
      }
    }
    compactAndCheck(cart, options, null, commitTimes, views, streams.length);
    await deliverAll(streams);
    for (const stream of streams) {
      expect(stream.error).toBeUndefined();
      expect(stream.received).toEqual(stream.expected);
    }
    const head = dumpOf(cart);
    for (const stream of streams) stream.subscription.unsubscribe();
    cart.close();
    cart = Cartridge.open(path, options);
    expect(dumpOf(cart)).toEqual(head);
    expect(cart.verify()).toMatchObject({ ok: true, stateMatches: true });
  } finally {
    for (const stream of streams) stream.subscription.unsubscribe();
    cart.close();
  }
}

/**
 * The states read before and after a compaction are read through a read-only handle of their
 * own: checkout views pin what they show, and the handle being compacted must see only the
 * pins the history made (its views, its streams, its snapshots).
 */
function readStates(
  path: string,
  options: CartridgeOptions,
  commitTimes: readonly number[],
): { snapshots: Map<string, Dump>; past: Map<number, Dump> } {
  const reader = Cartridge.open(path, { ...options, readOnly: true });
  try {
    const snapshots = new Map(
      reader
        .listSnapshots()
        .map((snapshot) => [snapshot.name, dumpOf(reader.checkout(snapshot.name))] as const),
    );
    const past = new Map(
      commitTimes.map((time) => [time, dumpOf(reader.checkout(new Date(time)))] as const),
    );
    return { snapshots, past };
  } finally {
    reader.close();
  }
}

function compactAndCheck(
  cart: Cartridge,
  options: CartridgeOptions,
  keepFraction: number | null,
  commitTimes: number[],
  views: readonly { view: CartridgeView; dump: Dump }[],
  streamCount: number,
): void {
  const path = cart.path as string;
  const keepFrom =
    keepFraction === null || commitTimes.length === 0
      ? undefined
      : commitTimes[Math.floor(keepFraction * (commitTimes.length - 1))];
  const head = dumpOf(cart);
  const before = readStates(path, options, commitTimes);
  const pinned = views.length > 0 || streamCount > 0 || cart.listSnapshots().length > 0;
  const result = cart.compact(
    keepFrom === undefined ? {} : { keepHistoryFrom: new Date(keepFrom) },
  );
  const report = cart.verify();
  expect(report).toMatchObject({ ok: true, stateMatches: true });
  expect(report.compactedFrom).not.toBeNull();
  const horizonOffset = report.compactedFrom?.horizonOffset as number;
  expect(result.bytesAfter).toBe(statSync(cart.path as string).size);
  expect(result.reclaimedBytes).toBe(Math.max(0, result.bytesBefore - result.bytesAfter));
  if (keepFrom === undefined && !pinned) {
    // Nothing pinned and nothing asked for: only the head's state is kept.
    expect(horizonOffset).toBe(report.compactedFrom?.offset);
  }
  expect(dumpOf(cart)).toEqual(head);
  for (const { view, dump } of views) expect(dumpOf(view)).toEqual(dump);
  const firstKeptMs = report.compactedFrom?.horizonAt.getTime() as number;
  const after = readStates(
    path,
    options,
    commitTimes.filter((time) => time >= firstKeptMs),
  );
  expect(after.snapshots).toEqual(before.snapshots);
  // Every commit from the horizon on reads as it did: dates address the same commits.
  for (const [time, dump] of after.past) expect(dump).toEqual(before.past.get(time));
  // Size: the live data at the horizon, the journal after it, and a small overhead.
  const reader = Cartridge.open(path, { ...options, readOnly: true });
  const horizonView = reader.checkout(new Date(firstKeptMs));
  const horizonStats = horizonView.stats();
  const entries = Object.keys(dumpOf(horizonView)).length + 1;
  const bound =
    HEADER_BYTES +
    horizonStats.liveBytes +
    (result.bytesBefore - horizonOffset) +
    OVERHEAD_BYTES +
    OVERHEAD_PER_ENTRY_BYTES * entries;
  reader.close();
  expect(result.bytesAfter).toBeLessThanOrEqual(bound);
  commitTimes.splice(0, commitTimes.length, ...commitTimes.filter((time) => time >= firstKeptMs));
}

describe('compaction (model-based)', () => {
  it('keeps every pinned state and every kept commit exactly, in a file that shrinks', async () => {
    process.stdout.write(`compaction property seed ${SEED}\n`);
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 40 }), run),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  }, 300_000);
});
