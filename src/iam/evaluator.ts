import { assert } from '../assert.js';
import { canonicalPath } from '../path/canonical-path.js';
import { type Action, isRequestAction, type RequestAction } from './action.js';
import {
  type CompiledCondition,
  compileCondition,
  type RequestContext,
  RequestValues,
} from './conditions.js';
import type { Effect, Policy } from './policy.js';
import {
  DECISION_CACHE_ENTRIES_DEFAULT,
  DECISION_CACHE_KEY_CHARACTERS_MAX,
} from './policy-limits.js';
import { compileResourcePattern, type ResourcePattern, segmentsOf } from './resource-pattern.js';

/**
 * Decides one request against one policy: with a policy, what no statement allows is denied,
 * and a matching Deny wins over every Allow. The decision names the statement that decided it
 * (the first matching Deny, else the first matching Allow, else none: the default deny), for
 * the audit trail. "No policy allows everything" is the engine's rule: it builds an evaluator
 * only once a policy is set.
 *
 * Patterns and conditions are compiled once. Decisions are cached by (actor, action, path)
 * when nothing that decided them can change with the time or the extra context; the cache is
 * bounded in entries and in key characters, least recently used first out, and `clearCache`
 * empties it (an evaluator belongs to one policy, so a new policy means a new evaluator).
 */

export type { RequestContext as AccessRequest } from './conditions.js';

export interface AccessDecision {
  readonly allowed: boolean;
  /** The deciding statement's Sid, or null (no Sid, or the default deny). */
  readonly sid: string | null;
  /** The deciding statement's index in the policy, or null for the default deny. */
  readonly statementIndex: number | null;
}

export interface PolicyEvaluatorOptions {
  /** Decisions kept in the cache; 0 turns it off. */
  readonly cacheEntries?: number;
}

interface CompiledStatement {
  readonly index: number;
  readonly sid: string | null;
  readonly effect: Effect;
  readonly actions: ReadonlySet<Action>;
  readonly resources: readonly ResourcePattern[];
  readonly conditions: readonly CompiledCondition[];
  /** Whether a condition looks at the time or at the extra context. */
  readonly volatile: boolean;
}

const DEFAULT_DENY: AccessDecision = Object.freeze({
  allowed: false,
  sid: null,
  statementIndex: null,
});

export class PolicyEvaluator {
  readonly policy: Policy;
  /** Deny statements first, then Allows, each in policy order: the order decisions look. */
  private readonly statementsInDecisionOrder: readonly CompiledStatement[];
  private readonly cacheEntriesMax: number;
  private readonly cache = new Map<string, AccessDecision>();
  private cacheKeyCharacters = 0;

  constructor(policy: Policy, options: PolicyEvaluatorOptions = {}) {
    this.policy = policy;
    const compiled = policy.statements.map((statement, index): CompiledStatement => {
      const conditions = statement.conditions.map(compileCondition);
      return {
        index,
        sid: statement.sid,
        effect: statement.effect,
        actions: new Set(statement.actions),
        resources: statement.resources.map(compileResourcePattern),
        conditions,
        volatile: conditions.some((condition) => condition.volatile),
      };
    });
    this.statementsInDecisionOrder = [
      ...compiled.filter((statement) => statement.effect === 'Deny'),
      ...compiled.filter((statement) => statement.effect === 'Allow'),
    ];
    const cacheEntries = options.cacheEntries ?? DECISION_CACHE_ENTRIES_DEFAULT;
    assert(Number.isSafeInteger(cacheEntries) && cacheEntries >= 0, 'cacheEntries is a count');
    this.cacheEntriesMax = cacheEntries;
  }

  /** How many decisions the cache holds now. */
  get cachedDecisionCount(): number {
    return this.cache.size;
  }

  clearCache(): void {
    this.cache.clear();
    this.cacheKeyCharacters = 0;
  }

  decide(request: RequestContext): AccessDecision {
    const key = `${request.action}\u0000${request.actor.length}:${request.actor}${request.path}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      // Most recently used goes last, so the first key is the one to drop.
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    this.checkRequest(request);
    const { decision, volatile } = this.evaluate(request);
    if (!volatile) this.remember(key, decision);
    return decision;
  }

  /** The engine hands over canonical paths and concrete actions; anything else is its bug. */
  private checkRequest(request: RequestContext): void {
    assert(isRequestAction(request.action), `not an operation's action: ${request.action}`);
    assert(typeof request.actor === 'string', 'an actor is a string');
    assert(Number.isFinite(request.time.getTime()), 'a request has a valid time');
    let canonical: string | null;
    try {
      canonical = canonicalPath(request.path);
    } catch {
      canonical = null;
    }
    assert(canonical === request.path, `a request's path must be canonical: ${request.path}`);
  }

  private evaluate(request: RequestContext): { decision: AccessDecision; volatile: boolean } {
    const segments = segmentsOf(request.path);
    const values = new RequestValues(request);
    let volatile = false;
    for (const statement of this.statementsInDecisionOrder) {
      if (!appliesTo(statement, request.action, segments)) continue;
      // Whether this statement's conditions hold may change with the time or the context,
      // and it was looked at: the decision may differ next time.
      if (statement.volatile) volatile = true;
      if (!statement.conditions.every((condition) => condition.holds(values))) continue;
      const decision: AccessDecision = Object.freeze({
        allowed: statement.effect === 'Allow',
        sid: statement.sid,
        statementIndex: statement.index,
      });
      return { decision, volatile };
    }
    return { decision: DEFAULT_DENY, volatile };
  }

  private remember(key: string, decision: AccessDecision): void {
    if (this.cacheEntriesMax === 0 || key.length > DECISION_CACHE_KEY_CHARACTERS_MAX) return;
    this.cache.set(key, decision);
    this.cacheKeyCharacters += key.length;
    while (
      this.cache.size > this.cacheEntriesMax ||
      this.cacheKeyCharacters > DECISION_CACHE_KEY_CHARACTERS_MAX
    ) {
      const oldest = this.cache.keys().next();
      assert(oldest.done !== true, 'an over-full cache has a first key');
      this.cache.delete(oldest.value);
      this.cacheKeyCharacters -= oldest.value.length;
    }
  }
}

function appliesTo(
  statement: CompiledStatement,
  action: RequestAction,
  segments: readonly string[],
): boolean {
  if (!statement.actions.has('All') && !statement.actions.has(action)) return false;
  return statement.resources.some((resource) => resource.matchesSegments(segments));
}
