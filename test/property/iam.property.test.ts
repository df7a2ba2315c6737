import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RequestAction } from '../../src/iam/action.js';
import { PolicyEvaluator } from '../../src/iam/evaluator.js';
import { loadPolicy } from '../../src/iam/policy.js';
import { canonicalPath } from '../../src/path/canonical-path.js';

/**
 * The policy evaluator against a reference written here as plainly as possible: random
 * policies (patterns with `*`, `?`, `**`, `.` and `..`, actions in any spelling, conditions on
 * the actor, the action, the time and an extra key), random actors, actions, times and path
 * spellings. The reference makes patterns and paths canonical by splitting on `/` itself,
 * matches by brute-force recursion, and decides by the rule "any matching Deny wins, else any
 * matching Allow, else deny". Each policy's evaluator answers every request twice, so cached
 * answers are checked too. fast-check prints the seed of a failure; `PROPERTY_SEED` replays it.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '300', 10) || 300;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

// ---- The reference ----

/** `é` in two spellings: NFC (one code point) and NFD (e and a combining accent). */
const E_ACUTE_NFC = '\u00e9';
const E_ACUTE_NFD = 'e\u0301';

/** Lexical canonical form as a list of names; null when `..` climbs out of a wildcard. */
function referenceSegments(spelling: string, refuseWildcardClimb: boolean): string[] | null {
  const names: string[] = [];
  for (const raw of spelling.normalize('NFC').split('/')) {
    if (raw === '' || raw === '.') continue;
    if (raw === '..') {
      const popped = names.pop();
      if (refuseWildcardClimb && popped !== undefined && /[*?]/.test(popped)) return null;
      continue;
    }
    names.push(raw);
  }
  return names;
}

/** `*` any characters, `?` one code point, everything else itself: brute-force recursion. */
function referenceNameMatches(pattern: string[], name: string[]): boolean {
  if (pattern.length === 0) return name.length === 0;
  const [head, ...rest] = pattern;
  if (head === '*') {
    for (let taken = 0; taken <= name.length; taken += 1) {
      if (referenceNameMatches(rest, name.slice(taken))) return true;
    }
    return false;
  }
  if (name.length === 0) return false;
  return (head === '?' || head === name[0]) && referenceNameMatches(rest, name.slice(1));
}

function referencePathMatches(pattern: string[], path: string[]): boolean {
  if (pattern.length === 0) return path.length === 0;
  const [head, ...rest] = pattern;
  if (head === '**') {
    for (let taken = 0; taken <= path.length; taken += 1) {
      if (referencePathMatches(rest, path.slice(taken))) return true;
    }
    return false;
  }
  if (path.length === 0) return false;
  const first = path[0] as string;
  return (
    referenceNameMatches(Array.from(head as string), Array.from(first)) &&
    referencePathMatches(rest, path.slice(1))
  );
}

interface ReferenceCondition {
  readonly operator: string;
  readonly key: string;
  readonly values: readonly (string | number)[];
}

interface ReferenceStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string[];
  readonly Resource: string[];
  readonly conditions: ReferenceCondition[];
}

interface ReferenceRequest {
  readonly actor: string;
  readonly action: RequestAction;
  readonly path: string[];
  readonly time: Date;
  readonly level: number | undefined;
}

function referenceConditionHolds(
  condition: ReferenceCondition,
  request: ReferenceRequest,
): boolean {
  const { operator, key, values } = condition;
  if (key === 'cartridge:time') {
    const time = request.time.getTime();
    const dates = values.map((value) => Date.parse(String(value)));
    if (operator === 'DateLessThan') return dates.some((date) => time < date);
    return dates.some((date) => time > date);
  }
  if (key === 'app:level') {
    if (request.level === undefined) return false;
    const level = request.level;
    return values.some((value) => level < Number(value));
  }
  const actual = key === 'cartridge:actor' ? request.actor : request.action;
  const equal = values.some((value) => value === actual);
  const like = values.some((value) =>
    referenceNameMatches(Array.from(String(value)), Array.from(actual)),
  );
  if (operator === 'StringEquals') return equal;
  if (operator === 'StringNotEquals') return !equal;
  return like;
}

function referenceStatementMatches(
  statement: ReferenceStatement,
  request: ReferenceRequest,
): boolean {
  const actions = statement.Action.map((action) => action.toLowerCase());
  const actionMatches =
    actions.includes('*') ||
    actions.includes('all') ||
    actions.includes(request.action.toLowerCase());
  if (!actionMatches) return false;
  const resourceMatches = statement.Resource.some((resource) => {
    const pattern = referenceSegments(resource, true) as string[];
    return referencePathMatches(pattern, request.path);
  });
  return resourceMatches && statement.conditions.every((c) => referenceConditionHolds(c, request));
}

/** The deciding statement's index: the first matching Deny, else the first matching Allow. */
function referenceDecide(
  statements: readonly ReferenceStatement[],
  request: ReferenceRequest,
): { allowed: boolean; statementIndex: number | null } {
  const matching = statements
    .map((statement, index) => ({ statement, index }))
    .filter(({ statement }) => referenceStatementMatches(statement, request));
  const deny = matching.find(({ statement }) => statement.Effect === 'Deny');
  if (deny !== undefined) return { allowed: false, statementIndex: deny.index };
  const allow = matching.find(({ statement }) => statement.Effect === 'Allow');
  return allow === undefined
    ? { allowed: false, statementIndex: null }
    : { allowed: true, statementIndex: allow.index };
}

