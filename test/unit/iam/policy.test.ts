import { describe, expect, it } from 'vitest';
import { PolicyEvaluator } from '../../../src/iam/evaluator.js';
import {
  loadPolicy,
  type Policy,
  policyDocumentOf,
  serializePolicy,
} from '../../../src/iam/policy.js';
import {
  CONDITION_KEYS_MAX,
  CONDITION_VALUE_MAX_LENGTH,
  CONDITION_VALUES_MAX,
  PATTERN_WILDCARDS_MAX,
  POLICY_STATEMENTS_MAX,
  POLICY_TEXT_MAX_BYTES,
  SID_MAX_LENGTH,
  STATEMENT_ACTIONS_MAX,
  STATEMENT_CONDITION_OPERATORS_MAX,
  STATEMENT_CONDITION_VALUES_MAX,
  STATEMENT_RESOURCES_MAX,
} from '../../../src/iam/policy-limits.js';
import { PATH_MAX_BYTES } from '../../../src/limits.js';
import { expectCode } from '../../support/expect-code.js';

/** Loading the JSON form: what loads, what it loads as, and what is refused with its statement. */

const TIME = new Date('2026-11-30T12:00:00Z');

function allows(
  policy: Policy,
  action: 'Read' | 'Write' | 'Create' | 'Delete' | 'List',
  path: string,
) {
  return new PolicyEvaluator(policy).decide({ actor: 'agent', action, path, time: TIME }).allowed;
}

describe('loadPolicy: what loads', () => {
  it('reads the AWS-like form, a single statement object included', () => {
    const policy = loadPolicy({
      Version: '2012-10-17',
      Statement: { Sid: 'Docs', Effect: 'Allow', Action: 'Read', Resource: '/docs/*.md' },
    });
    expect(policy).toEqual({
      version: '2012-10-17',
      statements: [
        {
          sid: 'Docs',
          effect: 'Allow',
          actions: ['Read'],
          resources: ['/docs/*.md'],
          conditions: [],
        },
      ],
    });
  });

  it('reads JSON text as well as a parsed object', () => {
    const text = '{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}';
    expect(loadPolicy(text).statements[0]).toEqual({
      sid: null,
      effect: 'Deny',
      actions: ['All'],
      resources: ['/**'],
      conditions: [],
    });
  });

  it('takes actions in any case, with `*`, `cartridge:` and repeats, in canonical order', () => {
    const policy = loadPolicy({
      Statement: [
        { Effect: 'Allow', Action: ['list', 'READ', 'cartridge:Write', 'Read'], Resource: '/a' },
        { Effect: 'Allow', Action: ['Read', '*'], Resource: '/a' },
        { Effect: 'Allow', Action: 'cartridge:*', Resource: '/a' },
        { Effect: 'Allow', Action: ['create', 'delete', 'all'], Resource: '/a' },
      ],
    });
    expect(policy.statements.map((statement) => statement.actions)).toEqual([
      ['Read', 'Write', 'List'],
      ['All'],
      ['All'],
      ['All'],
    ]);
  });

  it('makes patterns canonical with the path function, so `..` cannot dodge a Deny', () => {
    const policy = loadPolicy({
      Statement: [
        { Effect: 'Allow', Action: 'All', Resource: '/**' },
        {
          Effect: 'Deny',
          Action: 'Read',
          Resource: ['/docs/../secret/*', '//a/./b//', '/cafe\u0301/*', '/x/**/**/y', '/x/**/**/y'],
        },
      ],
    });
    expect(policy.statements[1]?.resources).toEqual([
      '/secret/*',
      '/a/b',
      '/caf\u00e9/*',
      '/x/**/y',
    ]);
    expect(allows(policy, 'Read', '/secret/x')).toBe(false);
    expect(allows(policy, 'Read', '/docs/x')).toBe(true);
    expect(allows(policy, 'Read', '/caf\u00e9/menu')).toBe(false);
  });

  it('matches `*` inside one segment, `**` over segments, dot-files like any file', () => {
    const policy = loadPolicy({
      Statement: [
        { Effect: 'Allow', Action: 'Read', Resource: ['/docs/*.md', '/calls/**', '/a/?.log'] },
      ],
    });
    const cases: [string, boolean][] = [
      ['/docs/readme.md', true],
      ['/docs/.hidden.md', true],
      ['/docs/sub/readme.md', false],
      ['/docs/readme.mdx', false],
      ['/calls', true],
      ['/calls/2026/11/a.json', true],
      ['/calls/.env', true],
      ['/callsx', false],
      ['/a/1.log', true],
      ['/a/\u{1F600}.log', true],
      ['/a/12.log', false],
      ['/', false],
    ];
    for (const [path, expected] of cases) expect(allows(policy, 'Read', path), path).toBe(expected);
  });

  it('lets `/*` match every top-level name and not the root; `/**` and `/` match the root', () => {
    const policy = (resource: string) =>
      loadPolicy({ Statement: { Effect: 'Allow', Action: 'List', Resource: resource } });
    expect(allows(policy('/*'), 'List', '/')).toBe(false);
    expect(allows(policy('/*'), 'List', '/a')).toBe(true);
    expect(allows(policy('/**'), 'List', '/')).toBe(true);
    expect(allows(policy('/'), 'List', '/')).toBe(true);
    expect(allows(policy('/'), 'List', '/a')).toBe(false);
  });

  it('loads an empty statement list: a policy that denies everything', () => {
    const policy = loadPolicy({ Statement: [] });
    expect(allows(policy, 'Read', '/a')).toBe(false);
  });

  it('returns a policy it loaded as it is, frozen', () => {
    const policy = loadPolicy({ Statement: { Effect: 'Allow', Action: 'Read', Resource: '/a' } });
    expect(loadPolicy(policy)).toBe(policy);
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.statements[0]?.resources)).toBe(true);
  });
});

