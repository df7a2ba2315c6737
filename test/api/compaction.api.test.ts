import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, type CartridgeOptions, type ChangeEvent } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * `cart.compact()` through the public API, on real files: the file shrinks, the live data,
 * snapshots, open views and open streams read as before, the new journal verifies and names
 * the old head, reopening works, encrypted cartridges compact, a cartridge that retains its
 * audit refuses, and the operation is gated and audited like any administrative one.
 */

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-compaction-'));
});

afterEach(() => rmSync(directory, { recursive: true, force: true }));

/** A clock that moves only when told: each commit of a test gets a time of its own. */
function steppedClock(): { clock: CartridgeOptions['clock']; step: () => number } {
  let nowMs = 1_700_000_000_000;
  return {
    clock: { now: () => nowMs, nowMs: () => nowMs },
    step: () => (nowMs += 1000),
  };
}

/** A cartridge whose one file was rewritten many times: mostly dead history. */
function churned(path: string, options: CartridgeOptions = {}): Cartridge {
  const cart = Cartridge.create(path, { checkpointIntervalBytes: 64 * 1024, ...options });
  cart.createFile('/log.txt', 'start');
  for (let round = 0; round < 200; round++) {
    cart.writeFile('/log.txt', randomBytes(2000).toString('hex'));
  }
  cart.createFile('/docs/readme.md', '# kept');
  return cart;
}

