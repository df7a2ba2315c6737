import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cartridge, isCartridgeError } from '../../src/index.js';

/**
 * `metadataBeforeChange` against `metadata`, over random trees and random spellings: for an
 * actor allowed the change on the target, it answers what `metadata` answers as an actor allowed
 * everything (nothing there is `undefined` instead of `ENOENT`); for any other actor, exactly
 * what `metadata` answers as that actor (`EACCES` included). `PROPERTY_RUNS` and `PROPERTY_SEED`
 * as in the other property tests; fast-check prints the seed and the shrunk case on failure.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '60', 10) || 60;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

const ADMIN = 'admin';
const WRITER = 'writer';

const segments = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 });
const entry = fc.record({ names: segments, directory: fc.boolean() });
const query = fc.record({ names: segments, trailingSlash: fc.boolean() });

/** What a call gave: the value, or the code of the error it threw. */
function outcomeOf(call: () => unknown): unknown {
  try {
    return { value: call() };
  } catch (error) {
    if (isCartridgeError(error)) return { code: error.code };
    throw error;
  }
}

/** `metadata`'s outcome with nothing there as `undefined`, as the look before a change says. */
function metadataOutcome(cart: Cartridge, path: string): unknown {
  const outcome = outcomeOf(() => cart.metadata(path)) as { code?: string };
  return outcome.code === 'ENOENT' ? { value: undefined } : outcome;
}

describe('metadataBeforeChange', () => {
  it('answers as metadata does, without its Read for an actor allowed the change', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 12 }),
        fc.array(query, { minLength: 1, maxLength: 12 }),
        (entries, queries) => {
          const cart = Cartridge.memory({ actor: ADMIN });
          for (const { names, directory } of entries) {
            const path = `/${names.join('/')}`;
            // Collisions (a file under a file, a path taken) are part of the tree's shape.
            outcomeOf(() => (directory ? cart.createDir(path) : cart.createFile(path, path)));
          }
          cart.setPolicy({
            Statement: [
              {
                Effect: 'Allow',
                Action: 'All',
                Resource: '/**',
                Condition: { StringEquals: { 'cartridge:actor': ADMIN } },
              },
              { Effect: 'Allow', Action: ['Write', 'Create'], Resource: '/a/**' },
            ],
          });
          const writer = cart.as(WRITER);
          for (const { names, trailingSlash } of queries) {
            const path = `/${names.join('/')}${trailingSlash ? '/' : ''}`;
            const look = outcomeOf(() =>
              writer.metadataBeforeChange(['Write', 'Create'], path, path),
            );
            // `/a/**` matches `/a` itself too, as a glob's `**` matches no segment as well.
            const allowed = path === '/a' || path.startsWith('/a/');
            const expected = allowed ? metadataOutcome(cart, path) : metadataOutcome(writer, path);
            expect(look).toEqual(expected);
          }
          cart.close();
        },
      ),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });
});
