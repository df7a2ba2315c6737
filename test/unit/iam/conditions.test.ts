import { describe, expect, it } from 'vitest';
import {
  CONDITION_KEYS,
  CONDITION_OPERATORS,
  compileCondition,
  conditionsHold,
  type RequestContext,
} from '../../../src/iam/conditions.js';
import { parseConditionBlock } from '../../../src/iam/condition-block.js';

/** Condition operators over the request context: types, ORs and ANDs, missing keys. */

const REQUEST: RequestContext = {
  actor: 'agent-42',
  action: 'Read',
  path: '/calls/2026/a.json',
  time: new Date('2026-11-30T12:00:00Z'),
  context: {
    'App:Tenant': 'acme',
    'app:level': 3,
    'app:levelText': '2.5',
    'app:expires': new Date('2027-01-01T00:00:00Z'),
  },
};

function holds(block: unknown, request: RequestContext = REQUEST): boolean {
  return conditionsHold(parseConditionBlock(block), request);
}

describe('string operators', () => {
  it.each([
    [{ StringEquals: { 'cartridge:actor': 'agent-42' } }, true],
    [{ StringEquals: { 'cartridge:actor': 'Agent-42' } }, false],
    [{ StringEquals: { 'cartridge:actor': ['x', 'agent-42'] } }, true],
    [{ StringNotEquals: { 'cartridge:actor': 'x' } }, true],
    [{ StringNotEquals: { 'cartridge:actor': ['x', 'agent-42'] } }, false],
    [{ StringLike: { 'cartridge:actor': 'agent-*' } }, true],
    [{ StringLike: { 'cartridge:actor': 'agent-?' } }, false],
    [{ StringLike: { 'cartridge:actor': 'agent-??' } }, true],
    [{ StringNotLike: { 'cartridge:actor': 'agent-*' } }, false],
    [{ StringNotLike: { 'cartridge:actor': ['bot-*', 'admin'] } }, true],
    [{ StringEquals: { 'cartridge:action': 'read' } }, true],
    [{ StringEquals: { 'cartridge:action': ['Write', 'Delete'] } }, false],
    [{ StringEquals: { 'cartridge:path': '/calls//2026/./a.json' } }, true],
    // `*` in StringLike spans `/`, as in AWS: it is a string pattern, not a path pattern.
    [{ StringLike: { 'cartridge:path': '/calls/*' } }, true],
    [{ StringLike: { 'cartridge:path': '*.json' } }, true],
    [{ StringLike: { 'cartridge:path': '/calls/?' } }, false],
  ])('%j holds: %s', (block, expected) => {
    expect(holds(block)).toBe(expected);
  });
});

describe('numeric operators', () => {
  it.each([
    ['NumericEquals', 3, true],
    ['NumericEquals', '3.0', true],
    ['NumericNotEquals', 3, false],
    ['NumericNotEquals', [1, 2], true],
    ['NumericLessThan', 3, false],
    ['NumericLessThan', 4, true],
    ['NumericLessThanEquals', 3, true],
    ['NumericGreaterThan', 3, false],
    ['NumericGreaterThan', [5, 2], true],
    ['NumericGreaterThanEquals', 3, true],
    ['NumericGreaterThanEquals', '3e1', false],
  ])('app:level (3) %s %j: %s', (operator, value, expected) => {
    expect(holds({ [operator]: { 'app:level': value } })).toBe(expected);
  });

  it('reads a numeric string in the context as a number, anything else as missing', () => {
    expect(holds({ NumericGreaterThan: { 'app:levelText': 2 } })).toBe(true);
    expect(holds({ NumericEquals: { 'app:tenant': 0 } })).toBe(false);
    expect(holds({ NumericNotEquals: { 'app:tenant': 0 } })).toBe(false);
    expect(holds({ NumericNotEquals: { 'app:expires': 0 } })).toBe(false);
  });
});

