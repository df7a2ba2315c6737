import { expect } from 'vitest';
import { CartridgeError } from '../../src/errors.js';

/** Runs `action` and asserts it throws a `CartridgeError` with `code`; fails if nothing throws. */
export function expectCode(action: () => unknown, code: string): CartridgeError {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${code}, but nothing was thrown`).toBeInstanceOf(CartridgeError);
  expect((thrown as CartridgeError).code).toBe(code);
  return thrown as CartridgeError;
}

/** The `CartridgeError` `action` throws; fails the test when it returns or throws another kind. */
export function thrownBy(action: () => unknown): CartridgeError {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) expect.fail('expected an error, but the call returned');
  expect(thrown).toBeInstanceOf(CartridgeError);
  return thrown as CartridgeError;
}

/** The `code` of whatever `action` throws (system errors included), or 'no error'. */
export function codeThrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
  return 'no error';
}
