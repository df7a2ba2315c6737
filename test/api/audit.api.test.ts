import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake3 } from '@napi-rs/blake-hash';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Cartridge,
  type CartridgeOptions,
  type CartridgeView,
  MemoryStorage,
} from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * The audit trail through the public API: every operation kind, allowed and denied, leaves
 * exactly one entry naming its actor, action, canonical path, decision and deciding statement;
 * a change names its record; an aborted transaction's accesses stay, marked rolled back; read
 * auditing can be turned off; queries filter and bound as documented; the trail survives
 * reopen; the JSON Lines export names batch records whose bodies hash as it says.
 */

type AuditRecord = ReturnType<Cartridge['audit']>[number];

const ADMIN = 'admin';
/** Allowed everything, like the admin: it reads the trail, and its own entries are left out. */
const AUDITOR = 'auditor';
const AGENT = 'agent-7';
/** No statement allows it anything. */
const STRANGER = 'stranger';

const notAdmins = { StringNotEquals: { 'cartridge:actor': [ADMIN, AUDITOR] } };

const POLICY = {
  Statement: [
    {
      Sid: 'Admin',
      Effect: 'Allow',
      Action: 'All',
      Resource: '/**',
      Condition: { StringEquals: { 'cartridge:actor': [ADMIN, AUDITOR] } },
    },
    {
      Sid: 'Everyone',
      Effect: 'Allow',
      Action: 'All',
      Resource: '/**',
      Condition: { StringNotEquals: { 'cartridge:actor': STRANGER } },
    },
    { Sid: 'Secret', Effect: 'Deny', Action: 'All', Resource: '/secret/**', Condition: notAdmins },
    { Sid: 'RootAdmin', Effect: 'Deny', Action: 'Write', Resource: '/', Condition: notAdmins },
  ],
};

/** A clock the test sets: audit times, and so date queries, are then exact. */
function manualClock(startMs: number): { now(): number; nowMs(): number; set(ms: number): void } {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    nowMs: () => performance.now(),
    set: (ms: number) => {
      nowMs = ms;
    },
  };
}

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-audit-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** Files inside and outside `/secret`, a snapshot, then POLICY; everything audited. */
function guarded(options: CartridgeOptions = {}, storage = new MemoryStorage()): Cartridge {
  const cart = Cartridge.create('/audit.cart', { storage, actor: ADMIN, audit: true, ...options });
  cart.createFile('/pub/f', 'f');
  cart.createFile('/secret/s', 's');
  cart.createSnapshot('s1');
  cart.setPolicy(POLICY);
  return cart;
}

/** The trail from offset `from` on, without the auditor's own reading of it. */
/** What the trail noted after its first `before` entries, less the queries (each an 'All /'). */
function notedSince(cart: Cartridge, before: number): string[] {
  return cart
    .audit()
    .slice(before)
    .filter((entry) => entry.action !== 'All')
    .map((entry) => `${entry.action} ${entry.path}`);
}

function trailFrom(cart: Cartridge, from: number): AuditRecord[] {
  return cart
    .as(AUDITOR)
    .audit({ from, limit: 1_000_000 })
    .filter((entry) => entry.actor !== AUDITOR);
}

/** Runs `body`, which may throw, and returns the entries it left. */
function entriesOf(cart: Cartridge, body: () => unknown): AuditRecord[] {
  cart.flush();
  const from = cart.head;
  try {
    body();
  } catch {
    // A refusal is an outcome like any other here; the entries say what happened.
  }
  return trailFrom(cart, from);
}

interface Expected {
  readonly actor: string;
  readonly action: string;
  readonly path: string;
  readonly allowed: boolean;
  readonly sid: string | null;
}

type Case = readonly [name: string, body: () => unknown, expected: Expected];

