import { CartridgeError } from '../errors.js';
import { canonicalPath } from '../path/canonical-path.js';
import { parseActionName } from './action.js';
import {
  CONDITION_KEY_MAX_LENGTH,
  CONDITION_KEYS_MAX,
  CONDITION_VALUE_MAX_LENGTH,
  CONDITION_VALUES_MAX,
  PATTERN_WILDCARDS_MAX,
  STATEMENT_CONDITION_OPERATORS_MAX,
  STATEMENT_CONDITION_VALUES_MAX,
} from './policy-limits.js';
import { PolicyRejection, quoted } from './policy-rejection.js';
import { compileTextPattern } from './wildcard.js';
import {
  builtInKeyOf,
  type Condition,
  CONDITION_KEYS,
  CONDITION_OPERATORS,
  type ConditionOperator,
  parseDate,
  parseNumber,
  typeOfOperator,
} from './conditions.js';

/**
 * Reading a statement's `Condition` block: `{ Operator: { key: value or [values] } }`. Every
 * operator, key and value is checked and made canonical here, when the policy loads, so that
 * evaluation (conditions.ts) meets only conditions it can evaluate.
 */

const RESERVED_NAMESPACES = ['cartridge:', 'aws:'];

const KEY_SYNTAX = /^[A-Za-z0-9][A-Za-z0-9:._/-]*$/;

/**
 * Characters no condition value may hold, as no path may: controls and bidirectional
 * formatting characters (a policy printed to a terminal or a log must not be forged), and lone
 * surrogates (they do not survive UTF-8 in the journal).
 */
const FORBIDDEN_VALUE_CHARACTER =
  /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const OPERATOR_BY_NAME = new Map<string, ConditionOperator>(
  CONDITION_OPERATORS.map((operator) => [operator, operator]),
);

/**
 * Whether a value is an object as JSON makes them. A class instance, a Map or an array is not:
 * its own keys are not what the author meant to write.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** A key's canonical spelling, or a rejection saying why it is not one. */
function canonicalKeyOf(spelling: string): string {
  if (spelling.length > CONDITION_KEY_MAX_LENGTH) {
    throw new PolicyRejection(
      `condition key of ${spelling.length} characters is longer than ${CONDITION_KEY_MAX_LENGTH}`,
    );
  }
  const lowerCase = spelling.toLowerCase();
  const builtIn = builtInKeyOf(lowerCase);
  if (builtIn !== undefined) return builtIn.name;
  if (!KEY_SYNTAX.test(spelling)) {
    throw new PolicyRejection(`condition key ${quoted(spelling)} is not a valid key name`);
  }
  // A misspelt built-in key would make its condition never hold: a Deny that never applies.
  if (RESERVED_NAMESPACES.some((namespace) => lowerCase.startsWith(namespace))) {
    throw new PolicyRejection(`unknown condition key ${quoted(spelling)}`);
  }
  return lowerCase;
}

function canonicalStringValue(operator: ConditionOperator, key: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new PolicyRejection(`${operator} on ${key} takes strings, not ${quoted(value)}`);
  }
  if (value.length > CONDITION_VALUE_MAX_LENGTH) {
    throw new PolicyRejection(
      `a condition value of ${value.length} characters is longer than ` +
        `${CONDITION_VALUE_MAX_LENGTH}`,
    );
  }
  if (FORBIDDEN_VALUE_CHARACTER.test(value) || LONE_SURROGATE.test(value)) {
    throw new PolicyRejection(
      `condition value ${quoted(value)} holds a control or bidirectional character, ` +
        'or a lone surrogate',
    );
  }
  const like = operator === 'StringLike' || operator === 'StringNotLike';
  if (like && compileTextPattern(value).wildcardCount > PATTERN_WILDCARDS_MAX) {
    throw new PolicyRejection(
      `condition value ${quoted(value)} has more than ${PATTERN_WILDCARDS_MAX} wildcards`,
    );
  }
  if (key === CONDITION_KEYS.path) return canonicalPathValue(value, like);
  if (key === CONDITION_KEYS.action && !like) {
    const action = parseActionName(value);
    if (action === null || action === 'All') {
      throw new PolicyRejection(`condition value ${quoted(value)} is not an operation's action`);
    }
    return action;
  }
  return value;
}

/**
 * Paths in conditions are compared with canonical paths, so a value must be one: an equality
 * value is made canonical (as a resource is); a `*`/`?` pattern is kept as written in NFC, and
 * refused if it holds a spelling no canonical path has (`//`, `/./`, `/../`, a trailing `/`),
 * since that part of it could never match.
 */
function canonicalPathValue(value: string, like: boolean): string {
  if (!like) {
    try {
      return canonicalPath(value);
    } catch (error) {
      if (!(error instanceof CartridgeError)) throw error;
      throw new PolicyRejection(`path ${quoted(value)} is not a valid path: ${error.message}`);
    }
  }
  const normalised = value.normalize('NFC');
  const segments = normalised.split('/');
  const dead = segments.some(
    (segment, index) => segment === '.' || segment === '..' || (segment === '' && index > 0),
  );
  if (dead && normalised !== '/') {
    throw new PolicyRejection(
      `path pattern ${quoted(value)} is not canonical (no //, /./, /../ or trailing /)`,
    );
  }
  return normalised;
}

