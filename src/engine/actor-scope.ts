/**
 * Who a handle's operations run as: the handle's actor, or the one `as()` set for a call.
 * Policies decide for this actor and audit entries name it.
 */
export class ActorScope {
  constructor(private actor: string) {}

  get current(): string {
    return this.actor;
  }

  /** Runs `body` as `actor`, then returns to the actor before it (also when `body` throws). */
  runAs<T>(actor: string, body: () => T): T {
    const before = this.actor;
    this.actor = actor;
    try {
      return body();
    } finally {
      this.actor = before;
    }
  }
}

/**
 * `target` as `actor`: a proxy whose every method call runs as that actor through `scope`. It
 * shares everything else with `target`.
 */
export function actingAs<T extends object>(target: T, scope: ActorScope, actor: string): T {
  return new Proxy(target, {
    get: (inner, property, receiver) => {
      const value: unknown = Reflect.get(inner, property, receiver);
      if (typeof value !== 'function' || property === 'constructor') return value;
      return (...args: unknown[]) =>
        scope.runAs(actor, () => (value as (...given: unknown[]) => unknown).apply(inner, args));
    },
  });
}