describe('cart.compact()', () => {
  it('shrinks the file to about the live data and keeps every live byte', () => {
    const path = join(directory, 'churned.cart');
    const cart = churned(path);
    const log = cart.readFile('/log.txt');
    const result = cart.compact();
    expect(result.bytesBefore).toBeGreaterThan(300_000);
    expect(result.bytesAfter).toBe(statSync(path).size);
    expect(result.bytesAfter).toBeLessThan(40_000);
    expect(result.reclaimedBytes).toBe(result.bytesBefore - result.bytesAfter);
    expect(result.recordsDropped).toBeGreaterThan(200);
    expect(cart.readFile('/log.txt').equals(log)).toBe(true);
    expect(cart.readFile('/docs/readme.md', undefined).toString()).toBe('# kept');
    expect(existsSync(`${path}.compacting`)).toBe(false);
    // The handle goes on writing to the new file, and a reopen reads it all.
    cart.appendFile('/log.txt', 'more');
    cart.close();
    const again = Cartridge.open(path);
    expect(again.readFile('/log.txt').equals(Buffer.concat([log, Buffer.from('more')]))).toBe(
      true,
    );
    expect(again.verify()).toMatchObject({ ok: true, stateMatches: true });
    again.close();
  });

  it('verifies, and the report names the head of the journal it was compacted from', () => {
    const path = join(directory, 'linked.cart');
    const cart = churned(path);
    const oldHead = cart.exportHead();
    cart.compact();
    const report = cart.verify();
    expect(report).toMatchObject({ ok: true, assurance: 'chain', stateMatches: true });
    expect(report.compactedFrom).toMatchObject({
      offset: oldHead.offset,
      sequence: oldHead.sequence,
      headHash: oldHead.headHash,
      merkleRoot: oldHead.merkleRoot,
      horizonOffset: oldHead.offset,
    });
    // A head kept of the old journal, at compaction, is an anchor the new one reaches.
    expect(cart.verify({ anchor: oldHead })).toMatchObject({ ok: true, assurance: 'anchored' });
    cart.close();
    expect(Cartridge.verifyFile(path, { anchor: oldHead })).toMatchObject({
      ok: true,
      assurance: 'anchored',
    });
  });

  it('keeps every named snapshot and the history after the horizon', () => {
    const path = join(directory, 'snapshots.cart');
    const { clock, step } = steppedClock();
    const cart = Cartridge.create(path, { clock, checkpointIntervalBytes: 4096 });
    step();
    cart.createFile('/a.txt', 'one');
    step();
    cart.createSnapshot('first');
    for (let round = 0; round < 50; round++) {
      step();
      cart.writeFile('/a.txt', `round ${round} `.repeat(100));
    }
    const middle = step();
    cart.writeFile('/a.txt', 'middle');
    step();
    cart.createFile('/b.txt', 'bee');
    step();
    cart.deleteFile('/a.txt');
    cart.deleteSnapshot('first');
    step();
    cart.createSnapshot('last');
    const before = cart.history('/a.txt');
    cart.compact({ keepHistoryFrom: new Date(middle) });
    expect(cart.checkout('last').listDir('/')).toEqual(['b.txt']);
    expect(cart.checkout(new Date(middle)).readFile('/a.txt').toString()).toBe('middle');
    // The versions from the horizon on are kept, with their times; older ones are gone.
    const after = cart.history('/a.txt');
    expect(after.map((version) => version.atMs)).toEqual(
      before.filter((version) => version.atMs >= middle).map((version) => version.atMs),
    );
    expect(cart.listSnapshots().map((snapshot) => snapshot.name)).toEqual(['last']);
    // Moments before the horizon were dropped: they are refused, not shown empty.
    expectCode(() => cart.checkout(new Date(middle - 1)), 'HISTORY_UNAVAILABLE');
    // The oldest version of a path is the base's, and it names the whole horizon state.
    const oldest = after[after.length - 1];
    expect(cart.checkout(oldest?.position as never).listDir('/')).toEqual(['a.txt']);
    cart.close();
  });

  it('never drops a snapshot: the horizon moves back to the oldest one', () => {
    const path = join(directory, 'pinned.cart');
    const cart = churned(path);
    cart.createSnapshot('old');
    const snapshotState = cart.readFile('/log.txt');
    for (let round = 0; round < 50; round++) cart.writeFile('/log.txt', `r${round}`);
    const result = cart.compact();
    expect(cart.checkout('old').readFile('/log.txt').equals(snapshotState)).toBe(true);
    const report = cart.verify();
    expect(report.compactedFrom?.horizonOffset).toBeLessThan(report.compactedFrom?.offset ?? 0);
    expect(result.reclaimedBytes).toBeGreaterThan(0);
    cart.close();
  });

  it('carries content a kept restore points to from before the horizon', () => {
    const path = join(directory, 'restore.cart');
    const { clock, step } = steppedClock();
    const cart = Cartridge.create(path, { clock });
    step();
    cart.createFile('/a.txt', 'original content');
    step();
    cart.createSnapshot('s');
    step();
    cart.writeFile('/a.txt', 'changed');
    const horizon = step();
    cart.createFile('/b.txt', 'b');
    step();
    cart.restoreSnapshot('s');
    step();
    cart.deleteSnapshot('s');
    // At the horizon the original content is dead; the restore after it points to it.
    cart.compact({ keepHistoryFrom: new Date(horizon) });
    expect(cart.readFile('/a.txt').toString()).toBe('original content');
    expect(cart.verify()).toMatchObject({ ok: true, stateMatches: true });
    cart.close();
    const again = Cartridge.open(path);
    expect(again.readFile('/a.txt').toString()).toBe('original content');
    again.close();
  });

  it('keeps the state an open view shows, and the view reads on', () => {
    const path = join(directory, 'view.cart');
    const cart = churned(path);
    const view = cart.checkout(cart.head);
    const seen = view.readFile('/log.txt');
    cart.writeFile('/log.txt', 'after the view');
    cart.compact();
    expect(view.readFile('/log.txt').equals(seen)).toBe(true);
    expect(cart.readFile('/log.txt').toString()).toBe('after the view');
    cart.close();
  });

  it('moves an open change stream into the new file: no event lost or repeated', async () => {
    const path = join(directory, 'stream.cart');
    const cart = churned(path);
    const received: string[] = [];
    let failure: unknown;
    const subscription = cart.changes().subscribe({
      next: (event: ChangeEvent) => {
        if (event.type !== 'caught-up') received.push(`${event.type} ${event.path ?? ''}`);
      },
      error: (error: unknown) => {
        failure = error;
      },
    });
    // Changes the stream has not read yet: its position pins them.
    cart.writeFile('/docs/readme.md', 'one');
    cart.createFile('/docs/two.md', 'two');
    cart.compact();
    cart.appendFile('/docs/two.md', ' more');
    for (let turn = 0; turn < 20 && received.length < 3; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(failure).toBeUndefined();
    expect(received).toEqual([
      'file.written /docs/readme.md',
      'file.created /docs/two.md',
      'file.appended /docs/two.md',
    ]);
    subscription.unsubscribe();
    cart.close();
  });

  it('compacts an encrypted cartridge: re-sealed under the current key only', () => {
    const path = join(directory, 'sealed.cart');
    const firstKey = randomBytes(32);
    const secondKey = randomBytes(32);
    const cart = churned(path, { encryptionKey: firstKey });
    cart.rotateKey(secondKey);
    cart.writeFile('/docs/readme.md', 'after rotation');
    const log = cart.readFile('/log.txt');
    const result = cart.compact();
    expect(result.reclaimedBytes).toBeGreaterThan(0);
    cart.close();
    // The old key is no longer needed: every record is sealed with the current one.
    const again = Cartridge.open(path, { encryptionKey: secondKey });
    expect(again.readFile('/log.txt').equals(log)).toBe(true);
    expect(again.readFile('/docs/readme.md').toString()).toBe('after rotation');
    expect(again.verify()).toMatchObject({ ok: true, stateMatches: true });
    again.close();
    // Nothing of the content is in the clear, and the file verifies without a key.
    expect(readFileSync(path).includes(log.subarray(0, 64))).toBe(false);
    const keyless = Cartridge.verifyFile(path);
    expect(keyless).toMatchObject({ ok: true, stateChecked: false });
    expect(keyless.compactedFrom).not.toBeNull();
  });

  it('refuses to drop the audit records of a cartridge created to retain them', () => {
    const path = join(directory, 'retained.cart');
    const cart = Cartridge.create(path, { audit: { retain: true } });
    const createdHead = cart.head;
    cart.createFile('/x', 'first');
    for (let round = 0; round < 20; round++) cart.writeFile('/x', `${round}`);
    cart.flush();
    const bytes = readFileSync(path);
    expectCode(() => cart.compact(), 'AUDIT_RETAINED');
    // Nothing changed on disk but the audit entry of the refusal, written after the bytes.
    expect(readFileSync(path).subarray(0, bytes.length).equals(bytes)).toBe(true);
    // Keeping history from before the first audit record drops none: that is allowed.
    expect(cart.compact({ keepHistoryFrom: createdHead }).recordsDropped).toBeGreaterThan(0);
    cart.close();
    // The choice is in the file: a reopen without the option still refuses.
    const again = Cartridge.open(path);
    again.writeFile('/x', 'again');
    expectCode(() => again.compact(), 'AUDIT_RETAINED');
    again.close();
  });

  it('carries moves over: moved trees read the same, their history links, verify passes', () => {
    const path = join(directory, 'moved.cart');
    const cart = churned(path);
    cart.createFile('/tree/a/one.txt', 'one');
    cart.createFile('/tree/two.txt', 'two');
    const horizon = cart.head;
    cart.rename('/tree', '/moved');
    cart.rename('/docs/readme.md', '/readme.md');
    cart.writeFile('/moved/a/one.txt', 'one, edited');
    const before = cart.history('/moved/a/one.txt').map((version) => version.change);
    cart.compact({ keepHistoryFrom: horizon });
    expect(cart.readFile('/moved/a/one.txt').toString()).toBe('one, edited');
    expect(cart.readFile('/moved/two.txt').toString()).toBe('two');
    expect(cart.readFile('/readme.md').toString()).toBe('# kept');
    expect(cart.exists('/tree')).toBe(false);
    expect(cart.history('/moved/a/one.txt').map((version) => version.change)).toEqual(before);
    expect(cart.verify().ok).toBe(true);
    cart.close();
    const reopened = Cartridge.open(path);
    expect(reopened.readFile('/moved/a/one.txt').toString()).toBe('one, edited');
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });

  it('refuses a cartridge holding erasures or subject keys, and changes nothing', () => {
    const path = join(directory, 'erased.cart');
    const cart = churned(path);
    cart.redact('/log.txt', { versions: 'past' });
    const bytes = readFileSync(path);
    expectCode(() => cart.compact(), 'NOT_SUPPORTED');
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(existsSync(`${path}.compacting`)).toBe(false);
    cart.close();
    const shredding = Cartridge.create(join(directory, 'subjects.cart'), {
      encryptionKey: randomBytes(32),
      encryption: { perSubjectKeys: true, subjectRoot: '/calls' },
    });
    shredding.createFile('/calls/jane/1.txt', 'hello');
    expectCode(() => shredding.compact(), 'NOT_SUPPORTED');
    expect(shredding.readFile('/calls/jane/1.txt').toString()).toBe('hello');
    shredding.close();
  });

  it('is an administrative operation: gated, and audited', () => {
    const path = join(directory, 'gated.cart');
    const cart = churned(path, { audit: true, actor: 'admin' });
    cart.setPolicy({
      Statement: [
        {
          Effect: 'Allow',
          Action: 'All',
          Resource: '/**',
          Condition: { StringEquals: { 'cartridge:actor': 'admin' } },
        },
        { Effect: 'Allow', Action: ['Read', 'List'], Resource: '/**' },
      ],
    });
    cart.compact();
    // History before the horizon held the earlier audit records: they went with it. The
    // compaction's own entry and the refusal below are written after it.
    expectCode(() => cart.as('clerk').compact(), 'EACCES');
    const entries = cart.audit({ actor: 'admin', action: 'All' });
    expect(entries.some((entry) => entry.path === '/' && entry.allowed)).toBe(true);
    const refused = cart.audit({ actor: 'clerk', action: 'All' });
    expect(refused.some((entry) => !entry.allowed)).toBe(true);
    cart.close();
  });

  it('keeps the file locked for one writer across the swap', () => {
    const path = join(directory, 'locked.cart');
    const cart = churned(path);
    cart.compact();
    expectCode(() => Cartridge.open(path), 'LOCKED');
    const reader = Cartridge.open(path, { readOnly: true });
    expect(reader.readFile('/docs/readme.md').toString()).toBe('# kept');
    reader.close();
    cart.close();
    Cartridge.open(path).close();
  });

  it('tells a read-only follower opened before the swap to reopen (FILE_CHANGED)', () => {
    const path = join(directory, 'followed.cart');
    const cart = churned(path);
    const follower = Cartridge.open(path, { readOnly: true });
    cart.writeFile('/docs/readme.md', '# before');
    cart.flush();
    follower.refresh();
    expect(follower.readFile('/docs/readme.md').toString()).toBe('# before');
    cart.compact();
    cart.writeFile('/docs/readme.md', '# after');
    cart.flush();
    // Its descriptor reads the old file, which no commit reaches any more.
    expectCode(() => follower.refresh(), 'FILE_CHANGED');
    expect(follower.readFile('/docs/readme.md').toString()).toBe('# before');
    follower.close();
    const reopened = Cartridge.open(path, { readOnly: true });
    expect(reopened.readFile('/docs/readme.md').toString()).toBe('# after');
    reopened.close();
    cart.close();
  });

  it('compacts a memory cartridge, and refuses bad arguments and transactions', () => {
    const cart = Cartridge.memory();
    cart.createFile('/m', '');
    for (let round = 0; round < 20; round++) cart.writeFile('/m', 'x'.repeat(round * 100));
    expect(cart.compact().reclaimedBytes).toBeGreaterThan(0);
    expect(cart.readFile('/m').length).toBe(1900);
    expectCode(() => cart.compact(7 as never), 'INVALID_ARGUMENT');
    expectCode(() => cart.compact({ keepHistoryFrom: 'no such snapshot' }), 'SNAPSHOT_NOT_FOUND');
    expectCode(() => cart.transaction(() => cart.compact()), 'INVALID_ARGUMENT');
    cart.close();
    expectCode(() => cart.compact(), 'CARTRIDGE_CLOSED');
  });
});