function canonicalNumericValue(operator: ConditionOperator, key: string, value: unknown): string {
  const number =
    typeof value === 'number' ? value : typeof value === 'string' ? parseNumber(value) : Number.NaN;
  if (!Number.isFinite(number)) {
    throw new PolicyRejection(`${operator} on ${key} takes numbers, not ${quoted(value)}`);
  }
  return String(number);
}
function canonicalDateValue(operator: ConditionOperator, key: string, value: unknown): string {
  const time = typeof value === 'string' ? parseDate(value) : Number.NaN;
  if (!Number.isFinite(time)) {
    throw new PolicyRejection(
      `${operator} on ${key} takes ISO 8601 dates (2026-11-30T12:00:00Z), not ${quoted(value)}`,
    );
  }
  return new Date(time).toISOString();
}

function canonicalValuesOf(operator: ConditionOperator, key: string, input: unknown): string[] {
  const list = Array.isArray(input) ? input : [input];
  if (list.length === 0) throw new PolicyRejection(`${operator} on ${key} has no values`);
  if (list.length > CONDITION_VALUES_MAX) {
    throw new PolicyRejection(
      `${operator} on ${key} has ${list.length} values, the limit is ${CONDITION_VALUES_MAX}`,
    );
  }
  const type = typeOfOperator(operator);
  const values: string[] = [];
  for (const value of list) {
    const canonical =
      type === 'string'
        ? canonicalStringValue(operator, key, value)
        : type === 'numeric'
          ? canonicalNumericValue(operator, key, value)
          : canonicalDateValue(operator, key, value);
    if (!values.includes(canonical)) values.push(canonical);
  }
  return values;
}

/**
 * Reads a `Condition` block into conditions ordered by operator (in `CONDITION_OPERATORS`
 * order), then by key, so that the order the author wrote them in, which means nothing, does
 * not change the serialised form.
 */
export function parseConditionBlock(block: unknown): Condition[] {
  if (!isPlainObject(block)) {
    throw new PolicyRejection('Condition must be an object of operators');
  }
  const operatorNames = Object.keys(block);
  if (operatorNames.length > STATEMENT_CONDITION_OPERATORS_MAX) {
    throw new PolicyRejection(
      `Condition has ${operatorNames.length} operators, ` +
        `the limit is ${STATEMENT_CONDITION_OPERATORS_MAX}`,
    );
  }
  const conditions: Condition[] = [];
  let valueCount = 0;
  for (const operatorName of operatorNames) {
    const operator = OPERATOR_BY_NAME.get(operatorName);
    if (operator === undefined) {
      const hint = operatorName.endsWith('IfExists') ? ' (IfExists is not supported)' : '';
      throw new PolicyRejection(`unknown condition operator ${quoted(operatorName)}${hint}`);
    }
    const keys = block[operatorName];
    if (!isPlainObject(keys)) {
      throw new PolicyRejection(`${operator} must be an object of condition keys`);
    }
    const keySpellings = Object.keys(keys);
    if (keySpellings.length === 0) throw new PolicyRejection(`${operator} has no condition keys`);
    if (keySpellings.length > CONDITION_KEYS_MAX) {
      throw new PolicyRejection(
        `${operator} has ${keySpellings.length} keys, the limit is ${CONDITION_KEYS_MAX}`,
      );
    }
    const seen = new Set<string>();
    for (const spelling of keySpellings) {
      const key = canonicalKeyOf(spelling);
      if (seen.has(key)) {
        throw new PolicyRejection(`${operator} names the key ${key} twice`);
      }
      seen.add(key);
      const builtIn = builtInKeyOf(key);
      const type = typeOfOperator(operator);
      if (builtIn !== undefined && builtIn.type !== type) {
        throw new PolicyRejection(`${operator} cannot apply to ${key}, which is a ${builtIn.type}`);
      }
      const values = canonicalValuesOf(operator, key, keys[spelling]);
      valueCount += values.length;
      if (valueCount > STATEMENT_CONDITION_VALUES_MAX) {
        throw new PolicyRejection(
          `Condition has more than ${STATEMENT_CONDITION_VALUES_MAX} values in all`,
        );
      }
      conditions.push({ operator, key, values });
    }
  }
  const rank = (operator: ConditionOperator): number => CONDITION_OPERATORS.indexOf(operator);
  return conditions.sort(
    (left, right) =>
      rank(left.operator) - rank(right.operator) ||
      (left.key < right.key ? -1 : left.key > right.key ? 1 : 0),
  );
}

/** The condition block of a serialised policy: operators, then keys, then value lists. */
export function conditionBlockOf(
  conditions: readonly Condition[],
): Record<string, Record<string, string[]>> {
  const block: Record<string, Record<string, string[]>> = {};
  for (const { operator, key, values } of conditions) {
    const keys = (block[operator] ??= {});
    keys[key] = [...values];
  }
  return block;
}
