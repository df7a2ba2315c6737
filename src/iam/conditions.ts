import type { RequestAction } from './action.js';
import { compileTextPattern } from './wildcard.js';

/**
 * Conditions and their evaluation over a request. A statement's `Condition` block is
 * `{ Operator: { key: value or [values] } }`, as in AWS (condition-block.ts reads it). The
 * values under one key are ORed (for a negated operator, the key must match none of them:
 * `StringNotEquals` with `[a, b]` means "neither a nor b"); the keys under one operator, and
 * the operators, are ANDed. A key the request does not carry, or carries as a value of
 * another type, makes its condition false, negated operators included (AWS makes a negated
 * operator true there; a condition that cannot be evaluated never holds here).
 *
 * Keys, case-insensitive:
 * - `cartridge:actor` (alias `aws:username`): the actor, a string;
 * - `cartridge:action`: `Read`, `Write`, `Create`, `Delete` or `List`;
 * - `cartridge:path`: the canonical path;
 * - `cartridge:time` (alias `aws:CurrentTime`): the time of the request, a date;
 * - any other key outside the `cartridge:` and `aws:` namespaces (`app:tenant`), looked up
 *   case-insensitively in the request's extra context (strings, numbers or dates).
 *
 * A built-in key used with an operator of the wrong type (`NumericLessThan` on
 * `cartridge:actor`) does not load: the condition could never hold, and a Deny that can never
 * hold is a hole. Values are made canonical when loaded (paths canonical, actions in their
 * canonical case, numbers in JavaScript's shortest form, dates as ISO 8601 in UTC), so a
 * serialised policy loads back identically.
 */

export type StringOperator = 'StringEquals' | 'StringNotEquals' | 'StringLike' | 'StringNotLike';

export type NumericOperator =
  | 'NumericEquals'
  | 'NumericNotEquals'
  | 'NumericLessThan'
  | 'NumericLessThanEquals'
  | 'NumericGreaterThan'
  | 'NumericGreaterThanEquals';

export type DateOperator =
  | 'DateEquals'
  | 'DateNotEquals'
  | 'DateLessThan'
  | 'DateLessThanEquals'
  | 'DateGreaterThan'
  | 'DateGreaterThanEquals';

export type ConditionOperator = StringOperator | NumericOperator | DateOperator;

/** Every operator, in the order a loaded statement lists its conditions in. */
export const CONDITION_OPERATORS: readonly ConditionOperator[] = [
  'StringEquals',
  'StringNotEquals',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
];

/** The built-in condition keys, in their canonical spelling. */
export const CONDITION_KEYS = {
  actor: 'cartridge:actor',
  action: 'cartridge:action',
  path: 'cartridge:path',
  time: 'cartridge:time',
} as const;

/** One operator applied to one key: true when the key's value matches one of the values. */
export interface Condition {
  readonly operator: ConditionOperator;
  /** Canonical: a built-in key's canonical spelling, any other key in lower case. */
  readonly key: string;
  /** Canonical and without repeats, in the order first written. */
  readonly values: readonly string[];
}

/** A value of the request's extra context. */
export type ContextValue = string | number | Date;

/** What a condition can look at. */
export interface RequestContext {
  readonly actor: string;
  readonly action: RequestAction;
  /** Canonical. */
  readonly path: string;
  readonly time: Date;
  /** Extra keys (`app:tenant`), matched case-insensitively; built-in keys here are ignored. */
  readonly context?: Readonly<Record<string, ContextValue>> | undefined;
}

export type ValueType = 'string' | 'numeric' | 'date';

export interface BuiltInKey {
  readonly name: string;
  readonly type: ValueType;
  /** Whether its value can change between two requests by one actor for one action and path. */
  readonly volatile: boolean;
  read(request: RequestContext): ContextValue;
}

const ACTOR_KEY: BuiltInKey = {
  name: CONDITION_KEYS.actor,
  type: 'string',
  volatile: false,
  read: (request) => request.actor,
};
const TIME_KEY: BuiltInKey = {
  name: CONDITION_KEYS.time,
  type: 'date',
  volatile: true,
  read: (request) => request.time,
};

const BUILT_IN_KEYS = new Map<string, BuiltInKey>([
  ['cartridge:actor', ACTOR_KEY],
  ['aws:username', ACTOR_KEY],
  [
    'cartridge:action',
    {
      name: CONDITION_KEYS.action,
      type: 'string',
      volatile: false,
      read: (request) => request.action,
    },
  ],
  [
    'cartridge:path',
    { name: CONDITION_KEYS.path, type: 'string', volatile: false, read: (request) => request.path },
  ],
  ['cartridge:time', TIME_KEY],
  ['aws:currenttime', TIME_KEY],
]);

/** A decimal number as JSON writes one; `0x10`, `1_000`, `Infinity` and ` 1` are not. */
const NUMBER_SYNTAX = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** ISO 8601 as `Date.parse` reads it the same everywhere: a day, or a time with a zone. */
const DATE_SYNTAX =
  /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** The number a decimal text spells, or NaN. */
