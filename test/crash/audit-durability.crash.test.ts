import { describe, expect, it } from 'vitest';
import { Cartridge, type Durability } from '../../src/index.js';
import { type CrashMode, FaultStorage } from '../support/fault-storage.js';
import { expectCode } from '../support/expect-code.js';

/**
 * The audit lane under power loss, with the fault storage's simulated crash: in 'full' a
 * change's audit entry is durable with its commit (as are the entries gathered before it);
 * reads' entries, which ride in no commit of their own, are durable after flush() or close()
 * in every mode; and the accesses of a transaction that rolled back are written with the next
 * commit and share its durability. Each crash is tried under several models of what the disk
 * kept of the unsynced writes: what was promised must survive every one of them.
 */

const PATH = '/audit-durability.cart';
const ADMIN = 'admin';
const AGENT = 'agent-7';
const HOUR_MS = 3_600_000;

const POLICY = {
  Statement: [
    { Sid: 'Everyone', Effect: 'Allow', Action: 'All', Resource: '/**' },
    {
      Sid: 'Secret',
      Effect: 'Deny',
      Action: 'All',
      Resource: '/secret/**',
      Condition: { StringNotEquals: { 'cartridge:actor': ADMIN } },
    },
  ],
};

const CRASH_MODES: readonly CrashMode[] = [
  { kind: 'drop-unsynced' },
  { kind: 'keep-subset', seed: 11 },
  { kind: 'keep-subset', seed: 12 },
  { kind: 'tear-last', sectorBytes: 512, seed: 13 },
  { kind: 'size-before-content', seed: 14 },
];

/** A cartridge on fault storage, audited, that never syncs on a timer during the test. */
function created(storage: FaultStorage, durability: Durability): Cartridge {
  const cart = Cartridge.create(PATH, {
    storage,
    durability,
    actor: ADMIN,
    audit: true,
    syncIntervalMs: HOUR_MS,
  });
  cart.createFile('/pub/f', 'f');
  cart.createFile('/secret/s', 's');
  cart.setPolicy(POLICY);
  // Everything so far is durable: the crash below tests what follows.
  cart.flush();
  return cart;
}

/** Cuts the power, reboots, and returns the entries of the reopened trail, as text. */
function afterCrash(
  storage: FaultStorage,
  mode: CrashMode,
  actor = AGENT,
): { trail: string[]; cart: Cartridge } {
  storage.crash(mode);
  const cart = Cartridge.open(PATH, { storage, actor: ADMIN });
  expect(cart.verify().ok).toBe(true);
  const trail = cart
    .audit({ actor, limit: 100_000 })
    .map((entry) => `${entry.action} ${entry.path} ${entry.allowed} ${entry.rolledBack}`);
  return { trail, cart };
}

function label(mode: CrashMode): string {
  return JSON.stringify(mode);
}