// ---- Generators ----

const NAMES = ['a', 'b', 'x.md', '.env', 'readme.md', E_ACUTE_NFC, E_ACUTE_NFD, 'ab'];
const PATTERN_SEGMENTS = [...NAMES, '*', '**', '?', 'a*', '*.md', '.*', '?b', '.', '..', ''];
const PATH_SEGMENTS = [...NAMES, '.', '..', ''];
const ACTORS = ['alice', 'bob', 'carol', 'bot-1'];
const TIMES = ['2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z', '2027-01-01T00:00:00Z'];

const patternArbitrary = fc
  .array(fc.constantFrom(...PATTERN_SEGMENTS), { minLength: 0, maxLength: 4 })
  .map((segments) => `/${segments.join('/')}`);

const conditionArbitrary: fc.Arbitrary<ReferenceCondition> = fc.oneof(
  fc.record({
    operator: fc.constantFrom('StringEquals', 'StringNotEquals', 'StringLike'),
    key: fc.constant('cartridge:actor'),
    values: fc.array(fc.constantFrom(...ACTORS, 'bot-*', '*o*', '?ob'), {
      minLength: 1,
      maxLength: 2,
    }),
  }),
  fc.record({
    operator: fc.constantFrom('StringEquals', 'StringNotEquals'),
    key: fc.constant('cartridge:action'),
    values: fc.array(fc.constantFrom('Read', 'Write', 'List'), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({
    operator: fc.constantFrom('DateLessThan', 'DateGreaterThan'),
    key: fc.constant('cartridge:time'),
    values: fc.array(fc.constantFrom(...TIMES), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({
    operator: fc.constant('NumericLessThan'),
    key: fc.constant('app:level'),
    values: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 2 }),
  }),
);

const statementArbitrary: fc.Arbitrary<ReferenceStatement> = fc.record({
  Effect: fc.constantFrom('Allow' as const, 'Deny' as const),
  Action: fc.array(fc.constantFrom('Read', 'write', 'LIST', '*', 'All', 'Delete', 'create'), {
    minLength: 1,
    maxLength: 3,
  }),
  Resource: fc.array(patternArbitrary, { minLength: 1, maxLength: 3 }),
  // One condition per operator keeps the JSON object form free of key clashes.
  conditions: fc.uniqueArray(conditionArbitrary, {
    maxLength: 2,
    selector: (condition) => condition.operator,
  }),
});

const requestArbitrary = fc.record({
  actor: fc.constantFrom(...ACTORS),
  action: fc.constantFrom<RequestAction>('Read', 'Write', 'Create', 'Delete', 'List'),
  spelling: fc
    .array(fc.constantFrom(...PATH_SEGMENTS), { minLength: 0, maxLength: 5 })
    .map((segments) => `/${segments.join('/')}`),
  time: fc.constantFrom(...TIMES, '2026-03-01T00:00:00Z'),
  otherTime: fc.constantFrom(...TIMES, '2026-03-01T00:00:00Z'),
  level: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
});

function documentOf(statements: readonly ReferenceStatement[]): unknown {
  return {
    Statement: statements.map((statement) => {
      const block: Record<string, Record<string, (string | number)[]>> = {};
      for (const { operator, key, values } of statement.conditions) {
        block[operator] = { [key]: [...values] };
      }
      return {
        Effect: statement.Effect,
        Action: statement.Action,
        Resource: statement.Resource,
        ...(statement.conditions.length === 0 ? {} : { Condition: block }),
      };
    }),
  };
}

describe('IAM evaluator against a reference', () => {
  it('decides every request as the reference does, cached or not', () => {
    fc.assert(
      fc.property(
        fc.array(statementArbitrary, { minLength: 0, maxLength: 5 }),
        fc.array(requestArbitrary, { minLength: 1, maxLength: 20 }),
        (statements, requests) => {
          const refusedByReference = statements.some((statement) =>
            statement.Resource.some((resource) => referenceSegments(resource, true) === null),
          );
          let evaluator: PolicyEvaluator;
          try {
            evaluator = new PolicyEvaluator(loadPolicy(documentOf(statements)));
          } catch (error) {
            expect(refusedByReference, String(error)).toBe(true);
            expect((error as { code?: string }).code).toBe('INVALID_ARGUMENT');
            return;
          }
          expect(refusedByReference).toBe(false);
          // Each request is asked again at another time and with another extra context, so a
          // decision cached when it should not have been shows up as a wrong answer.
          const variants = requests.flatMap((generated) => [
            generated,
            { ...generated, time: generated.otherTime },
            { ...generated, level: generated.level === undefined ? 0 : undefined },
          ]);
          for (const generated of variants) {
            const path = referenceSegments(generated.spelling, false) as string[];
            const time = new Date(generated.time);
            const reference = referenceDecide(statements, { ...generated, path, time });
            const context: Record<string, number> =
              generated.level === undefined ? {} : { 'app:level': generated.level };
            const request = {
              actor: generated.actor,
              action: generated.action,
              path: canonicalPath(generated.spelling),
              time,
              context,
            };
            for (let round = 0; round < 2; round += 1) {
              const { allowed, statementIndex } = evaluator.decide(request);
              expect({ allowed, statementIndex }).toEqual(reference);
            }
          }
        },
      ),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
