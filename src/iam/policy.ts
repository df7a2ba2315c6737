import { CartridgeError } from '../errors.js';
import { ACTIONS, type Action, parseActionName } from './action.js';
import { conditionBlockOf, isPlainObject, parseConditionBlock } from './condition-block.js';
import type { Condition } from './conditions.js';
import {
  POLICY_STATEMENTS_MAX,
  POLICY_TEXT_MAX_BYTES,
  SID_MAX_LENGTH,
  STATEMENT_ACTIONS_MAX,
  STATEMENT_RESOURCES_MAX,
} from './policy-limits.js';
import { PolicyRejection, quoted } from './policy-rejection.js';
import { compileResourcePattern } from './resource-pattern.js';

/**
 * An IAM-style policy: statements that allow or deny actions on path patterns, under
 * conditions. It is loaded from the AWS-like JSON form (PascalCase keys) and checked whole
 * before anything uses it: anything it does not understand is refused with the statement
 * named, because a statement silently read as something else is an access hole. What loads is
 * canonical (actions in canonical order, patterns canonical, conditions sorted, repeats
 * removed) and frozen, and `serializePolicy` writes it back as deterministic JSON that loads
 * into an equal policy: the form a journal record stores.
 *
 * Grammar (JSON):
 *   { "Version": "2012-10-17" (optional, the only version),
 *     "Statement": statement or [statement, ...] }
 *   statement: { "Sid": "name" (optional; letters, digits, `_`, `-`, `.`; unique),
 *                "Effect": "Allow" | "Deny",
 *                "Action": action or [action, ...]  (Read, Write, Create, Delete, List, All,
 *                          any case, `*` = All, an optional `cartridge:` prefix),
 *                "Resource": pattern or [pattern, ...]  (see resource-pattern.ts; `*` = `/**`),
 *                "Condition": { operator: { key: value or [value, ...] } } (conditions.ts) }
 * `NotAction`, `NotResource`, `Principal`, `NotPrincipal` and policy variables are refused.
 */

export type Effect = 'Allow' | 'Deny';

export const POLICY_VERSION = '2012-10-17';

export interface Statement {
  readonly sid: string | null;
  readonly effect: Effect;
  /** In `ACTIONS` order, without repeats; `['All']` when `All` was among them. */
  readonly actions: readonly Action[];
  /** Canonical patterns, without repeats, in the order first written. */
  readonly resources: readonly string[];
  /** Ordered by operator, then key; empty when the statement has none. */
  readonly conditions: readonly Condition[];
}

export interface Policy {
  readonly version: typeof POLICY_VERSION;
  readonly statements: readonly Statement[];
}

/** A condition block as JSON writes it. */
export type ConditionBlockDocument = Readonly<
  Record<string, Readonly<Record<string, string | number | readonly (string | number)[]>>>
>;

/** A statement in the JSON form (what `loadPolicy` reads and `serializePolicy` writes). */
export interface StatementDocument {
  readonly Sid?: string;
  readonly Effect: Effect;
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: ConditionBlockDocument;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: StatementDocument | readonly StatementDocument[];
}

/** The policies `loadPolicy` made: frozen and canonical, so loading one again returns it. */
const LOADED_POLICIES = new WeakSet<Policy>();

const POLICY_KEYS = new Set(['Version', 'Statement']);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'Resource', 'Condition']);
const UNSUPPORTED_STATEMENT_KEYS = new Set([
  'NotAction',
  'NotResource',
  'Principal',
  'NotPrincipal',
]);

const SID_SYNTAX = /^[A-Za-z0-9_.-]+$/;

function invalidPolicy(detail: string): CartridgeError {
  return new CartridgeError('INVALID_ARGUMENT', `policy does not load: ${detail}`);
}

/** How messages name a statement: by its index, and its Sid when it has a usable one. */
export function statementLabel(index: number, sid: string | null): string {
  return sid === null ? `statement ${index}` : `statement ${index} (Sid ${quoted(sid)})`;
}

function listOf(value: unknown, name: string, limit: number): unknown[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new PolicyRejection(`${name} is empty`);
  if (list.length > limit) {
    throw new PolicyRejection(`${name} has ${list.length} entries, the limit is ${limit}`);
  }
  return list;
}

function parseSid(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || value.length > SID_MAX_LENGTH || !SID_SYNTAX.test(value)) {
    throw new PolicyRejection(
      `Sid ${quoted(value)} must be 1 to ${SID_MAX_LENGTH} letters, digits, _, - or .`,
    );
  }
  return value;
}

function parseEffect(value: unknown): Effect {
  if (value === 'Allow' || value === 'Deny') return value;
  if (value === undefined) throw new PolicyRejection('Effect is missing');
  throw new PolicyRejection(`Effect must be "Allow" or "Deny", not ${quoted(value)}`);
}

function parseActions(value: unknown): Action[] {
  if (value === undefined) throw new PolicyRejection('Action is missing');
  const named = new Set<Action>();
  for (const spelling of listOf(value, 'Action', STATEMENT_ACTIONS_MAX)) {
    const action = typeof spelling === 'string' ? parseActionName(spelling) : null;
    if (action === null) throw new PolicyRejection(`unknown action ${quoted(spelling)}`);
    named.add(action);
  }
  if (named.has('All')) return ['All'];
  return ACTIONS.filter((action) => named.has(action));
}

