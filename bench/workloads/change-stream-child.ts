/**
 * The change-stream measurements, in a child process of their own: a stream delivers its
 * events from the event loop (`setImmediate` turns), and the bench runner is synchronous, so
 * the loop has to run somewhere it is free. Spawned by `change-stream.ts`; prints one JSON line
 * (`LiveReport` or `CatchUpReport`). Modes:
 *
 * - `live <directory> <commits> <warmupRounds> <rounds>`: a cartridge in `directory`, one log
 *   file; a round is `commits` appends of an audit line, each its own commit, the loop giving
 *   the event loop one turn after each commit (as an application does that commits in answer
 *   to requests). With a subscriber (`changes()` from now) the round ends when the subscriber
 *   has received the event of the last commit; without, when the last commit returns. The two
 *   kinds of round alternate, which goes first changing every round.
 * - `catch-up <directory> <files|appends> <commits> <warmupRounds> <rounds>`: builds a journal
 *   (`files`: rewrites of 1 000 files with 4 KiB of incompressible bytes; `appends`: audit
 *   lines appended to one file), each its own commit, then times `changes({ from: 'start' })`
 *   from subscribe to the caught-up marker, alternating with `fs.readFileSync` of the whole
 *   cartridge file (the raw sequential read of the same bytes, from the page cache).
 *
 *   node --import tsx bench/workloads/change-stream-child.ts <mode> <directory> [...]
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Cartridge, type ChangeEvent } from '../../src/index.js';
import { auditLine, incompressibleBuffers, KIB, seededIndexes } from '../support.js';

export interface LiveReport {
  readonly mode: 'live';
  readonly withSubscriberMs: readonly number[];
  readonly withoutSubscriberMs: readonly number[];
  readonly eventsReceived: number;
}

export interface CatchUpReport {
  readonly mode: 'catch-up';
  readonly catchUpMs: readonly number[];
  readonly readMs: readonly number[];
  /** Journal bytes the stream went through (start to head). */
  readonly journalBytes: number;
  /** Bytes of the cartridge file that the baseline reads. */
  readonly fileBytes: number;
  /** Events delivered per catch-up (the marker not counted). */
  readonly events: number;
}

const LOG_PATH = '/calls/trail.jsonl';
const FILE_COUNT = 1000;
const FILE_BYTES = 4 * KIB;

/** Resolves with the number of events before the caught-up marker, then unsubscribes. */
function catchUp(cartridge: Cartridge): Promise<number> {
  return new Promise((resolve, reject) => {
    let events = 0;
    const subscription = cartridge.changes({ from: 'start' }).subscribe({
      next: (event: ChangeEvent) => {
        if (event.type !== 'caught-up') {
          events++;
          return;
        }
        // Unsubscribing inside next is allowed by rxjs; the subscription variable is set by
        // then, because the first event comes on a later turn of the event loop.
        subscription.unsubscribe();
        resolve(events);
      },
      error: reject,
    });
  });
}

function build(cartridge: Cartridge, kind: string, commits: number): void {
  if (kind === 'appends') {
    cartridge.createFile(LOG_PATH, '');
    for (let line = 0; line < commits; line++) cartridge.appendFile(LOG_PATH, auditLine(line));
    return;
  }
  if (kind !== 'files') throw new Error(`unknown journal kind ${kind}`);
  const buffers = incompressibleBuffers(16, FILE_BYTES, 'change-stream-files');
  const paths = Array.from({ length: FILE_COUNT }, (_, index) => `/docs/f${index}.bin`);
  cartridge.transaction(() => {
    for (const path of paths) cartridge.createFile(path, '');
  });
  const order = seededIndexes(commits, FILE_COUNT, 41);
  for (let commit = 0; commit < commits; commit++) {
    cartridge.writeFile(paths[order[commit] as number] as string, buffers[commit % 16] as Buffer);
  }
}