describe('serializePolicy', () => {
  const rich = {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Everyone', Effect: 'Allow', Action: ['read', 'list'], Resource: ['/**'] },
      {
        Effect: 'Deny',
        Resource: ['/secret/**', '/docs/../keys/*.pem'],
        Action: '*',
        Condition: {
          DateGreaterThan: { 'aws:CurrentTime': '2026-12-01T00:00:00+01:00' },
          StringNotEquals: { 'cartridge:actor': ['root', 'auditor', 'root'] },
          NumericLessThan: { 'app:clearance': [3, '2.50'] },
          StringLike: { 'cartridge:path': '/secret/*.txt' },
        },
      },
    ],
  };

  it('writes the canonical JSON form, deterministically', () => {
    const text = serializePolicy(loadPolicy(rich));
    expect(JSON.parse(text)).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Everyone', Effect: 'Allow', Action: ['Read', 'List'], Resource: ['/**'] },
        {
          Effect: 'Deny',
          Action: ['All'],
          Resource: ['/secret/**', '/keys/*.pem'],
          Condition: {
            StringNotEquals: { 'cartridge:actor': ['root', 'auditor'] },
            StringLike: { 'cartridge:path': ['/secret/*.txt'] },
            NumericLessThan: { 'app:clearance': ['3', '2.5'] },
            DateGreaterThan: { 'cartridge:time': ['2026-11-30T23:00:00.000Z'] },
          },
        },
      ],
    });
    expect(serializePolicy(loadPolicy(JSON.parse(JSON.stringify(rich))))).toBe(text);
  });

  it('round-trips: serialise, load, serialise gives the same text and an equal policy', () => {
    const policy = loadPolicy(rich);
    const text = serializePolicy(policy);
    const reloaded = loadPolicy(text);
    expect(reloaded).toEqual(policy);
    expect(serializePolicy(reloaded)).toBe(text);
    expect(loadPolicy(policyDocumentOf(policy))).toEqual(policy);
  });

  it('does not depend on the order keys were written in', () => {
    const reordered = {
      Statement: rich.Statement.map((statement) =>
        Object.fromEntries(Object.entries(statement).reverse()),
      ),
      Version: '2012-10-17',
    };
    expect(serializePolicy(loadPolicy(reordered))).toBe(serializePolicy(loadPolicy(rich)));
  });
});

describe('loadPolicy: what is refused, with the statement named', () => {
  const good = { Sid: 'Good', Effect: 'Allow', Action: 'Read', Resource: '/a' };

  /** The statement under test is the second one, so the message must say index 1. */
  function refusal(statement: unknown): string {
    return expectCode(() => loadPolicy({ Statement: [good, statement] }), 'INVALID_ARGUMENT')
      .message;
  }

  const base = { Sid: 'Bad', Effect: 'Deny', Action: 'Read', Resource: '/a' };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['NotAction', { ...base, NotAction: 'Read' }, /NotAction is not supported/],
    ['NotResource', { ...base, NotResource: '/a' }, /NotResource is not supported/],
    ['Principal', { ...base, Principal: '*' }, /Principal is not supported/],
    ['NotPrincipal', { ...base, NotPrincipal: '*' }, /NotPrincipal is not supported/],
    ['an unknown key', { ...base, Extra: 1 }, /unknown key "Extra"/],
    ['a lower-case key', { ...base, effect: 'Deny' }, /unknown key "effect"/],
    ['a missing Effect', { Sid: 'Bad', Action: 'Read', Resource: '/a' }, /Effect is missing/],
    ['a wrong Effect', { ...base, Effect: 'deny' }, /Effect must be/],
    ['a missing Action', { Sid: 'Bad', Effect: 'Deny', Resource: '/a' }, /Action is missing/],
    ['an unknown action', { ...base, Action: 'Execute' }, /unknown action "Execute"/],
    ['a non-string action', { ...base, Action: [1] }, /unknown action 1/],
    ['an empty Action', { ...base, Action: [] }, /Action is empty/],
    ['a missing Resource', { Sid: 'Bad', Effect: 'Deny', Action: 'Read' }, /Resource is missing/],
    ['an empty Resource', { ...base, Resource: [] }, /Resource is empty/],
    ['a relative pattern', { ...base, Resource: 'docs/*' }, /must start with \//],
    ['a non-string pattern', { ...base, Resource: [7] }, /must be a string/],
    ['** inside a segment', { ...base, Resource: '/a**' }, /whole path segment/],
    ['.. after a wildcard', { ...base, Resource: '/a/*/../b' }, /climbs out of a wildcard/],
    ['.. after **', { ...base, Resource: '/a/**/../b' }, /climbs out of a wildcard/],
    ['a policy variable', { ...base, Resource: '/home/${aws:username}/*' }, /variables/],
    ['a control character', { ...base, Resource: '/a\nb' }, /not a valid path.*U\+000A/],
    ['a bidi override', { ...base, Resource: '/a\u202Eb' }, /not a valid path/],
    ['a name too long', { ...base, Resource: `/${'n'.repeat(256)}` }, /not a valid path/],
    ['a bad Sid', { ...base, Sid: 'has space' }, /Sid "has space"/],
    ['a long Sid', { ...base, Sid: 's'.repeat(SID_MAX_LENGTH + 1) }, /Sid/],
    ['a non-object Condition', { ...base, Condition: 'x' }, /Condition must be an object/],
    ['an unknown operator', { ...base, Condition: { Bool: { 'app:x': 'true' } } }, /"Bool"/],
    [
      'IfExists',
      { ...base, Condition: { StringEqualsIfExists: { 'app:x': 'a' } } },
      /IfExists is not supported/,
    ],
    [
      'ForAnyValue',
      { ...base, Condition: { 'ForAnyValue:StringEquals': { 'app:x': 'a' } } },
      /unknown condition operator/,
    ],
    [
      'an unknown cartridge key',
      { ...base, Condition: { StringEquals: { 'cartridge:actr': 'a' } } },
      /unknown condition key "cartridge:actr"/,
    ],
    [
      'an unknown aws key',
      { ...base, Condition: { StringEquals: { 'aws:SourceIp': 'a' } } },
      /unknown condition key/,
    ],
    [
      'a malformed key',
      { ...base, Condition: { StringEquals: { 'app key': 'a' } } },
      /not a valid key name/,
    ],
    [
      'a wrong-typed built-in key',
      { ...base, Condition: { NumericLessThan: { 'cartridge:actor': 3 } } },
      /cannot apply to cartridge:actor/,
    ],
    [
      'a date operator on a string key',
      { ...base, Condition: { DateLessThan: { 'cartridge:path': '2026-01-01' } } },
      /cannot apply/,
    ],
    [
      'a string operator on the time',
      { ...base, Condition: { StringEquals: { 'cartridge:time': 'x' } } },
      /cannot apply/,
    ],
    ['an empty operator', { ...base, Condition: { StringEquals: {} } }, /no condition keys/],
    ['no values', { ...base, Condition: { StringEquals: { 'app:x': [] } } }, /has no values/],
    [
      'a non-numeric value',
      { ...base, Condition: { NumericEquals: { 'app:x': '0x10' } } },
      /takes numbers/,
    ],
    [
      'a non-date value',
      { ...base, Condition: { DateLessThan: { 'cartridge:time': 'next week' } } },
      /ISO 8601/,
    ],
    [
      'a non-string value',
      { ...base, Condition: { StringEquals: { 'app:x': 3 } } },
      /takes strings/,
    ],
    [
      'a control character in a value',
      { ...base, Condition: { StringEquals: { 'app:x': 'a\u0000' } } },
      /control or bidirectional character/,
    ],
    [
      'a bidirectional override in a value',
      { ...base, Condition: { StringEquals: { 'cartridge:actor': 'a\u202Eb' } } },
      /bidirectional/,
    ],
    [
      'a lone surrogate in a value',
      { ...base, Condition: { StringEquals: { 'app:x': 'a\uD800' } } },
      /lone surrogate/,
    ],
    [
      'an unknown action value',
      { ...base, Condition: { StringEquals: { 'cartridge:action': 'All' } } },
      /not an operation's action/,
    ],
    [
      'a non-canonical path pattern value',
      { ...base, Condition: { StringLike: { 'cartridge:path': '/a//*' } } },
      /not canonical/,
    ],
    [
      'one key twice',
      { ...base, Condition: { StringEquals: { 'cartridge:actor': 'a', 'aws:username': 'b' } } },
      /names the key cartridge:actor twice/,
    ],
  ];

  it.each(cases)('refuses %s', (_name, statement, reason) => {
    const message = refusal(statement);
    expect(message).toMatch(reason);
    expect(message).toMatch(/statement 1\b/);
  });

  it('names the statement by its Sid when it has one', () => {
    expect(refusal({ ...base, NotAction: 'Read' })).toContain('statement 1 (Sid "Bad")');
    const { Sid: _sid, ...withoutSid } = base;
    expect(refusal({ ...withoutSid, NotAction: 'Read' })).toContain('statement 1:');
  });

  it('refuses a Sid used twice, naming both statements', () => {
    const message = refusal({ ...base, Sid: 'Good' });
    expect(message).toMatch(/statement 1 \(Sid "Good"\): the Sid is already used by statement 0/);
  });

  it.each([
    ['not an object', 42, /must be an object/],
    ['an array', [], /must be an object/],
    ['a missing Statement', { Version: '2012-10-17' }, /Statement is missing/],
    ['an unknown top-level key', { Statement: [], Id: 'x' }, /unknown key "Id"/],
    ['another version', { Version: '2008-10-17', Statement: [] }, /Version must be/],
    ['text that is not JSON', '{"Statement": [', /not JSON/],
    ['a statement that is not an object', { Statement: ['Allow'] }, /statement 0: a statement/],
    ['a class instance', new (class Policy {})(), /must be an object/],
  ])('refuses %s', (_name, input, reason) => {
    expect(expectCode(() => loadPolicy(input), 'INVALID_ARGUMENT').message).toMatch(reason);
  });
});

describe('loadPolicy: limits', () => {
  const base = { Effect: 'Allow', Action: 'Read', Resource: '/a' };
  const refuses = (input: unknown, reason: RegExp) =>
    expect(expectCode(() => loadPolicy(input), 'INVALID_ARGUMENT').message).toMatch(reason);

  it('bounds the statements, and accepts exactly the limit', () => {
    const statements = Array.from({ length: POLICY_STATEMENTS_MAX }, () => base);
    expect(loadPolicy({ Statement: statements }).statements).toHaveLength(POLICY_STATEMENTS_MAX);
    refuses({ Statement: [...statements, base] }, /statements, the limit is/);
  });

  it('bounds actions, resources and pattern length and wildcards', () => {
    const actions = Array.from({ length: STATEMENT_ACTIONS_MAX + 1 }, () => 'Read');
    refuses({ Statement: { ...base, Action: actions } }, /statement 0: Action has 17 entries/);
    const resources = Array.from({ length: STATEMENT_RESOURCES_MAX + 1 }, (_, i) => `/r${i}`);
    refuses({ Statement: { ...base, Resource: resources } }, /Resource has 65 entries/);
    const longPattern = `/${'a/'.repeat(PATH_MAX_BYTES / 2)}`;
    refuses({ Statement: { ...base, Resource: longPattern } }, /longer than 4096 bytes/);
    const wild = `/${Array.from({ length: PATTERN_WILDCARDS_MAX + 1 }, () => '*').join('/')}`;
    refuses({ Statement: { ...base, Resource: wild } }, /wildcards, the limit is/);
  });

  it('bounds condition operators, keys, values and their length', () => {
    const withCondition = (Condition: unknown) => ({ Statement: { ...base, Condition } });
    const operators = Object.fromEntries(
      Array.from({ length: STATEMENT_CONDITION_OPERATORS_MAX + 1 }, (_, i) => [`Op${i}`, {}]),
    );
    refuses(withCondition(operators), /operators, the limit is/);
    const keys = Object.fromEntries(
      Array.from({ length: CONDITION_KEYS_MAX + 1 }, (_, i) => [`app:k${i}`, 'v']),
    );
    refuses(withCondition({ StringEquals: keys }), /keys, the limit is/);
    const values = Array.from({ length: CONDITION_VALUES_MAX + 1 }, (_, i) => `v${i}`);
    refuses(withCondition({ StringEquals: { 'app:k': values } }), /values, the limit is/);
    const manyKeys = Object.fromEntries(
      Array.from({ length: 5 }, (_, k) => [
        `app:k${k}`,
        Array.from({ length: CONDITION_VALUES_MAX }, (_, i) => `v${i}`),
      ]),
    );
    expect(5 * CONDITION_VALUES_MAX).toBeGreaterThan(STATEMENT_CONDITION_VALUES_MAX);
    refuses(withCondition({ StringEquals: manyKeys }), /values in all/);
    const long = 'v'.repeat(CONDITION_VALUE_MAX_LENGTH + 1);
    refuses(withCondition({ StringEquals: { 'app:k': long } }), /characters is longer/);
    refuses(withCondition({ StringEquals: { [`app:${'k'.repeat(200)}`]: 'v' } }), /key of 204/);
  });

  it('bounds the text and the canonical form in bytes', () => {
    refuses(' '.repeat(POLICY_TEXT_MAX_BYTES + 1), /text of \d+ bytes is over/);
    // Within every per-statement limit, but too large in all for a journal record.
    const bulky = Array.from({ length: 200 }, (_, s) => ({
      ...base,
      Resource: Array.from({ length: 64 }, (_, r) => `/${'p'.repeat(40)}/${s}/${r}`),
    }));
    refuses({ Statement: bulky }, /canonical form of \d+ bytes is over/);
  });
});
