import type { Principal } from './operation-gate.js';

/**
 * Who a handle's operations run as: the handle's actor, or the one `as()` set for a call.
 * Policies decide for this actor and audit entries name it.
 */
export class ActorScope {
  private principal: Principal;

  constructor(actor: string) {
    this.principal = { actor };
  }

  get current(): Principal {
    return this.principal;
  }

  /** Runs `body` as `principal`, then returns to the one before (also when `body` throws). */
  runAs<T>(principal: Principal, body: () => T): T {
    const before = this.principal;
    this.principal = principal;
    try {
      return body();
    } finally {
      this.principal = before;
    }
  }
}

/**
 * `target` as `actor`: a proxy whose every method call runs as that actor through `scope`. It
 * shares everything else with `target`.
 */
export function actingAs<T extends object>(target: T, scope: ActorScope, actor: Principal): T {
  return new Proxy(target, {
    get: (inner, property, receiver) => {
      const value: unknown = Reflect.get(inner, property, receiver);
      if (typeof value !== 'function' || property === 'constructor') return value;
      return (...args: unknown[]) =>
        scope.runAs(actor, () => (value as (...given: unknown[]) => unknown).apply(inner, args));
    },
  });
}
