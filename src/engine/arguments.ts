import { CartridgeError } from '../errors.js';
import { REQUEST_ACTIONS, type RequestAction } from '../iam/action.js';
import type { ByteRange } from './cartridge-types.js';

/**
 * Checks of the arguments public entry points receive from untyped callers (JavaScript, JSON,
 * a CLI). A wrong type or range is the caller's mistake, so it is `INVALID_ARGUMENT` at once,
 * never a `TypeError` from deep inside or an `IO_ERROR` from the system.
 */

export function invalidArgument(name: string, value: unknown, expected: string): CartridgeError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : String(value);
  return new CartridgeError('INVALID_ARGUMENT', `${name} must be ${expected}, not ${shown}`);
}

/** The path of a cartridge file on the host: a non-empty string without NUL. */
export function requireHostPath(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) {
    throw invalidArgument('the cartridge path', value, 'a non-empty string without NUL');
  }
  return value;
}

/** A list of the actions one operation may ask for: 1 to 5 of them, `All` excluded. */
export function requireRequestActions(name: string, value: unknown): readonly RequestAction[] {
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.length <= REQUEST_ACTIONS.length &&
    value.every((action) => REQUEST_ACTIONS.includes(action as RequestAction));
  if (!valid) throw invalidArgument(name, value, `a list of ${REQUEST_ACTIONS.join(', ')}`);
  return value as readonly RequestAction[];
}

/** An options argument: absent, or a plain object (not null, not an array). */
export function requireOptionsObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(name, value, 'an object');
  }
  return value as Record<string, unknown>;
}

/** A boolean option: absent (the fallback) or a boolean. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgument(`option ${name}`, value, 'a boolean');
  return value;
}

/** An integer option within [minimum, maximum]: absent (the fallback) or a safe integer. */
export function integerOption(
  name: string,
  value: unknown,
  fallback: number,
  minimum: number,
  maximum: number,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < minimum ||
    value > maximum
  ) {
    throw invalidArgument(`option ${name}`, value, `an integer from ${minimum} to ${maximum}`);
  }
  return value;
}

/** An object that has every one of `methods` as a function (a duck-typed interface). */
export function requireMethods(name: string, value: unknown, methods: readonly string[]): void {
  const valid =
    typeof value === 'object' &&
    value !== null &&
    methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function');
  if (!valid) throw invalidArgument(name, value, `an object with ${methods.join(', ')}`);
}

/**
 * The optional byte range of a read: absent, or an object whose `start` and `end` are safe
 * non-negative integers with `start <= end` when both are given.
 */
export function byteRangeOption(value: unknown): ByteRange | undefined {
  if (value === undefined) return undefined;
  const given = requireOptionsObject('the byte range', value);
  const start = integerOption('start', given.start, 0, 0, Number.MAX_SAFE_INTEGER);
  const end =
    given.end === undefined
      ? undefined
      : integerOption('end', given.end, 0, 0, Number.MAX_SAFE_INTEGER);
  if (end !== undefined && start > end)
    throw invalidArgument('range start', start, `at most end (${end})`);
  return { start, end };
}