export function parseNumber(text: string): number {
  return NUMBER_SYNTAX.test(text) ? Number(text) : Number.NaN;
}

/** The time an ISO 8601 text spells, in milliseconds, or NaN. */
export function parseDate(text: string): number {
  return DATE_SYNTAX.test(text) ? Date.parse(text) : Number.NaN;
}

/** The type of value an operator compares. */
export function typeOfOperator(operator: ConditionOperator): ValueType {
  if (operator.startsWith('String')) return 'string';
  return operator.startsWith('Numeric') ? 'numeric' : 'date';
}

/** `StringNotEquals`, `StringNotLike`, `NumericNotEquals`, `DateNotEquals`. */
function isNegated(operator: ConditionOperator): boolean {
  return operator.includes('Not');
}

type Comparison = (actual: number, expected: number) => boolean;

function comparisonOf(operator: ConditionOperator): Comparison {
  if (operator.endsWith('LessThan')) return (actual, expected) => actual < expected;
  if (operator.endsWith('LessThanEquals')) return (actual, expected) => actual <= expected;
  if (operator.endsWith('GreaterThan')) return (actual, expected) => actual > expected;
  if (operator.endsWith('GreaterThanEquals')) return (actual, expected) => actual >= expected;
  return (actual, expected) => actual === expected;
}

/**
 * The values one request offers to conditions. Extra context keys are folded to lower case
 * once per request, and only if a condition asks for one.
 */
export class RequestValues {
  private extraValues: Map<string, ContextValue> | null = null;

  constructor(readonly request: RequestContext) {}

  valueOf(key: string): ContextValue | undefined {
    const builtIn = BUILT_IN_KEYS.get(key);
    if (builtIn !== undefined) return builtIn.read(this.request);
    const context = this.request.context;
    if (context === undefined) return undefined;
    if (this.extraValues === null) {
      this.extraValues = new Map();
      for (const name of Object.keys(context)) {
        const value = context[name];
        if (value !== undefined) this.extraValues.set(name.toLowerCase(), value);
      }
    }
    return this.extraValues.get(key);
  }
}

function textOf(value: ContextValue): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return Number.isFinite(value.getTime()) ? value.toISOString() : undefined;
}

function numberOf(value: ContextValue): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const number = parseNumber(value);
  return Number.isFinite(number) ? number : undefined;
}

function timeOf(value: ContextValue): number | undefined {
  const time =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'string'
        ? parseDate(value)
        : Number.NaN;
  return Number.isFinite(time) ? time : undefined;
}

/** A condition made ready to evaluate many times. */
export interface CompiledCondition {
  readonly condition: Condition;
  /** Whether its outcome can change between requests with one actor, action and path. */
  readonly volatile: boolean;
  holds(values: RequestValues): boolean;
}

export function compileCondition(condition: Condition): CompiledCondition {
  const { operator, key, values } = condition;
  const builtIn = BUILT_IN_KEYS.get(key);
  const volatile = builtIn === undefined || builtIn.volatile;
  const negated = isNegated(operator);
  const type = typeOfOperator(operator);
  let matchesAny: (value: ContextValue) => boolean | undefined;
  if (type === 'string') {
    if (operator === 'StringLike' || operator === 'StringNotLike') {
      const patterns = values.map(compileTextPattern);
      matchesAny = (value) => {
        const text = textOf(value);
        return text === undefined ? undefined : patterns.some((pattern) => pattern.matches(text));
      };
    } else {
      const texts = new Set(values);
      matchesAny = (value) => {
        const text = textOf(value);
        return text === undefined ? undefined : texts.has(text);
      };
    }
  } else {
    const expected = values.map((value) => (type === 'numeric' ? Number(value) : parseDate(value)));
    const compares = comparisonOf(operator);
    const read = type === 'numeric' ? numberOf : timeOf;
    matchesAny = (value) => {
      const actual = read(value);
      return actual === undefined ? undefined : expected.some((each) => compares(actual, each));
    };
  }
  return {
    condition,
    volatile,
    holds: (requestValues) => {
      const value = requestValues.valueOf(key);
      if (value === undefined) return false;
      const matched = matchesAny(value);
      if (matched === undefined) return false;
      return negated ? !matched : matched;
    },
  };
}

/** Whether every condition holds for the request: one-off evaluation, for tests and tools. */
export function conditionsHold(conditions: readonly Condition[], request: RequestContext): boolean {
  const values = new RequestValues(request);
  return conditions.every((condition) => compileCondition(condition).holds(values));
}

/** The built-in key a lower-case spelling names (an alias included), if it names one. */
export function builtInKeyOf(lowerCaseKey: string): BuiltInKey | undefined {
  return BUILT_IN_KEYS.get(lowerCaseKey);
}