function parseResources(value: unknown): string[] {
  if (value === undefined) throw new PolicyRejection('Resource is missing');
  const resources: string[] = [];
  for (const pattern of listOf(value, 'Resource', STATEMENT_RESOURCES_MAX)) {
    const { source } = compileResourcePattern(pattern);
    if (!resources.includes(source)) resources.push(source);
  }
  return resources;
}

function parseStatement(value: unknown): Statement {
  if (!isPlainObject(value)) throw new PolicyRejection('a statement must be an object');
  for (const key of Object.keys(value)) {
    if (UNSUPPORTED_STATEMENT_KEYS.has(key)) {
      throw new PolicyRejection(`${key} is not supported`);
    }
    if (!STATEMENT_KEYS.has(key)) {
      throw new PolicyRejection(
        `unknown key ${quoted(key)} (keys are Sid, Effect, Action, Resource, Condition)`,
      );
    }
  }
  return {
    sid: parseSid(value['Sid']),
    effect: parseEffect(value['Effect']),
    actions: parseActions(value['Action']),
    resources: parseResources(value['Resource']),
    conditions: value['Condition'] === undefined ? [] : parseConditionBlock(value['Condition']),
  };
}

function parseText(text: string): unknown {
  // Bytes are at least characters: the cheap check first keeps a huge string from a scan.
  const sizeBytes = text.length > POLICY_TEXT_MAX_BYTES ? text.length : Buffer.byteLength(text);
  if (sizeBytes > POLICY_TEXT_MAX_BYTES) {
    throw invalidPolicy(`its text of ${sizeBytes} bytes is over ${POLICY_TEXT_MAX_BYTES} bytes`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalidPolicy(`it is not JSON (${(error as Error).message})`);
  }
}

function deepFreeze<Value>(value: Value): Value {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Loads a policy from its JSON form: a parsed object, or JSON text. A policy this function
 * returned is returned as it is. Anything else that does not load is `INVALID_ARGUMENT`,
 * naming the statement by index and Sid.
 */
export function loadPolicy(input: unknown): Policy {
  if (typeof input === 'object' && input !== null && LOADED_POLICIES.has(input as Policy)) {
    return input as Policy;
  }
  const document = typeof input === 'string' ? parseText(input) : input;
  if (!isPlainObject(document)) {
    throw invalidPolicy('a policy must be an object with a Statement');
  }
  for (const key of Object.keys(document)) {
    if (!POLICY_KEYS.has(key)) {
      throw invalidPolicy(`unknown key ${quoted(key)} (keys are Version, Statement)`);
    }
  }
  const version = document['Version'];
  if (version !== undefined && version !== POLICY_VERSION) {
    throw invalidPolicy(`Version must be "${POLICY_VERSION}", not ${quoted(version)}`);
  }
  const statementInput = document['Statement'];
  if (statementInput === undefined) throw invalidPolicy('Statement is missing');
  // An empty list loads: a policy with no statement denies everything, which can be meant.
  const statementList = Array.isArray(statementInput) ? statementInput : [statementInput];
  if (statementList.length > POLICY_STATEMENTS_MAX) {
    throw invalidPolicy(
      `it has ${statementList.length} statements, the limit is ${POLICY_STATEMENTS_MAX}`,
    );
  }
  const statements: Statement[] = [];
  const indexBySid = new Map<string, number>();
  statementList.forEach((value, index) => {
    const rawSid = isPlainObject(value) ? value['Sid'] : undefined;
    const label = statementLabel(index, typeof rawSid === 'string' ? rawSid : null);
    let statement: Statement;
    try {
      statement = parseStatement(value);
    } catch (error) {
      if (!(error instanceof PolicyRejection)) throw error;
      throw invalidPolicy(`${label}: ${error.message}`);
    }
    if (statement.sid !== null) {
      const first = indexBySid.get(statement.sid);
      if (first !== undefined) {
        throw invalidPolicy(`${label}: the Sid is already used by statement ${first}`);
      }
      indexBySid.set(statement.sid, index);
    }
    statements.push(statement);
  });
  const policy: Policy = deepFreeze({ version: POLICY_VERSION, statements });
  const sizeBytes = Buffer.byteLength(serializePolicy(policy));
  if (sizeBytes > POLICY_TEXT_MAX_BYTES) {
    throw invalidPolicy(
      `its canonical form of ${sizeBytes} bytes is over ${POLICY_TEXT_MAX_BYTES}`,
    );
  }
  LOADED_POLICIES.add(policy);
  return policy;
}

/** The canonical JSON form of a policy, as an object; `loadPolicy` reads it back equal. */
export function policyDocumentOf(policy: Policy): PolicyDocument {
  return {
    Version: policy.version,
    Statement: policy.statements.map((statement): StatementDocument => ({
      ...(statement.sid === null ? {} : { Sid: statement.sid }),
      Effect: statement.effect,
      Action: [...statement.actions],
      Resource: [...statement.resources],
      ...(statement.conditions.length === 0
        ? {}
        : { Condition: conditionBlockOf(statement.conditions) }),
    })),
  };
}

/**
 * The canonical JSON text of a policy: the same policy always gives the same text (keys in a
 * fixed order, no whitespace), and `loadPolicy` reads it back into an equal policy.
 */
export function serializePolicy(policy: Policy): string {
  return JSON.stringify(policyDocumentOf(policy));
}
