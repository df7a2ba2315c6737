import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, type Observable, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, type ChangeEvent, CartridgeError } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Change streams through the public API: history then live with no gap and no duplicate, the
 * caught-up marker, filters, resume tokens (checked), the lag bound, rollback and close.
 */

let directory: string;
let opened: Cartridge[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-changes-'));
  opened = [];
});

afterEach(() => {
  for (const cartridge of opened) cartridge.close();
  rmSync(directory, { recursive: true, force: true });
});

function create(name = 'a.cart', options = {}): Cartridge {
  const cartridge = Cartridge.create(join(directory, name), options);
  opened.push(cartridge);
  return cartridge;
}

/** The next event loop turns: a stream delivers its batches on them. */
async function settle(turns = 5): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Collects a stream's events (and its error) until unsubscribed. */
function collect(stream: Observable<ChangeEvent>): {
  events: ChangeEvent[];
  error: () => unknown;
  completed: () => boolean;
  stop: () => void;
} {
  const events: ChangeEvent[] = [];
  let error: unknown;
  let completed = false;
  const subscription = stream.subscribe({
    next: (event) => events.push(event),
    error: (thrown: unknown) => {
      error = thrown;
    },
    complete: () => {
      completed = true;
    },
  });
  return {
    events,
    error: () => error,
    completed: () => completed,
    stop: () => subscription.unsubscribe(),
  };
}

function summary(events: readonly ChangeEvent[]): string[] {
  return events.map((event) => `${event.type} ${event.path ?? event.name ?? '-'}`);
}

