import { CartridgeError } from '../errors.js';

/**
 * Transaction bodies must be synchronous: a commit is one synchronous step, and writes made
 * after an `await` would run outside the transaction, one commit at a time. Native async
 * functions are refused before they run, so none of their effects exist and no promise is made.
 * Any other function that returns a thenable is refused after it ran (its staged writes are
 * discarded by the caller), and its promise gets a rejection handler, so that the refused
 * body can never crash the process as an unhandled rejection.
 */

const ASYNC_FUNCTION_TAGS: ReadonlySet<string> = new Set([
  '[object AsyncFunction]',
  '[object AsyncGeneratorFunction]',
]);

function refusal(): CartridgeError {
  return new CartridgeError(
    'INVALID_ARGUMENT',
    'a transaction body must be synchronous (writes after an await are not part of it)',
  );
}

/** Throws `INVALID_ARGUMENT` for a body that is not a function, or is a native async one. */
export function refuseAsyncBody(body: unknown): void {
  if (typeof body !== 'function')
    throw new CartridgeError('INVALID_ARGUMENT', 'transaction needs a function');
  if (ASYNC_FUNCTION_TAGS.has(Object.prototype.toString.call(body))) throw refusal();
}

/** Throws `INVALID_ARGUMENT` when a body returned a thenable, after silencing its rejection. */
export function refuseThenableResult(result: unknown): void {
  if (typeof result !== 'object' && typeof result !== 'function') return;
  if (result === null) return;
  let then: unknown;
  try {
    then = (result as { then?: unknown }).then;
  } catch {
    // A getter that throws makes it no thenable we can use; it is refused all the same.
    throw refusal();
  }
  if (typeof then !== 'function') return;
  try {
    then.call(result, undefined, ignoreRejection);
  } catch {
    // A thenable whose `then` throws has nothing left to reject later.
  }
  throw refusal();
}

function ignoreRejection(): void {
  // The body was refused and its caller told so; its later outcome has no one to go to.
}
