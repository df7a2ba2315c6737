import { CartridgeError } from '../errors.js';
import type { AuditAction, AuditEntry } from '../journal/journal-event.js';
import type { AuditLane } from './audit-lane.js';

/**
 * The operation gate: every public operation passes here with its action, its canonical path
 * and the actor it runs as. The gate asks the policy (when there is one), notes the access in
 * the audit lane (when auditing is on), refuses a denied operation with `EACCES` (noted too),
 * and links an allowed change to the first record it staged. Members of the cartridge, its
 * views and its streams call the gate; none keeps its own copy of these checks.
 */

/** Who asks: an actor and, optionally, values that policy conditions may look at. */
export interface Principal {
  readonly actor: string;
  /** Extra condition keys (`app:tenant`, `app:clearance`): strings, numbers or dates. */
  readonly context?: Readonly<Record<string, string | number | Date>>;
}

export interface AccessRequest {
  readonly actor: string;
  readonly context?: Readonly<Record<string, string | number | Date>>;
  readonly action: AuditAction;
  readonly path: string;
  readonly time: Date;
}

export interface AccessDecision {
  readonly allowed: boolean;
  /** The deciding statement's `Sid`; null for none or for the default deny. */
  readonly sid: string | null;
}

/** A compiled policy: what the gate asks. */
export interface AccessDecider {
  decide(request: AccessRequest): AccessDecision;
}

export interface GateHost {
  /** The policy in force, compiled; undefined when there is none (everything is allowed). */
  decider(): AccessDecider | undefined;
  /** Whether an operation of this action is audited (off entirely, or off for reads). */
  audits(action: AuditAction): boolean;
  readonly lane: AuditLane;
  /** The time of an access: never earlier than the last commit or the last access noted. */
  accessTimeMs(): number;
  /** How many records are staged and where the next one goes: to find what an operation made. */
  stagedMark(): { readonly count: number; readonly nextOffset: number };
  /** An entry went into the lane (the host flushes a full lane). */
  noted(): void;
}

const ALLOWED_WITHOUT_POLICY: AccessDecision = { allowed: true, sid: null };

export class OperationGate {
  constructor(private readonly host: GateHost) {}

  /**
   * Decides and notes `action` on `path` by the principal; throws EACCES when the policy denies
   * it. Returns the entry's place in the audit lane (-1 when nothing is audited), so a change
   * staged later can be linked to it.
   */
  check(principal: Principal, action: AuditAction, path: string): number {
    const decision = this.decide(principal, action, path);
    const index = this.note(principal.actor, action, path, decision, null);
    if (!decision.allowed) throw denied(principal.actor, action, path, decision);
    return index;
  }

  /**
   * Runs `body` if the policy allows `action` on `path` by `actor`. The access is noted whether
   * the body succeeds or throws (an attempt is an access); an allowed change names the first
   * record it staged.
   */
  run<T>(principal: Principal, action: AuditAction, path: string, body: () => T): T {
    const { actor } = principal;
    const decision = this.decide(principal, action, path);
    if (!decision.allowed) {
      this.note(actor, action, path, decision, null);
      throw denied(actor, action, path, decision);
    }
    if (!this.host.audits(action)) return body();
    const before = this.host.stagedMark();
    try {
      return body();
    } finally {
      const after = this.host.stagedMark();
      const changeOffset = after.count > before.count ? before.nextOffset : null;
      this.note(actor, action, path, decision, changeOffset);
    }
  }

  /**
   * A read: like `run`, for a body that stages nothing, so the access is noted before it runs
   * (no record to look for afterwards; a read that fails was still an access).
   */
  read<T>(principal: Principal, action: AuditAction, path: string, body: () => T): T {
    this.check(principal, action, path);
    return body();
  }

  /** Whether `actor` may do `action` on `path`, without noting anything (stream filters). */
  allows(principal: Principal, action: AuditAction, path: string): boolean {
    return this.decide(principal, action, path).allowed;
  }

  private decide(principal: Principal, action: AuditAction, path: string): AccessDecision {
    const decider = this.host.decider();
    if (decider === undefined) return ALLOWED_WITHOUT_POLICY;
    const time = new Date(this.host.accessTimeMs());
    return decider.decide({
      actor: principal.actor,
      context: principal.context,
      action,
      path,
      time,
    });
  }

  private note(
    actor: string,
    action: AuditAction,
    path: string,
    decision: AccessDecision,
    changeOffset: number | null,
  ): number {
    if (!this.host.audits(action)) return -1;
    const entry: AuditEntry = {
      atMs: this.host.accessTimeMs(),
      actor,
      action,
      path,
      allowed: decision.allowed,
      sid: decision.sid,
      changeOffset,
      rolledBack: false,
    };
    const index = this.host.lane.note(entry);
    this.host.noted();
    return index;
  }
}

function denied(
  actor: string,
  action: AuditAction,
  path: string,
  decision: AccessDecision,
): CartridgeError {
  const by = decision.sid === null ? 'no statement allows it' : `statement ${decision.sid}`;
  return new CartridgeError('EACCES', `${actor} may not ${action} ${path}: ${by}`, { path });
}