describe('every operation kind, allowed and denied', () => {
  it('appears exactly once with its actor, action, canonical path, decision and sid', () => {
    const storage = new MemoryStorage();
    const cart = guarded({}, storage);
    const agent = cart.as(AGENT);
    const stranger = cart.as(STRANGER);
    const admin = cart.as(ADMIN);
    let view: CartridgeView | undefined;
    const viewOf = (): CartridgeView => view as CartridgeView;
    const by =
      (actor: string, sid: string | null, allowed: boolean) =>
      (action: string, path: string): Expected => ({ actor, action, path, allowed, sid });
    const agentAllowed = by(AGENT, 'Everyone', true);
    const agentDenied = by(AGENT, 'Secret', false);
    const agentNotAdmin = by(AGENT, 'RootAdmin', false);
    const adminAllowed = by(ADMIN, 'Admin', true);
    const strangerDenied = by(STRANGER, null, false);
    const cases: Case[] = [
      ['readFile', () => agent.readFile('/pub//f'), agentAllowed('Read', '/pub/f')],
      ['readFile', () => agent.readFile('/pub/../secret/s'), agentDenied('Read', '/secret/s')],
      ['listDir', () => agent.listDir('/pub/'), agentAllowed('List', '/pub')],
      ['listDir', () => agent.listDir('secret'), agentDenied('List', '/secret')],
      ['exists', () => agent.exists('/pub/./f'), agentAllowed('Read', '/pub/f')],
      ['exists', () => agent.exists('/secret/none'), agentDenied('Read', '/secret/none')],
      ['metadata', () => agent.metadata('/pub/f'), agentAllowed('Read', '/pub/f')],
      ['metadata', () => agent.metadata('/secret/s'), agentDenied('Read', '/secret/s')],
      ['stats', () => agent.stats(), agentAllowed('Read', '/')],
      ['stats', () => stranger.stats(), strangerDenied('Read', '/')],
      ['history', () => agent.history('/pub/f'), agentAllowed('Read', '/pub/f')],
      ['history', () => agent.history('/secret/s'), agentDenied('Read', '/secret/s')],
      ['diff', () => agent.diff('s1', undefined, { prefix: '/pub' }), agentAllowed('Read', '/pub')],
      [
        'diff',
        () => agent.diff('s1', undefined, { prefix: '/secret' }),
        agentDenied('Read', '/secret'),
      ],
      ['checkout', () => (view = agent.checkout('s1')), agentAllowed('Read', '/')],
      ['checkout', () => stranger.checkout('s1'), strangerDenied('Read', '/')],
      ['view.readFile', () => viewOf().readFile('/pub/f'), agentAllowed('Read', '/pub/f')],
      ['view.readFile', () => viewOf().readFile('/secret/s'), agentDenied('Read', '/secret/s')],
      ['view.listDir', () => viewOf().listDir('/pub'), agentAllowed('List', '/pub')],
      ['view.listDir', () => viewOf().listDir('/secret'), agentDenied('List', '/secret')],
      ['view.exists', () => viewOf().exists('/pub/f'), agentAllowed('Read', '/pub/f')],
      ['view.metadata', () => viewOf().metadata('/secret/s'), agentDenied('Read', '/secret/s')],
      ['view.stats', () => viewOf().stats(), agentAllowed('Read', '/')],
      ['changes', () => agent.changes(), agentAllowed('List', '/')],
      ['changes', () => stranger.changes(), strangerDenied('List', '/')],
      ['createFile', () => agent.createFile('/pub/new', 'n'), agentAllowed('Create', '/pub/new')],
      ['createFile', () => agent.createFile('/secret/n', 'n'), agentDenied('Create', '/secret/n')],
      ['writeFile', () => agent.writeFile('/pub/f', 'w'), agentAllowed('Write', '/pub/f')],
      ['writeFile', () => agent.writeFile('/secret/s', 'w'), agentDenied('Write', '/secret/s')],
      ['appendFile', () => agent.appendFile('/pub/f', '+'), agentAllowed('Write', '/pub/f')],
      ['appendFile', () => agent.appendFile('/secret/s', '+'), agentDenied('Write', '/secret/s')],
      ['deleteFile', () => agent.deleteFile('/pub/new'), agentAllowed('Delete', '/pub/new')],
      ['deleteFile', () => agent.deleteFile('/secret/s'), agentDenied('Delete', '/secret/s')],
      ['createDir', () => agent.createDir('/pub/d'), agentAllowed('Create', '/pub/d')],
      ['createDir', () => agent.createDir('/secret/d'), agentDenied('Create', '/secret/d')],
      ['createSnapshot', () => agent.createSnapshot('s2'), agentNotAdmin('All', '/')],
      ['createSnapshot', () => admin.createSnapshot('s2'), adminAllowed('All', '/')],
      ['deleteSnapshot', () => agent.deleteSnapshot('s2'), agentNotAdmin('All', '/')],
      ['deleteSnapshot', () => admin.deleteSnapshot('s2'), adminAllowed('All', '/')],
      ['setPolicy', () => agent.setPolicy(null), agentNotAdmin('All', '/')],
      ['setPolicy', () => admin.setPolicy(POLICY), adminAllowed('All', '/')],
      ['audit', () => agent.audit(), agentNotAdmin('All', '/')],
      ['audit', () => admin.audit(), adminAllowed('All', '/')],
      ['exportAudit', () => agent.exportAudit('/out.jsonl'), agentNotAdmin('All', '/')],
      ['exportAudit', () => admin.exportAudit('/out.jsonl'), adminAllowed('All', '/')],
      ['restoreSnapshot', () => agent.restoreSnapshot('s1'), agentNotAdmin('All', '/')],
      ['restoreSnapshot', () => admin.restoreSnapshot('s1'), adminAllowed('All', '/')],
    ];
    const wrong: string[] = [];
    for (const [name, body, expected] of cases) {
      const entries = entriesOf(cart, body);
      const got = entries.map(({ actor, action, path, allowed, sid }) => ({
        actor,
        action,
        path,
        allowed,
        sid,
      }));
      if (JSON.stringify(got) !== JSON.stringify([expected])) {
        wrong.push(`${name} ${expected.actor}: ${JSON.stringify(got)}`);
      }
      for (const entry of entries) {
        // A denial changes nothing and rolls nothing back.
        if (!entry.allowed) expect(entry.changeOffset, name).toBeNull();
        if (!entry.allowed) expect(entry.rolledBack, name).toBe(false);
        if (entry.action === 'Read' || entry.action === 'List') {
          expect(entry.changeOffset, name).toBeNull();
          expect(entry.rolledBack, name).toBe(false);
        }
      }
    }
    expect(wrong).toEqual([]);
    cart.close();
  });

  it('names the record of the change: the first record of its commit', () => {
    const cart = guarded();
    const agent = cart.as(AGENT);
    const changes: [string, () => unknown, string][] = [
      ['createFile', () => agent.createFile('/pub/new', 'n'), '/pub/new'],
      ['writeFile', () => agent.writeFile('/pub/f', 'w'), '/pub/f'],
      ['createDir', () => agent.createDir('/pub/d'), '/pub/d'],
      ['deleteFile', () => agent.deleteFile('/pub/new'), '/pub/new'],
      ['big writeFile', () => agent.writeFile('/pub/f', Buffer.alloc(3 << 20, 7)), '/pub/f'],
    ];
    for (const [name, body, path] of changes) {
      cart.flush();
      const head = cart.head;
      const entries = entriesOf(cart, body);
      expect(entries, name).toHaveLength(1);
      const [entry] = entries as [AuditRecord];
      expect(entry.changeOffset, name).toBe(head);
      expect(entry.rolledBack, name).toBe(false);
      // For a change of one record, that record is the path's newest version.
      if (name !== 'big writeFile') {
        expect(cart.history(path)[0]?.offset, name).toBe(entry.changeOffset);
      }
    }
    // setPolicy's entry names its policy record.
    const head = cart.head;
    const [policyEntry] = entriesOf(cart, () => cart.setPolicy(POLICY));
    expect(policyEntry?.changeOffset).toBe(head);
    cart.close();
  });

  it('names the record of an append (made when it settles) and of the snapshot operations', () => {
    // An append's record is made after the call, when its transaction settles the buffer: the
    // entry learns its offset then. A restore commits inside its own transaction and names
    // none (docs/API.md).
    const cart = guarded();
    const changes: [string, () => unknown, boolean][] = [
      ['appendFile', () => cart.appendFile('/pub/f', '+'), true],
      ['createSnapshot', () => cart.createSnapshot('s2'), true],
      ['deleteSnapshot', () => cart.deleteSnapshot('s2'), true],
      ['restoreSnapshot', () => cart.restoreSnapshot('s1'), false],
    ];
    for (const [name, body, linked] of changes) {
      const head = cart.head;
      const entries = entriesOf(cart, body);
      expect(cart.head, name).toBeGreaterThan(head);
      expect(entries, name).toHaveLength(1);
      const [entry] = entries as [AuditRecord];
      expect([entry.allowed, entry.rolledBack], name).toEqual([true, false]);
      // The change is the first record of the operation's commit: right where the head stood.
      expect(entry.changeOffset, name).toBe(linked ? head : null);
    }
    cart.close();
  });
});

