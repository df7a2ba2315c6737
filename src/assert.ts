/**
 * `assert` guards invariants that only a bug in Cartridge can break. It is never caught: an
 * assertion failure means the in-memory state can no longer be trusted.
 */
export class AssertionError extends Error {
  readonly code = 'ERR_ASSERTION';
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message = 'invariant violated'): asserts condition {
  if (!condition) throw new AssertionError(message);
}