describe('changes()', () => {
  it('replays history, marks the catch-up once, then follows live commits with no gap or duplicate', async () => {
    const cartridge = create();
    cartridge.createFile('/a', 'one');
    cartridge.writeFile('/a', 'two');
    const stream = collect(cartridge.changes({ from: 'start' }));
    // Committed after subscribing but before the first delivery: neither lost nor doubled.
    cartridge.appendFile('/a', '!');
    await settle();
    cartridge.deleteFile('/a');
    await settle();
    stream.stop();
    expect(summary(stream.events)).toEqual([
      'file.created /a',
      'file.written /a',
      'file.appended /a',
      'caught-up -',
      'entry.deleted /a',
    ]);
    const offsets = stream.events
      .filter((event) => event.type !== 'caught-up')
      .map((event) => event.offset);
    expect(new Set(offsets).size).toBe(offsets.length);
  });

  it("defaults to 'now': only commits after subscribing", async () => {
    const cartridge = create();
    cartridge.createFile('/old', 'x');
    const stream = collect(cartridge.changes());
    // Committed before the stream's first turn: it is caught up to, then marked.
    cartridge.createFile('/new', 'y');
    await settle();
    cartridge.createFile('/newer', 'z');
    await settle();
    stream.stop();
    expect(summary(stream.events)).toEqual([
      'file.created /new',
      'caught-up -',
      'file.created /newer',
    ]);
  });

  it('filters by a glob over canonical paths, or by a predicate; the marker always passes', async () => {
    const cartridge = create();
    cartridge.createFile('/calls/2026/a.txt', 'a');
    cartridge.createFile('/calls/b.md', 'b');
    cartridge.createFile('/notes/c.txt', 'c');
    const globbed = collect(cartridge.changes({ from: 'start', filter: '/calls/**/*.txt' }));
    const predicate = collect(
      cartridge.changes({ from: 'start', filter: (event) => event.path?.endsWith('.md') === true }),
    );
    await settle();
    globbed.stop();
    predicate.stop();
    expect(summary(globbed.events)).toEqual(['file.created /calls/2026/a.txt', 'caught-up -']);
    expect(summary(predicate.events)).toEqual(['file.created /calls/b.md', 'caught-up -']);
    expectCode(() => cartridge.changes({ filter: 'calls/**' }), 'INVALID_ARGUMENT');
    expectCode(() => cartridge.changes({ filter: 7 as never }), 'INVALID_ARGUMENT');
  });

  it('resumes after the exact record a token names, even inside a transaction', async () => {
    const cartridge = create();
    cartridge.transaction(() => {
      cartridge.createFile('/x', '1');
      cartridge.createFile('/y', '2');
      cartridge.createFile('/z', '3');
    });
    const all = await firstValueFrom(cartridge.changes({ from: 'start' }).pipe(take(4), toArray()));
    const afterX = all.find((event) => event.path === '/x') as ChangeEvent;
    const resumed = collect(cartridge.changes({ from: afterX.token }));
    await settle();
    resumed.stop();
    expect(summary(resumed.events)).toEqual(['file.created /y', 'file.created /z', 'caught-up -']);
  });

  it('starts after a snapshot or at an offset', async () => {
    const cartridge = create();
    cartridge.createFile('/before', 'x');
    cartridge.createSnapshot('mark');
    const offset = cartridge.head;
    cartridge.createFile('/after', 'y');
    const fromSnapshot = collect(cartridge.changes({ from: 'mark' }));
    const fromOffset = collect(cartridge.changes({ from: offset }));
    await settle();
    fromSnapshot.stop();
    fromOffset.stop();
    expect(summary(fromSnapshot.events)).toEqual(['file.created /after', 'caught-up -']);
    expect(summary(fromOffset.events)).toEqual(['file.created /after', 'caught-up -']);
    // A start past the head is refused to the subscriber, as every start is checked then.
    const tooFar = collect(cartridge.changes({ from: cartridge.head + 1 }));
    await settle();
    expect((tooFar.error() as CartridgeError).code).toBe('INVALID_ARGUMENT');
  });

  it('refuses a token of another cartridge, a garbled token and a stale one with HISTORY_UNAVAILABLE', async () => {
    const first = create('first.cart');
    const second = create('second.cart');
    first.createFile('/a', 'x');
    second.createFile('/a', 'x');
    const [event] = await firstValueFrom(first.changes({ from: 'start' }).pipe(take(1), toArray()));
    const token = (event as ChangeEvent).token;
    const errors: unknown[] = [];
    for (const from of [token, 'not a token', `${token.slice(0, -4)}AAAA`]) {
      const stream = collect(second.changes({ from }));
      await settle();
      stream.stop();
      errors.push(stream.error());
    }
    for (const error of errors) {
      expect(error).toBeInstanceOf(CartridgeError);
      expect((error as CartridgeError).code).toBe('HISTORY_UNAVAILABLE');
    }
  });

  it('fails a live subscriber that falls too far behind with SUBSCRIBER_OVERFLOW and a token to resume from', async () => {
    const cartridge = create('lag.cart', { durability: 'off' });
    const stream = collect(cartridge.changes({ maxLagBytes: 64 * 1024 }));
    await settle();
    // A loop that never yields: the subscriber cannot keep up.
    for (let index = 0; index < 400; index++) cartridge.createFile(`/f${index}`, 'x'.repeat(500));
    await settle();
    const error = stream.error() as CartridgeError;
    expect(error).toBeInstanceOf(CartridgeError);
    expect(error.code).toBe('SUBSCRIBER_OVERFLOW');
    expect(typeof error.token).toBe('string');
    const resumed = collect(cartridge.changes({ from: error.token as string }));
    await settle(20);
    resumed.stop();
    const created = resumed.events.filter((event) => event.type === 'file.created');
    expect(created).toHaveLength(400);
  });

  it('never delivers a rolled-back transaction, and completes streams at close', async () => {
    const cartridge = create();
    const stream = collect(cartridge.changes());
    await settle();
    expect(() =>
      cartridge.transaction(() => {
        cartridge.createFile('/ghost', 'x');
        throw new Error('abort');
      }),
    ).toThrow('abort');
    cartridge.createFile('/real', 'y');
    await settle();
    expect(summary(stream.events)).toEqual(['caught-up -', 'file.created /real']);
    cartridge.close();
    expect(stream.completed()).toBe(true);
    expectCode(() => cartridge.changes(), 'CARTRIDGE_CLOSED');
  });

  it('reports snapshot and restore events, without a path', async () => {
    const cartridge = create();
    cartridge.createFile('/a', 'x');
    cartridge.createSnapshot('s');
    cartridge.writeFile('/a', 'y');
    cartridge.restoreSnapshot('s');
    const stream = collect(cartridge.changes({ from: 'start' }));
    await settle();
    stream.stop();
    expect(summary(stream.events)).toEqual([
      'file.created /a',
      'snapshot.created s',
      'file.written /a',
      'restore.started s',
      'entry.restored /a',
      'caught-up -',
    ]);
  });

  it('pins what snapshots, open streams and live views need, in stats().oldestPinnedOffset', async () => {
    const cartridge = create();
    cartridge.createFile('/a', 'x');
    expect(cartridge.stats().oldestPinnedOffset).toBeNull();
    const headAtSubscribe = cartridge.head;
    const stream = collect(cartridge.changes());
    expect(cartridge.stats().oldestPinnedOffset).toBe(headAtSubscribe);
    cartridge.createFile('/b', 'y');
    await settle();
    // The stream moved on with the head: it pins where its cursor stands.
    expect(cartridge.stats().oldestPinnedOffset).toBe(cartridge.head);
    stream.stop();
    expect(cartridge.stats().oldestPinnedOffset).toBeNull();
    const view = cartridge.checkout(headAtSubscribe);
    cartridge.createFile('/c', 'z');
    expect(cartridge.stats().oldestPinnedOffset).toBe(view.head);
    const snapshot = cartridge.createSnapshot('kept');
    expect(cartridge.stats().oldestPinnedOffset).toBe(Math.min(view.head, snapshot.offset));
    expect(view.exists('/c')).toBe(false);
  });

  it('reserves the snapshot names a stream start would shadow, and names a restore target', async () => {
    const cartridge = create();
    expectCode(() => cartridge.createSnapshot('now'), 'INVALID_ARGUMENT');
    expectCode(() => cartridge.createSnapshot('start'), 'INVALID_ARGUMENT');
    cartridge.createFile('/a', 'x');
    const head = cartridge.head;
    cartridge.writeFile('/a', 'y');
    const stream = collect(cartridge.changes());
    await settle();
    cartridge.restoreSnapshot(head);
    await settle();
    stream.stop();
    const restore = stream.events.find((event) => event.type === 'restore.started');
    expect(restore?.targetHead).toBe(head);
    expect(restore?.name).toBeUndefined();
  });

  it('gives a clock reading that is not a whole positive time a valid commit time', () => {
    const readings = [Number.NaN, -5, 1.5];
    const clock = { now: () => readings.shift() ?? 7, nowMs: () => 0 };
    const cartridge = create('clock.cart', { clock });
    cartridge.createFile('/a', 'x');
    cartridge.createFile('/b', 'y');
    const times = cartridge.history('/b').map((version) => version.atMs);
    expect(times.every((time) => Number.isSafeInteger(time) && time >= 0)).toBe(true);
  });
});