describe('date operators', () => {
  const noon = '2026-11-30T12:00:00Z';
  it.each([
    ['DateLessThan', '2026-12-01', true],
    ['DateLessThan', noon, false],
    ['DateLessThanEquals', noon, true],
    ['DateGreaterThan', '2026-11-30T11:59:59.999Z', true],
    ['DateGreaterThan', noon, false],
    ['DateGreaterThanEquals', '2026-11-30T13:00:00+01:00', true],
    ['DateEquals', '2026-11-30T12:00:00.000Z', true],
    ['DateNotEquals', noon, false],
    ['DateNotEquals', ['2020-01-01', '2021-01-01'], true],
  ])('cartridge:time %s %j: %s', (operator, value, expected) => {
    expect(holds({ [operator]: { 'cartridge:time': value } })).toBe(expected);
  });

  it('accepts aws:CurrentTime for the time and reads dates from the extra context', () => {
    expect(holds({ DateLessThan: { 'aws:CurrentTime': '2027-01-01' } })).toBe(true);
    expect(holds({ DateGreaterThan: { 'app:expires': '2026-12-31' } })).toBe(true);
    expect(holds({ DateGreaterThan: { 'app:level': '2026-12-31' } })).toBe(false);
  });
});

describe('combining and missing keys', () => {
  it('ANDs keys and operators, ORs values', () => {
    const both = {
      StringEquals: { 'cartridge:actor': ['x', 'agent-42'], 'cartridge:action': 'Read' },
      DateLessThan: { 'cartridge:time': '2027-01-01' },
    };
    expect(holds(both)).toBe(true);
    expect(holds({ ...both, StringLike: { 'cartridge:path': '/other/*' } })).toBe(false);
    expect(holds({ StringEquals: { 'cartridge:actor': 'agent-42', 'app:tenant': 'other' } })).toBe(
      false,
    );
  });

  it('finds extra keys case-insensitively, and treats a missing one as false', () => {
    expect(holds({ StringEquals: { 'app:tenant': 'acme' } })).toBe(true);
    expect(holds({ StringEquals: { 'APP:TENANT': 'acme' } })).toBe(true);
    expect(holds({ StringEquals: { 'app:region': 'eu' } })).toBe(false);
    // Negated operators too: a condition that cannot be evaluated never holds.
    expect(holds({ StringNotEquals: { 'app:region': 'eu' } })).toBe(false);
    expect(holds({ StringNotLike: { 'app:region': 'eu' } })).toBe(false);
    const { context: _context, ...withoutContext } = REQUEST;
    expect(holds({ StringEquals: { 'app:tenant': 'acme' } }, withoutContext)).toBe(false);
  });

  it('reads built-in keys case-insensitively and ignores them in the extra context', () => {
    expect(holds({ StringEquals: { 'Cartridge:Actor': 'agent-42' } })).toBe(true);
    expect(holds({ StringEquals: { 'aws:username': 'agent-42' } })).toBe(true);
    const forged = { ...REQUEST, context: { 'cartridge:actor': 'root' } };
    expect(holds({ StringEquals: { 'cartridge:actor': 'root' } }, forged)).toBe(false);
  });

  it('compares numbers and dates in the context as text under string operators', () => {
    expect(holds({ StringEquals: { 'app:level': '3' } })).toBe(true);
    expect(holds({ StringLike: { 'app:expires': '2027-*' } })).toBe(true);
  });

  it('an empty block holds', () => {
    expect(holds({})).toBe(true);
  });
});

describe('parseConditionBlock: canonical form', () => {
  it('orders by operator then key, whatever order they were written in', () => {
    const conditions = parseConditionBlock({
      DateLessThan: { 'aws:CurrentTime': '2027-01-01' },
      StringEquals: { 'app:b': 'x', 'App:A': 'y' },
    });
    expect(conditions).toEqual([
      { operator: 'StringEquals', key: 'app:a', values: ['y'] },
      { operator: 'StringEquals', key: 'app:b', values: ['x'] },
      { operator: 'DateLessThan', key: 'cartridge:time', values: ['2027-01-01T00:00:00.000Z'] },
    ]);
  });

  it('knows sixteen operators and four built-in keys', () => {
    expect(CONDITION_OPERATORS).toHaveLength(16);
    expect(Object.values(CONDITION_KEYS)).toEqual([
      'cartridge:actor',
      'cartridge:action',
      'cartridge:path',
      'cartridge:time',
    ]);
  });

  it('marks conditions on the time or the extra context as volatile, others not', () => {
    const volatile = (block: unknown) =>
      parseConditionBlock(block).map((condition) => compileCondition(condition).volatile);
    expect(volatile({ StringEquals: { 'cartridge:actor': 'a', 'cartridge:path': '/a' } })).toEqual([
      false,
      false,
    ]);
    expect(volatile({ DateLessThan: { 'cartridge:time': '2027-01-01' } })).toEqual([true]);
    expect(volatile({ StringEquals: { 'app:tenant': 'a' } })).toEqual([true]);
  });
});