describe('transactions that roll back', () => {
  it('keep their allowed accesses, marked rolledBack without a change; denials unmarked', () => {
    const cart = guarded();
    const agent = cart.as(AGENT);
    cart.flush();
    const head = cart.head;
    expect(() =>
      agent.transaction(() => {
        agent.writeFile('/pub/f', 'x');
        agent.createFile('/pub/t', 't');
        agent.appendFile('/pub/f', '+');
        agent.readFile('/pub/f');
        expectCode(() => agent.readFile('/secret/s'), 'EACCES');
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(cart.head).toBe(head);
    expect(cart.exists('/pub/t')).toBe(false);
    const entries = trailFrom(cart, head)
      .filter((entry) => entry.actor === AGENT)
      .map(
        ({ action, path, allowed, changeOffset, rolledBack }) =>
          `${action} ${path} ${allowed} ${changeOffset} ${rolledBack}`,
      );
    expect(entries).toEqual([
      'Write /pub/f true null true',
      'Create /pub/t true null true',
      'Write /pub/f true null true',
      'Read /pub/f true null true',
      'Read /secret/s false null false',
    ]);
    cart.close();
  });

  it('mark only the savepoint that rolled back inside a transaction that commits', () => {
    const cart = guarded();
    const agent = cart.as(AGENT);
    cart.flush();
    const head = cart.head;
    agent.transaction(() => {
      agent.writeFile('/pub/f', 'outer');
      expect(() =>
        agent.transaction(() => {
          agent.createFile('/pub/inner', 'i');
          throw new Error('inner');
        }),
      ).toThrow('inner');
      agent.createFile('/pub/after', 'a');
    });
    const entries = trailFrom(cart, head);
    expect(entries.map((entry) => `${entry.action} ${entry.path} ${entry.rolledBack}`)).toEqual([
      'Write /pub/f false',
      'Create /pub/inner true',
      'Create /pub/after false',
    ]);
    expect(entries[0]?.changeOffset).toBe(head);
    expect(entries[1]?.changeOffset).toBeNull();
    expect(cart.history('/pub/after')[0]?.offset).toBe(entries[2]?.changeOffset);
    cart.close();
  });
});

describe('what is audited', () => {
  /** A condition that leaves the actor `x` out of an Allow. */
  const notX = { Condition: { StringNotEquals: { 'cartridge:actor': 'x' } } };

  function exercise(cart: Cartridge): void {
    cart.createFile('/a', 'a');
    cart.readFile('/a');
    cart.listDir('/');
    cart.exists('/a');
    cart.metadata('/a');
    cart.stats();
    cart.history('/a');
    cart.writeFile('/a', 'b');
    cart.deleteFile('/a');
    cart.createDir('/d');
  }

  it('leaves reads out with audit: { reads: false }, and keeps every other access', () => {
    const cart = Cartridge.memory({ audit: { reads: false } });
    exercise(cart);
    cart.setPolicy({ Statement: [{ Effect: 'Allow', Action: 'All', Resource: '/**', ...notX }] });
    expectCode(() => cart.as('x').readFile('/nothing'), 'EACCES');
    const actions = cart.audit().map((entry) => `${entry.action} ${entry.path}`);
    expect(actions).toEqual(['Create /a', 'Write /a', 'Delete /a', 'Create /d', 'All /', 'All /']);
    cart.close();
  });

  it('notes one List for a listing through the fs facade, not a Read per name', () => {
    const cart = Cartridge.memory({ audit: true });
    cart.transaction(() => {
      for (let index = 0; index < 5; index++) cart.createFile(`/calls/${index}.json`, '{}');
    });
    const notedAfter = (before: number) => notedSince(cart, before);
    const before = cart.audit().length;
    expect(cart.fs.readdirSync('/calls')).toHaveLength(5);
    expect(notedAfter(before)).toEqual(['List /calls']);
    // Entries with their types need each entry's type: a Read each, as `metadata` notes.
    const beforeTyped = cart.audit().length;
    cart.fs.readdirSync('/calls', { withFileTypes: true });
    expect(notedAfter(beforeTyped).filter((noted) => noted.startsWith('Read'))).toHaveLength(5);
    cart.close();
  });

  it('notes one access for a write through the fs facade, not a Read for each look', () => {
    const cart = Cartridge.memory({ audit: true });
    cart.createDir('/calls');
    const notedAfter = (before: number) => notedSince(cart, before);
    const before = cart.audit().length;
    cart.fs.writeFileSync('/calls/1.json', '{}');
    cart.fs.writeFileSync('/calls/1.json', '{"v":2}');
    cart.fs.appendFileSync('/calls/1.json', '\n');
    cart.fs.mkdirSync('/calls/day-2');
    cart.fs.unlinkSync('/calls/1.json');
    expect(notedAfter(before)).toEqual([
      'Create /calls/1.json',
      'Write /calls/1.json',
      'Write /calls/1.json',
      'Create /calls/day-2',
      'Delete /calls/1.json',
    ]);
    cart.close();
  });

  it('audits nothing without the audit option, and reads write nothing', () => {
    const cart = Cartridge.memory();
    exercise(cart);
    cart.setPolicy({ Statement: [{ Effect: 'Allow', Action: 'All', Resource: '/**', ...notX }] });
    const head = cart.head;
    for (let index = 0; index < 600; index++) cart.listDir('/');
    expectCode(() => cart.as('x').readFile('/d'), 'EACCES');
    cart.flush();
    expect(cart.head).toBe(head);
    expect(cart.audit()).toEqual([]);
    cart.close();
  });

  it('costs no write per read: reads are batched until a commit, a flush or a full lane', () => {
    const cart = Cartridge.memory({ audit: true, syncIntervalMs: 3_600_000 });
    cart.createFile('/a', 'a');
    const head = cart.head;
    for (let index = 0; index < 100; index++) cart.readFile('/a');
    expect(cart.head).toBe(head);
    // A full lane is written on its own: the lane is bounded, whatever its bound is.
    let reads = 100;
    while (cart.head === head && reads < 20_000) {
      cart.readFile('/a');
      reads++;
    }
    expect(cart.head).toBeGreaterThan(head);
    expect(cart.audit({ action: 'Read', limit: 100_000 })).toHaveLength(reads);
    cart.close();
  });
});

describe('queries', () => {
  it('filter by actor, path glob, action, decision, offsets, dates, limit and order', () => {
    const clock = manualClock(1_000_000);
    const cart = guarded({ clock });
    const agent = cart.as(AGENT);
    const phase = (n: number): void => {
      agent.readFile('/pub/f');
      expect(() => agent.readFile('/secret/s')).toThrow();
      agent.writeFile('/pub/f', `phase ${n}`);
      agent.createFile(`/pub/p${n}`, 'p');
      expect(() => agent.listDir('/secret')).toThrow();
      cart.readFile('/secret/s');
      cart.createDir(`/pub/d${n}`);
    };
    phase(1);
    cart.flush();
    const middle = cart.head;
    clock.set(2_000_000);
    phase(2);
    clock.set(3_000_000);
    phase(3);
    cart.flush();
    const end = cart.head;
    const auditor = cart.as(AUDITOR);
    const query = (extra: Parameters<Cartridge['audit']>[0]) =>
      auditor.audit({ to: end, limit: 1_000_000, ...extra });
    const all = query({});
    expect(all.length).toBeGreaterThan(21);
    // The trail is in journal order, and each entry's batch and index place it.
    const places = all.map((entry) => entry.batch.offset * 10_000 + entry.index);
    expect(places).toEqual([...places].sort((a, b) => a - b));
    expect(all.every((entry) => entry.batch.offset < end)).toBe(true);
    expect(all.every((entry) => entry.time.getTime() === entry.atMs)).toBe(true);
    expect(query({ actor: AGENT })).toEqual(all.filter((entry) => entry.actor === AGENT));
    expect(query({ path: '/pub/*' })).toEqual(
      all.filter((entry) => /^\/pub\/[^/]+$/.test(entry.path)),
    );
    expect(query({ path: '/secret/s' })).toEqual(all.filter((entry) => entry.path === '/secret/s'));
    expect(query({ action: 'Write' })).toEqual(all.filter((entry) => entry.action === 'Write'));
    expect(query({ decision: 'denied' })).toEqual(all.filter((entry) => !entry.allowed));
    expect(query({ decision: 'denied' })).toHaveLength(6);
    expect(query({ decision: 'allowed' })).toEqual(all.filter((entry) => entry.allowed));
    expect(query({ from: middle })).toEqual(all.filter((entry) => entry.batch.offset >= middle));
    expect(auditor.audit({ from: 0, to: middle, limit: 1_000_000 })).toEqual(
      all.filter((entry) => entry.batch.offset < middle),
    );
    const inPhaseTwo = all.filter((entry) => entry.atMs >= 2_000_000 && entry.atMs <= 2_500_000);
    expect(inPhaseTwo.length).toBeGreaterThan(5);
    expect(query({ from: new Date(2_000_000), to: new Date(2_500_000) })).toEqual(inPhaseTwo);
    expect(query({ limit: 3 })).toEqual(all.slice(0, 3));
    expect(query({ order: 'newest', limit: 3 })).toEqual(all.slice(-3).reverse());
    expect(query({ order: 'newest' })).toEqual([...all].reverse());
    expect(query({ actor: AGENT, decision: 'denied', order: 'newest', limit: 2 })).toEqual(
      all
        .filter((entry) => entry.actor === AGENT && !entry.allowed)
        .slice(-2)
        .reverse(),
    );
    expect(query({ actor: 'nobody' })).toEqual([]);
    cart.close();
  });

  it('refuses malformed queries with INVALID_ARGUMENT', () => {
    const cart = guarded();
    const bad: unknown[] = [
      { limit: 0 },
      { limit: 1.5 },
      { limit: 1_000_001 },
      { from: -1 },
      { from: 'yesterday' },
      { to: new Date(Number.NaN) },
      { action: 'Fly' },
      { decision: 'maybe' },
      { order: 'random' },
      { actor: '' },
      { path: 'relative/*' },
      42,
    ];
    for (const query of bad) {
      expectCode(() => cart.audit(query as Parameters<Cartridge['audit']>[0]), 'INVALID_ARGUMENT');
    }
    cart.close();
  });
});

describe('the trail across close and reopen', () => {
  it('keeps every entry, reads included, after close()', () => {
    const storage = new MemoryStorage();
    const cart = guarded({ syncIntervalMs: 3_600_000 }, storage);
    const agent = cart.as(AGENT);
    agent.readFile('/pub/f');
    expect(() => agent.readFile('/secret/s')).toThrow();
    agent.listDir('/pub');
    cart.close();
    const reopened = Cartridge.open('/audit.cart', { storage, actor: AUDITOR, audit: true });
    const entries = reopened.audit({ actor: AGENT });
    expect(entries.map((entry) => `${entry.action} ${entry.path} ${entry.allowed}`)).toEqual([
      'Read /pub/f true',
      'Read /secret/s false',
      'List /pub true',
    ]);
    // The reopened handle audits on, after what the first one wrote.
    reopened.as(AGENT).readFile('/pub/f');
    expect(reopened.audit({ actor: AGENT })).toHaveLength(4);
    reopened.close();
  });
});

describe('exportAudit', () => {
  it('writes JSON Lines whose batch lines name records whose body hashes as they say', () => {
    const path = join(directory, 'audit.cart');
    const cart = Cartridge.create(path, { actor: ADMIN, audit: true });
    cart.createFile('/pub/f', 'f');
    cart.setPolicy(POLICY);
    const agent = cart.as(AGENT);
    for (let index = 0; index < 50; index++) agent.readFile('/pub/f');
    expect(() => agent.readFile('/secret/s')).toThrow();
    cart.flush();
    const middle = cart.head;
    agent.writeFile('/pub/f', 'g');
    const out = join(directory, 'trail.jsonl');
    const result = cart.exportAudit(out);
    const trail = cart.as(AUDITOR).audit({ limit: 1_000_000 });
    const journal = readFileSync(path);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const entries: unknown[] = [];
    let batches = 0;
    let current: { offset: number; expected: number; seen: number } | undefined;
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if ('batch' in parsed) {
        if (current !== undefined) expect(current.seen).toBe(current.expected);
        const batch = parsed.batch as { offset: number; sequence: number; bodyBlake3: string };
        // The record at `offset` (docs/FORMAT.md): a 44-byte frame header, then the body.
        expect(journal.readUInt16LE(batch.offset)).toBe(0xca28);
        const bodyLength = journal.readUInt32LE(batch.offset + 4);
        expect(Number(journal.readBigUInt64LE(batch.offset + 20))).toBe(batch.sequence);
        const body = journal.subarray(batch.offset + 44, batch.offset + 44 + bodyLength);
        expect(blake3(body).toString('hex')).toBe(batch.bodyBlake3);
        const expected = trail.filter((entry) => entry.batch.offset === batch.offset).length;
        current = { offset: batch.offset, expected, seen: 0 };
        batches++;
        continue;
      }
      expect(current).toBeDefined();
      const at = current as { offset: number; seen: number };
      expect(parsed.index).toBe(at.seen);
      at.seen++;
      const { index: _index, ...entry } = parsed;
      entries.push(entry);
    }
    expect(batches).toBe(result.batchCount);
    expect(entries).toHaveLength(result.entryCount);
    // The policy's commit, the write's and the export's flush: one batch each.
    expect(batches).toBeGreaterThan(1);
    const plain = trail.map(({ time: _t, batch: _b, index: _i, ...entry }) => entry);
    expect(entries).toEqual(plain.slice(0, entries.length));
    // The export's own access is in it (noted before the export).
    expect(entries.at(-1)).toMatchObject({ actor: ADMIN, action: 'All', path: '/' });
    // From an offset: only batches at or after it.
    const later = join(directory, 'later.jsonl');
    const partial = cart.exportAudit(later, { from: middle });
    const offsets = readFileSync(later, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { batch?: { offset: number } })
      .flatMap((line) => (line.batch === undefined ? [] : [line.batch.offset]));
    expect(offsets.length).toBe(partial.batchCount);
    expect(offsets.every((offset) => offset >= middle)).toBe(true);
    expect(partial.entryCount).toBeLessThan(result.entryCount);
    expect(cart.verify().ok).toBe(true);
    cart.close();
  });

  it('refuses a bad outPath with a typed error', () => {
    const cart = Cartridge.create(join(directory, 'a.cart'), { audit: true });
    cart.createFile('/a', 'a');
    expectCode(() => cart.exportAudit(''), 'INVALID_ARGUMENT');
    expectCode(() => cart.exportAudit(42 as unknown as string), 'INVALID_ARGUMENT');
    expectCode(() => cart.exportAudit(join(directory, 'missing', 'x.jsonl')), 'IO_ERROR');
    expectCode(() => cart.exportAudit(directory), 'IO_ERROR');
    expectCode(
      () => cart.exportAudit(join(directory, 'x.jsonl'), { from: -1 }),
      'INVALID_ARGUMENT',
    );
    // The cartridge is unharmed.
    expect(cart.readFile('/a').toString()).toBe('a');
    cart.close();
  });
});