describe("durability 'full'", () => {
  it("makes a change's audit entry durable with its commit, with the entries before it", () => {
    for (const mode of CRASH_MODES) {
      const storage = new FaultStorage(1);
      const cart = created(storage, 'full');
      const agent = cart.as(AGENT);
      agent.readFile('/pub/f');
      expectCode(() => agent.readFile('/secret/s'), 'EACCES');
      agent.writeFile('/pub/f', 'written');
      // The call returned: the power fails now.
      const { trail, cart: reopened } = afterCrash(storage, mode);
      expect(trail, label(mode)).toEqual([
        'Read /pub/f true false',
        'Read /secret/s false false',
        'Write /pub/f true false',
      ]);
      const [write] = reopened.audit({ actor: AGENT, action: 'Write' });
      expect(write?.changeOffset, label(mode)).toBe(reopened.history('/pub/f')[0]?.offset);
      expect(reopened.readFile('/pub/f').toString()).toBe('written');
      reopened.close();
    }
  });

  it('makes the entry of every kind of change durable when its call returns', () => {
    // The administrative ones are the admin's: the agent, held back from /secret, is none.
    const changes: [string, string, (cart: Cartridge) => unknown][] = [
      ['Create /pub/new true false', AGENT, (cart) => cart.createFile('/pub/new', 'n')],
      ['Write /pub/f true false', AGENT, (cart) => cart.appendFile('/pub/f', '+')],
      ['Delete /pub/f true false', AGENT, (cart) => cart.deleteFile('/pub/f')],
      ['Create /pub/d true false', AGENT, (cart) => cart.createDir('/pub/d')],
      ['All / true false', ADMIN, (cart) => cart.createSnapshot('s')],
      ['All / true false', ADMIN, (cart) => cart.setPolicy(POLICY)],
    ];
    for (const [expected, actor, change] of changes) {
      for (const mode of CRASH_MODES.slice(0, 2)) {
        const storage = new FaultStorage(2);
        const cart = created(storage, 'full');
        change(cart.as(actor));
        const { trail, cart: reopened } = afterCrash(storage, mode, actor);
        // The admin's trail after the crash also holds what created() did, flushed before.
        expect(trail.at(-1), `${expected} ${label(mode)}`).toBe(expected);
        if (actor === AGENT) expect(trail, `${expected} ${label(mode)}`).toEqual([expected]);
        reopened.close();
      }
    }
  });

  it('writes the accesses of a rolled-back transaction with the next commit, durably', () => {
    for (const mode of CRASH_MODES) {
      const storage = new FaultStorage(3);
      const cart = created(storage, 'full');
      const agent = cart.as(AGENT);
      expect(() =>
        agent.transaction(() => {
          agent.writeFile('/pub/f', 'never');
          agent.createFile('/pub/t', 't');
          expectCode(() => agent.writeFile('/secret/s', 'x'), 'EACCES');
          throw new Error('abort');
        }),
      ).toThrow('abort');
      agent.createFile('/pub/next', 'n');
      const { trail, cart: reopened } = afterCrash(storage, mode);
      expect(trail, label(mode)).toEqual([
        'Write /pub/f true true',
        'Create /pub/t true true',
        'Write /secret/s false false',
        'Create /pub/next true false',
      ]);
      const rolledBack = reopened.audit({ actor: AGENT, path: '/pub/t' });
      expect(rolledBack.map((entry) => entry.changeOffset)).toEqual([null]);
      expect(reopened.exists('/pub/t')).toBe(false);
      expect(reopened.readFile('/pub/f').toString()).toBe('f');
      reopened.close();
    }
  });
});

describe('reads, which commit nothing of their own', () => {
  const MODES: readonly Durability[] = ['full', 'normal', 'off'];

  /** Reads and refusals as the agent: entries that wait in the lane. */
  function readAround(cart: Cartridge): void {
    const agent = cart.as(AGENT);
    agent.readFile('/pub/f');
    agent.listDir('/pub');
    agent.exists('/pub/none');
    agent.metadata('/pub/f');
    expectCode(() => agent.readFile('/secret/s'), 'EACCES');
    expectCode(() => agent.listDir('/secret'), 'EACCES');
  }

  const READ_TRAIL = [
    'Read /pub/f true false',
    'List /pub true false',
    'Read /pub/none true false',
    'Read /pub/f true false',
    'Read /secret/s false false',
    'List /secret false false',
  ];

  it('are durable after flush(), in every durability mode', () => {
    for (const durability of MODES) {
      for (const mode of CRASH_MODES) {
        const storage = new FaultStorage(4);
        const cart = created(storage, durability);
        readAround(cart);
        cart.flush();
        const { trail, cart: reopened } = afterCrash(storage, mode);
        expect(trail, `${durability} ${label(mode)}`).toEqual(READ_TRAIL);
        reopened.close();
      }
    }
  });

  it('are durable after close(), in every durability mode', () => {
    for (const durability of MODES) {
      for (const mode of CRASH_MODES) {
        const storage = new FaultStorage(5);
        const cart = created(storage, durability);
        readAround(cart);
        cart.close();
        const { trail, cart: reopened } = afterCrash(storage, mode);
        expect(trail, `${durability} ${label(mode)}`).toEqual(READ_TRAIL);
        reopened.close();
      }
    }
  });

  it('are lost with the process when nothing wrote them (the crash model bites)', () => {
    const storage = new FaultStorage(6);
    const cart = created(storage, 'full');
    readAround(cart);
    const { trail, cart: reopened } = afterCrash(storage, { kind: 'drop-unsynced' });
    expect(trail).toEqual([]);
    reopened.close();
  });

  it("in 'normal', ride with a commit and are durable with its flush", () => {
    for (const mode of CRASH_MODES) {
      const storage = new FaultStorage(7);
      const cart = created(storage, 'normal');
      readAround(cart);
      const agent = cart.as(AGENT);
      expect(() =>
        agent.transaction(() => {
          agent.appendFile('/pub/f', 'never');
          throw new Error('abort');
        }),
      ).toThrow('abort');
      agent.writeFile('/pub/f', 'w');
      cart.flush();
      const { trail, cart: reopened } = afterCrash(storage, mode);
      expect(trail, label(mode)).toEqual([
        ...READ_TRAIL,
        'Write /pub/f true true',
        'Write /pub/f true false',
      ]);
      reopened.close();
    }
  });
});
