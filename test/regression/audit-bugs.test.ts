import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/** Bugs found in the access-control and audit work, each as a named test. */

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-audit-bugs-'));
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

const ADMIN_ONLY = {
  Statement: [
    {
      Sid: 'Admin',
      Effect: 'Allow',
      Action: '*',
      Resource: '/**',
      Condition: { StringEquals: { 'cartridge:actor': 'admin' } },
    },
  ],
};

describe('audit and access regressions', () => {
  it('keeps an audit batch of long paths under the body limit (verify stays clean)', () => {
    // A batch was bounded by its count only: 2048 entries with 1 KB paths outgrew a body.
    const cartridge = Cartridge.create(join(directory, 'long.cart'), { audit: true });
    const path = `/${'d'.repeat(250)}/${'e'.repeat(250)}/${'f'.repeat(250)}/${'g'.repeat(250)}`;
    cartridge.createFile(path, 'x');
    for (let index = 0; index < 4200; index++) cartridge.exists(path);
    cartridge.flush();
    expect(cartridge.verify().ok).toBe(true);
    expect(cartridge.audit({ limit: 1_000_000 }).length).toBeGreaterThanOrEqual(4201);
    cartridge.close();
  });

  it('makes a follower enforce the policy it refreshed to, across a checkpoint root', () => {
    // The follower rebuilt its folds from the root; their version started again, and the
    // compiled policy of the old fold stayed in force.
    const path = join(directory, 'follow.cart');
    const writer = Cartridge.create(path, { actor: 'admin', checkpointIntervalBytes: 4096 });
    writer.createFile('/a', 'x');
    const reader = Cartridge.open(path, { readOnly: true, actor: 'agent' });
    expect(reader.readFile('/a').toString()).toBe('x');
    writer.setPolicy(ADMIN_ONLY);
    writer.checkpoint();
    reader.refresh();
    expectCode(() => reader.readFile('/a'), 'EACCES');
    writer.close();
    reader.close();
  });

  it('refuses to export the audit trail onto the cartridge itself, by any name', () => {
    // The export opened its target with truncation: the cartridge was wiped.
    const path = join(directory, 'self.cart');
    const cartridge = Cartridge.create(path, { audit: true });
    cartridge.createFile('/a', 'x');
    expectCode(() => cartridge.exportAudit(path), 'INVALID_ARGUMENT');
    expectCode(() => cartridge.exportAudit(join(directory, '.', 'self.cart')), 'INVALID_ARGUMENT');
    expect(cartridge.readFile('/a').toString()).toBe('x');
    cartridge.close();
    const again = Cartridge.open(path);
    expect(again.verify().ok).toBe(true);
    again.close();
  });

  it('lets conditions look at the context an as() handle carries (Numeric and String keys)', () => {
    // Without a way to pass context, conditions on custom keys (and every Numeric operator,
    // since no built-in key is a number) could never hold.
    const cartridge = Cartridge.memory({ actor: 'admin' });
    cartridge.createFile('/secret/plan', 'x');
    cartridge.setPolicy({
      Statement: [
        ...ADMIN_ONLY.Statement,
        {
          Sid: 'Cleared',
          Effect: 'Allow',
          Action: 'Read',
          Resource: '/secret/**',
          Condition: { NumericGreaterThanEquals: { 'app:clearance': '3' } },
        },
        {
          Sid: 'OtherTenants',
          Effect: 'Deny',
          Action: '*',
          Resource: '/**',
          Condition: { StringNotEquals: { 'app:tenant': 'acme' } },
        },
      ],
    });
    const cleared = cartridge.as('agent', { 'app:clearance': 3, 'app:tenant': 'acme' });
    expect(cleared.readFile('/secret/plan').toString()).toBe('x');
    expectCode(
      () =>
        cartridge
          .as('agent', { 'app:clearance': 2, 'app:tenant': 'acme' })
          .readFile('/secret/plan'),
      'EACCES',
    );
    expectCode(
      () =>
        cartridge
          .as('agent', { 'app:clearance': 5, 'app:tenant': 'other' })
          .readFile('/secret/plan'),
      'EACCES',
    );
    expectCode(() => cartridge.as('agent', { 'app:clearance': Number.NaN }), 'INVALID_ARGUMENT');
    cartridge.close();
  });

  it('keeps an actor a Deny holds back from administering, even when a condition exempts a name', () => {
    // The admin rule's probe of /secret/** was one name, /secret/x: a Deny exempting exactly
    // that name (by a cartridge:path condition) was not seen, and the agent could lift it.
    const cartridge = Cartridge.memory({ actor: 'admin' });
    cartridge.createFile('/secret/plan', 'x');
    cartridge.setPolicy({
      Statement: [
        { Sid: 'Everyone', Effect: 'Allow', Action: '*', Resource: '/**' },
        {
          Sid: 'Secret',
          Effect: 'Deny',
          Action: '*',
          Resource: '/secret/**',
          Condition: {
            StringNotEquals: { 'cartridge:actor': 'admin', 'cartridge:path': '/secret/x' },
          },
        },
      ],
    });
    const agent = cartridge.as('agent');
    expectCode(() => agent.readFile('/secret/plan'), 'EACCES');
    expectCode(() => agent.setPolicy(null), 'EACCES');
    cartridge.setPolicy(null);
    cartridge.close();
  });

  it('shows in a checkout the policy of its time', () => {
    // The policy is on the timeline: a view of the past reports the rules of the past.
    const cartridge = Cartridge.memory({ actor: 'admin' });
    const before = cartridge.head;
    cartridge.setPolicy(ADMIN_ONLY);
    expect(cartridge.checkout(before).policy()).toBeNull();
    expect(cartridge.checkout(cartridge.head).policy()).toEqual(cartridge.policy());
    cartridge.close();
  });
});
