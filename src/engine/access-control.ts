import { CartridgeError } from '../errors.js';
import { type Action, REQUEST_ACTIONS } from '../iam/action.js';
import { PolicyEvaluator } from '../iam/evaluator.js';
import { loadPolicy, type Policy, policyDocumentOf, serializePolicy } from '../iam/policy.js';
import type { PolicyState } from '../projections/policy-state.js';
import type { AccessDecider, AccessDecision, AccessRequest } from './operation-gate.js';

/**
 * The policy in force, compiled once per change: the gate's decider. It recompiles when the
 * policy fold's version moves (a `policy.set` applied or rolled back), which also drops the
 * evaluator's cache of decisions.
 *
 * Administrative operations (changing the policy, snapshots, restores, reading the audit
 * trail) are the action `All` on `/`: allowed only to an actor the policy allows every action
 * at the root and at a path inside each Deny statement's resources. An actor that some Deny
 * still holds back (say from `/secret/**`) is not an administrator: it could otherwise lift
 * that Deny by rewriting the policy.
 */
export class AccessControl {
  private compiled:
    { state: PolicyState; version: number; decider: AccessDecider | undefined } | undefined;

  constructor(private readonly state: () => PolicyState) {}

  decider(): AccessDecider | undefined {
    const state = this.state();
    // A fold rebuilt from a checkpoint root (a follower's refresh) starts its version again:
    // the fold itself is part of what the compiled policy was made from.
    let compiled = this.compiled;
    if (compiled === undefined || compiled.state !== state || compiled.version !== state.version) {
      const json = state.policyJson();
      compiled = {
        state,
        version: state.version,
        decider: json === null ? undefined : deciderOf(storedPolicy(json)),
      };
      this.compiled = compiled;
    }
    return compiled.decider;
  }
}

/**
 * The policy a `policy.set` record stored. The fold checked it when the record was applied,
 * so a policy that no longer loads is damage in the index, not a caller's mistake.
 */
function storedPolicy(json: string): Policy {
  try {
    return loadPolicy(json);
  } catch (error) {
    throw new CartridgeError('JOURNAL_CORRUPT', 'the stored access policy does not load', {
      cause: error,
    });
  }
}

/**
 * Paths a pattern matches, made by putting plain names where it has wildcards: two different
 * names (`/secret/**` gives `/secret/x` and `/secret/y`, and `/secret` for the zero names `**`
 * allows), so a condition that exempts one name does not hide the Deny from the probes.
 */
function probePathsOf(pattern: string): string[] {
  if (!pattern.startsWith('/')) return [];
  if (pattern === '/') return ['/'];
  const probes = ['x', 'y'].map((name) => {
    const names = pattern
      .slice(1)
      .split('/')
      .map((segment) => (segment === '**' ? name : segment.replace(/[*?]/g, name)));
    return `/${names.join('/')}`;
  });
  if (pattern.endsWith('/**')) probes.push(pattern.slice(0, -3) || '/');
  return probes;
}

/** Condition operators whose values are paths or path patterns a Deny may pick its paths by. */
const PATH_OPERATORS = new Set(['StringEquals', 'StringLike']);

/**
 * Where the admin rule looks for Denies: the root, and paths inside each Deny's resources and
 * inside the paths its `cartridge:path` conditions name.
 */
function adminProbesOf(policy: Policy): Set<string> {
  const probes = new Set<string>(['/']);
  for (const statement of policy.statements) {
    if (statement.effect !== 'Deny') continue;
    for (const resource of statement.resources) {
      for (const probe of probePathsOf(resource)) probes.add(probe);
    }
    for (const condition of statement.conditions) {
      if (condition.key !== 'cartridge:path' || !PATH_OPERATORS.has(condition.operator)) continue;
      for (const value of condition.values) {
        for (const probe of probePathsOf(value)) probes.add(probe);
      }
    }
  }
  return probes;
}

function deciderOf(policy: Policy): AccessDecider {
  const evaluator = new PolicyEvaluator(policy);
  const probes = adminProbesOf(policy);
  return {
    decide(request: AccessRequest): AccessDecision {
      if (request.action !== 'All') {
        return evaluator.decide({ ...request, action: request.action });
      }
      let last: AccessDecision = { allowed: false, sid: null };
      for (const path of probes) {
        for (const action of REQUEST_ACTIONS) {
          const decision = evaluator.decide({ ...request, action, path });
          if (!decision.allowed) return decision;
          if (path === request.path) last = decision;
        }
      }
      return last;
    },
  };
}

/** A policy as given to `setPolicy` (its JSON form, text or object), as a journal stores it. */
export function canonicalPolicyText(policy: unknown): string | null {
  if (policy === null) return null;
  return serializePolicy(loadPolicy(policy));
}

/** The policy's JSON form (an object), as `policy()` returns it. */
export function policyDocument(json: string | null): unknown {
  return json === null ? null : policyDocumentOf(loadPolicy(json));
}

export type { Action };