async function measureCatchUp(
  directory: string,
  kind: string,
  commits: number,
  warmupRounds: number,
  rounds: number,
): Promise<CatchUpReport> {
  const path = join(directory, `catch-up-${kind}.cart`);
  const cartridge = Cartridge.create(path, { durability: 'off' });
  try {
    build(cartridge, kind, commits);
    // Everything on disk before the clock: the baseline reads the file, the stream reads the
    // journal, and both should find the same bytes in the page cache.
    cartridge.flush();
    const journalBytes = cartridge.head;
    const fileBytes = statSync(path).size;
    const catchUpMs: number[] = [];
    const readMs: number[] = [];
    let events = 0;
    for (let round = 0; round < warmupRounds + rounds; round++) {
      const warm = round >= warmupRounds;
      for (let turn = 0; turn < 2; turn++) {
        if ((round + turn) % 2 === 0) {
          const start = performance.now();
          const bytes = readFileSync(path);
          const elapsedMs = performance.now() - start;
          if (bytes.length !== fileBytes) throw new Error('the cartridge file changed size');
          if (warm) readMs.push(elapsedMs);
        } else {
          const start = performance.now();
          events = await catchUp(cartridge);
          const elapsedMs = performance.now() - start;
          if (warm) catchUpMs.push(elapsedMs);
        }
      }
    }
    return { mode: 'catch-up', catchUpMs, readMs, journalBytes, fileBytes, events };
  } finally {
    cartridge.close();
  }
}

async function measureLive(
  directory: string,
  commits: number,
  warmupRounds: number,
  rounds: number,
): Promise<LiveReport> {
  const cartridge = Cartridge.create(join(directory, 'live.cart'), { durability: 'off' });
  let line = 0;
  let receivedTotal = 0;
  const commitLoop = async (): Promise<void> => {
    for (let commit = 0; commit < commits; commit++) {
      cartridge.appendFile(LOG_PATH, auditLine(line++));
      await nextTurn();
    }
  };
  const withSubscriber = async (): Promise<number> => {
    let received = 0;
    let caughtUp: () => void = () => undefined;
    let delivered: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    const done = new Promise<void>((resolve) => (delivered = resolve));
    let failure: unknown;
    const subscription = cartridge.changes({ from: 'now' }).subscribe({
      next: (event) => {
        if (event.type === 'caught-up') caughtUp();
        else if (event.type === 'file.appended' && ++received === commits) delivered();
      },
      error: (error: unknown) => {
        failure = error;
        caughtUp();
        delivered();
      },
    });
    // Subscribing is not timed: the round starts once the stream follows the head.
    await ready;
    const start = performance.now();
    await commitLoop();
    await done;
    const elapsedMs = performance.now() - start;
    subscription.unsubscribe();
    if (failure !== undefined) throw failure;
    receivedTotal += received;
    return elapsedMs;
  };
  const withoutSubscriber = async (): Promise<number> => {
    const start = performance.now();
    await commitLoop();
    return performance.now() - start;
  };
  const withSubscriberMs: number[] = [];
  const withoutSubscriberMs: number[] = [];
  try {
    cartridge.createFile(LOG_PATH, '');
    for (let round = 0; round < warmupRounds + rounds; round++) {
      const warm = round >= warmupRounds;
      for (let turn = 0; turn < 2; turn++) {
        if ((round + turn) % 2 === 0) {
          const elapsedMs = await withoutSubscriber();
          if (warm) withoutSubscriberMs.push(elapsedMs);
        } else {
          const elapsedMs = await withSubscriber();
          if (warm) withSubscriberMs.push(elapsedMs);
        }
      }
    }
    const background = cartridge.lastBackgroundError;
    if (background !== undefined) throw background;
  } finally {
    cartridge.close();
  }
  return { mode: 'live', withSubscriberMs, withoutSubscriberMs, eventsReceived: receivedTotal };
}

async function main(): Promise<void> {
  const [mode, directory, ...rest] = process.argv.slice(2);
  if (directory === undefined) throw new Error('usage: change-stream-child.ts <mode> <dir> ...');
  let report: LiveReport | CatchUpReport;
  if (mode === 'live') {
    const [commits, warmupRounds, rounds] = rest.map(Number) as [number, number, number];
    report = await measureLive(directory, commits, warmupRounds, rounds);
  } else if (mode === 'catch-up') {
    const [kind, ...counts] = rest;
    const [commits, warmupRounds, rounds] = counts.map(Number) as [number, number, number];
    report = await measureCatchUp(directory, kind as string, commits, warmupRounds, rounds);
  } else {
    throw new Error(`unknown mode ${String(mode)}`);
  }
  console.log(JSON.stringify(report));
}

main().catch((error: unknown) => {
  // The engine error's code first, so that the parent can report it as the figure's value.
  const code = (error as { code?: unknown } | null)?.code;
  console.error(typeof code === 'string' ? code : 'CHILD_FAILED', error);
  process.exitCode = 1;
});
