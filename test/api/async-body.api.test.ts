import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * A transaction body that is asynchronous is refused before any of its effects commit, and
 * nothing of it is left as an unhandled rejection (vitest fails the run on one, so each test
 * waits a few turns of the event loop for a rejection to surface).
 */

async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await sleep(1);
}

describe('asynchronous transaction bodies', () => {
  it('refuses an async function before it runs: nothing commits, before or after its await', async () => {
    const cartridge = Cartridge.memory();
    let ran = false;
    expectCode(
      () =>
        cartridge.transaction(async () => {
          ran = true;
          cartridge.createFile('/first', '1');
          await null;
          cartridge.createFile('/second', '2');
        }),
      'INVALID_ARGUMENT',
    );
    await settle();
    expect(ran).toBe(false);
    expect(cartridge.exists('/first')).toBe(false);
    expect(cartridge.exists('/second')).toBe(false);
    expect(cartridge.stats().recordCount).toBe(1);
    cartridge.close();
  });

  it('refuses an async body that would reject, with no unhandled rejection', async () => {
    const cartridge = Cartridge.memory();
    expectCode(
      () =>
        cartridge.transaction(async () => {
          throw new Error('late failure');
        }),
      'INVALID_ARGUMENT',
    );
    await settle();
    cartridge.createFile('/still-usable', 'yes');
    expect(cartridge.readFile('/still-usable').toString()).toBe('yes');
    cartridge.close();
  });

  it('refuses a plain function returning a rejecting promise, discarding its writes', async () => {
    const cartridge = Cartridge.memory();
    expectCode(
      () =>
        cartridge.transaction(() => {
          cartridge.createFile('/staged', 'discarded');
          return Promise.reject(new Error('rejected after the refusal'));
        }),
      'INVALID_ARGUMENT',
    );
    await settle();
    expect(cartridge.exists('/staged')).toBe(false);
    cartridge.close();
  });

  it('refuses a hand-made thenable that rejects later', async () => {
    const cartridge = Cartridge.memory();
    const thenable = {
      then(_resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
        setTimeout(() => reject(new Error('later')), 1);
      },
    };
    expectCode(() => cartridge.transaction(() => thenable), 'INVALID_ARGUMENT');
    await settle();
    cartridge.close();
  });

  it('refuses nested async bodies and keeps the outer transaction', async () => {
    const cartridge = Cartridge.memory();
    cartridge.transaction(() => {
      cartridge.createFile('/outer', 'kept');
      expectCode(
        () =>
          cartridge.transaction(async () => {
            cartridge.createFile('/inner-async', 'x');
          }),
        'INVALID_ARGUMENT',
      );
      expectCode(
        () =>
          cartridge.transaction(() => {
            cartridge.createFile('/inner-thenable', 'x');
            return Promise.reject(new Error('nested'));
          }),
        'INVALID_ARGUMENT',
      );
    });
    await settle();
    expect(cartridge.readFile('/outer').toString()).toBe('kept');
    expect(cartridge.exists('/inner-async')).toBe(false);
    expect(cartridge.exists('/inner-thenable')).toBe(false);
    cartridge.close();
  });

  it('still accepts objects with a non-function then', () => {
    const cartridge = Cartridge.memory();
    const result = cartridge.transaction(() => {
      cartridge.createFile('/x', 'x');
      return { then: 1 };
    });
    expect(result).toEqual({ then: 1 });
    expect(cartridge.exists('/x')).toBe(true);
    cartridge.close();
  });
});
