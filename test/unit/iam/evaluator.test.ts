import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../../src/assert.js';
import { type AccessRequest, PolicyEvaluator } from '../../../src/iam/evaluator.js';
import { loadPolicy } from '../../../src/iam/policy.js';

/** Decisions: default deny, Deny over Allow, the deciding statement named, the cache. */

const TIME = new Date('2026-11-30T12:00:00Z');

function request(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return { actor: 'agent', action: 'Read', path: '/docs/a.md', time: TIME, ...overrides };
}

const policy = loadPolicy({
  Statement: [
    { Sid: 'ReadDocs', Effect: 'Allow', Action: ['Read', 'List'], Resource: '/docs/**' },
    { Effect: 'Allow', Action: 'All', Resource: '/docs/*.md' },
    { Sid: 'NoSecrets', Effect: 'Deny', Action: 'All', Resource: '/docs/secret/**' },
    {
      Sid: 'NoNightWrites',
      Effect: 'Deny',
      Action: 'Write',
      Resource: '/**',
      Condition: { DateGreaterThan: { 'cartridge:time': '2026-11-30T22:00:00Z' } },
    },
    {
      Sid: 'NotBob',
      Effect: 'Deny',
      Action: 'All',
      Resource: '/docs/**',
      Condition: { StringEquals: { 'cartridge:actor': 'bob' } },
    },
  ],
});

describe('PolicyEvaluator.decide', () => {
  const evaluator = new PolicyEvaluator(policy);

  it('allows by the first matching Allow and names it', () => {
    expect(evaluator.decide(request())).toEqual({
      allowed: true,
      sid: 'ReadDocs',
      statementIndex: 0,
    });
    expect(evaluator.decide(request({ action: 'Write' }))).toEqual({
      allowed: true,
      sid: null,
      statementIndex: 1,
    });
  });

  it('denies by default, naming no statement', () => {
    expect(evaluator.decide(request({ path: '/other' }))).toEqual({
      allowed: false,
      sid: null,
      statementIndex: null,
    });
    expect(evaluator.decide(request({ action: 'Delete', path: '/docs/a.txt' })).allowed).toBe(
      false,
    );
  });

  it('lets a matching Deny win over any Allow, and names the first matching Deny', () => {
    expect(evaluator.decide(request({ path: '/docs/secret/x.md' }))).toEqual({
      allowed: false,
      sid: 'NoSecrets',
      statementIndex: 2,
    });
    expect(evaluator.decide(request({ actor: 'bob', path: '/docs/secret/x.md' })).sid).toBe(
      'NoSecrets',
    );
    expect(evaluator.decide(request({ actor: 'bob' })).sid).toBe('NotBob');
  });

  it('evaluates conditions against the request time', () => {
    const night = new Date('2026-11-30T23:00:00Z');
    expect(evaluator.decide(request({ action: 'Write', time: night })).sid).toBe('NoNightWrites');
    expect(evaluator.decide(request({ action: 'Write' })).allowed).toBe(true);
  });

  it('asserts what only an engine bug can break: a canonical path and a concrete action', () => {
    const fresh = new PolicyEvaluator(policy);
    expect(() => fresh.decide(request({ path: '/docs/../secret' }))).toThrow(AssertionError);
    expect(() => fresh.decide(request({ path: '/docs/' }))).toThrow(AssertionError);
    expect(() => fresh.decide(request({ action: 'All' as 'Read' }))).toThrow(AssertionError);
  });
});

describe('PolicyEvaluator cache', () => {
  it('caches decisions that depend only on the actor, action and path', () => {
    const evaluator = new PolicyEvaluator(policy);
    const first = evaluator.decide(request());
    expect(evaluator.cachedDecisionCount).toBe(1);
    expect(evaluator.decide(request())).toBe(first);
    // The night-writes Deny looks at the time: a Write decision is not cached.
    evaluator.decide(request({ action: 'Write' }));
    expect(evaluator.cachedDecisionCount).toBe(1);
    evaluator.clearCache();
    expect(evaluator.cachedDecisionCount).toBe(0);
  });

  it('never serves a time-dependent decision from the cache', () => {
    const evaluator = new PolicyEvaluator(policy);
    const night = new Date('2026-11-30T23:00:00Z');
    for (let round = 0; round < 3; round += 1) {
      expect(evaluator.decide(request({ action: 'Write' })).allowed).toBe(true);
      expect(evaluator.decide(request({ action: 'Write', time: night })).allowed).toBe(false);
    }
  });

  it('never serves a context-dependent decision from the cache', () => {
    const tenantOnly = new PolicyEvaluator(
      loadPolicy({
        Statement: {
          Effect: 'Allow',
          Action: 'Read',
          Resource: '/**',
          Condition: { StringEquals: { 'app:tenant': 'acme' } },
        },
      }),
    );
    for (let round = 0; round < 3; round += 1) {
      expect(tenantOnly.decide(request({ context: { 'app:tenant': 'acme' } })).allowed).toBe(true);
      expect(tenantOnly.decide(request({ context: { 'app:tenant': 'evil' } })).allowed).toBe(false);
    }
    expect(tenantOnly.cachedDecisionCount).toBe(0);
  });

  it('keeps actors apart even when actor and path could be spelt into one another', () => {
    const evaluator = new PolicyEvaluator(
      loadPolicy({
        Statement: {
          Effect: 'Allow',
          Action: 'Read',
          Resource: '/**',
          Condition: { StringEquals: { 'cartridge:actor': 'a' } },
        },
      }),
    );
    expect(evaluator.decide(request({ actor: 'a', path: '/b/c' })).allowed).toBe(true);
    expect(evaluator.decide(request({ actor: 'a/b', path: '/c' })).allowed).toBe(false);
  });

  it('is bounded in entries, dropping the least recently used', () => {
    const evaluator = new PolicyEvaluator(policy, { cacheEntries: 3 });
    for (const name of ['a', 'b', 'c']) evaluator.decide(request({ path: `/docs/${name}` }));
    evaluator.decide(request({ path: '/docs/a' }));
    evaluator.decide(request({ path: '/docs/d' }));
    expect(evaluator.cachedDecisionCount).toBe(3);
    const none = new PolicyEvaluator(policy, { cacheEntries: 0 });
    none.decide(request());
    expect(none.cachedDecisionCount).toBe(0);
  });
});
