import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import type { RequestAction } from '../../../src/iam/action.js';
import { PolicyEvaluator } from '../../../src/iam/evaluator.js';
import { loadPolicy } from '../../../src/iam/policy.js';
import { canonicalPath } from '../../../src/path/canonical-path.js';

/**
 * A corpus of tricky spellings of paths against deny policies. Every spelling is either
 * refused by the canonical path function (with its typed error) or made canonical into the
 * form written here by hand, and then decided exactly as that form is, for every action: a
 * bypass is a spelling that reaches a decision its canonical form would not get.
 *
 * Percent-encoding is not decoding: `%2e%2e` is a name of six literal characters, stored under
 * that name, so `/%2e%2e/secret/a` is a different file from `/secret/a` and is decided as
 * such (the same for backslashes, which are literal characters in POSIX names). Unicode
 * look-alikes (Cyrillic `ѕ`, fullwidth `．`, the one-dot leader) are other names too; what the
 * canonical function does fold is NFD into NFC, so `cafe\u0301` is `caf\u00e9`.
 */

const ACTIONS: readonly RequestAction[] = ['Read', 'Write', 'Create', 'Delete', 'List'];
const TIME = new Date('2026-11-30T12:00:00Z');

const POLICY = {
  Statement: [
    { Sid: 'Everything', Effect: 'Allow', Action: 'All', Resource: '/**' },
    { Sid: 'Secret', Effect: 'Deny', Action: 'All', Resource: '/secret/**' },
    { Sid: 'Keys', Effect: 'Deny', Action: 'All', Resource: '/docs/*.key' },
    { Sid: 'DotEnv', Effect: 'Deny', Action: 'Read', Resource: '/**/.env' },
    { Sid: 'Cafe', Effect: 'Deny', Action: 'All', Resource: '/caf\u00e9/**' },
    { Sid: 'Angstrom', Effect: 'Deny', Action: 'All', Resource: '/\u00c5/**' },
    { Sid: 'Admin', Effect: 'Deny', Action: 'All', Resource: ['/admin', '/admin/**'] },
  ],
};

/** The same policy with its patterns spelt badly: it must decide everything the same way. */
const POLICY_SPELT_BADLY = {
  Statement: [
    { Sid: 'Everything', Effect: 'Allow', Action: '*', Resource: '*' },
    { Sid: 'Secret', Effect: 'Deny', Action: 'all', Resource: '//public/../secret/./**/' },
    { Sid: 'Keys', Effect: 'Deny', Action: ['*'], Resource: '/docs//x/../*.key' },
    { Sid: 'DotEnv', Effect: 'Deny', Action: 'read', Resource: '/**/**/.env' },
    { Sid: 'Cafe', Effect: 'Deny', Action: 'All', Resource: '/cafe\u0301/**' },
    { Sid: 'Angstrom', Effect: 'Deny', Action: 'All', Resource: '/\u212b/**' },
    { Sid: 'Admin', Effect: 'Deny', Action: 'All', Resource: ['/admin/.', '/./admin//**'] },
  ],
};

type Refused = { readonly refused: 'EINVAL' | 'ENAMETOOLONG' | 'LIMIT_EXCEEDED' };
/** [spelling, its canonical form or the error refusing it, whether Read is denied there]. */
type Entry = readonly [string, string | Refused, boolean];

const EINVAL: Refused = { refused: 'EINVAL' };
const TOO_LONG: Refused = { refused: 'ENAMETOOLONG' };
const TOO_DEEP: Refused = { refused: 'LIMIT_EXCEEDED' };

const CORPUS: readonly Entry[] = [
  // Traversal.
  ['/public/../secret/a', '/secret/a', true],
  ['/public/../../secret/a', '/secret/a', true],
  ['/../secret/a', '/secret/a', true],
  ['../../secret/a', '/secret/a', true],
  ['secret/a', '/secret/a', true],
  ['./secret/a', '/secret/a', true],
  ['secret', '/secret', true],
  ['/secret/../secret/a', '/secret/a', true],
  ['/a/b/c/../../../secret/x', '/secret/x', true],
  ['/secret/a/..', '/secret', true],
  ['/secret/..', '/', false],
  ['/docs/sub/../x.key', '/docs/x.key', true],
  ['/adminx/..', '/', false],
  // `.` segments.
  ['/secret/./a', '/secret/a', true],
  ['/./secret/a', '/secret/a', true],
  ['/secret/.', '/secret', true],
  ['/.', '/', false],
  ['.', '/', false],
  ['/docs/./.env', '/docs/.env', true],
  ['/docs/x.key/.', '/docs/x.key', true],
  // Doubled slashes.
  ['//secret/a', '/secret/a', true],
  ['/secret//a', '/secret/a', true],
  ['///secret///a///', '/secret/a', true],
  ['/admin//.', '/admin', true],
  // Trailing slashes.
  ['/secret/', '/secret', true],
  ['/secret/a//', '/secret/a', true],
  ['/admin/', '/admin', true],
  ['/docs/x.key/', '/docs/x.key', true],
  // Dots inside names are names; dot-files are files.
  ['/secret/...', '/secret/...', true],
  ['/.../secret/a', '/.../secret/a', false],
  ['/secret./a', '/secret./a', false],
  ['/.secret/a', '/.secret/a', false],
  ['/docs/.env', '/docs/.env', true],
  ['/.env', '/.env', true],
  ['/docs/.key', '/docs/.key', true],
  ['/docs/..key', '/docs/..key', true],
  ['/admin.bak', '/admin.bak', false],
  // Percent-encoded dots and slashes are literal characters, never decoded.
  ['/%2e%2e/secret/a', '/%2e%2e/secret/a', false],
  ['/public/%2e%2e/secret/a', '/public/%2e%2e/secret/a', false],
  ['/secret%2fa', '/secret%2fa', false],
  ['/%2Fsecret/a', '/%2Fsecret/a', false],
  ['/secret/%2e', '/secret/%2e', true],
  ['/.%2e/secret', '/.%2e/secret', false],
  ['/%252e%252e/secret', '/%252e%252e/secret', false],
  // Backslashes are literal characters in POSIX names.
  ['/public\\..\\secret\\a', '/public\\..\\secret\\a', false],
  ['\\secret\\a', '/\\secret\\a', false],
  // Unicode look-alikes are other names.
  ['/\u0455ecret/a', '/\u0455ecret/a', false],
  ['/secret\u2024/a', '/secret\u2024/a', false],
  ['/\uff0fsecret/a', '/\uff0fsecret/a', false],
  ['/secret\u2215a', '/secret\u2215a', false],
  ['/\u2025/secret/a', '/\u2025/secret/a', false],
  ['/secret/\uff0e\uff0e/x', '/secret/\uff0e\uff0e/x', true],
  ['/public/\uff0e\uff0e/secret/a', '/public/\uff0e\uff0e/secret/a', false],
  ['/secret\u200b/a', '/secret\u200b/a', false],
  ['/\ufeffsecret/a', '/\ufeffsecret/a', false],
  [' /secret/a', '/ /secret/a', false],
  ['/secret /a', '/secret /a', false],
  ['/docs/x.KEY', '/docs/x.KEY', false],
  // NFD folds into NFC, in names and in patterns alike.
  ['/cafe\u0301/menu', '/caf\u00e9/menu', true],
  ['/caf\u00e9/menu', '/caf\u00e9/menu', true],
  ['/cafe\u0301/../cafe\u0301/x', '/caf\u00e9/x', true],
  ['/CAFE\u0301/menu', '/CAF\u00c9/menu', false],
  ['/\u212b/x', '/\u00c5/x', true],
  ['/A\u030a/x', '/\u00c5/x', true],
  ['/\u00c5/x', '/\u00c5/x', true],
  // Control characters, bidirectional controls and lone surrogates are refused.
  ['/secret\u0000/a', EINVAL, true],
  ['/secret/a\n', EINVAL, true],
  ['/secr\tet', EINVAL, true],
  ['/\u001b[31msecret', EINVAL, true],
  ['/secret\u007f', EINVAL, true],
  ['/secret\u0085', EINVAL, true],
  ['/\u202eterces/a', EINVAL, true],
  ['/secret\u200e/a', EINVAL, true],
  ['/\u2066secret\u2069/a', EINVAL, true],
  ['/secret/\ud800', EINVAL, true],
  ['', EINVAL, true],
  // Very long paths: refused, or made canonical like any other.
  [`/secret/${'a'.repeat(256)}`, TOO_LONG, true],
  [`/secret/${'\u00e9'.repeat(128)}`, TOO_LONG, true],
  [`/secret/${'e\u0301'.repeat(127)}`, `/secret/${'\u00e9'.repeat(127)}`, true],
  [`/${'x'.repeat(20_000)}`, TOO_LONG, true],
  [`/secret/${'a/'.repeat(300)}`, TOO_DEEP, true],
  [`${'/x/..'.repeat(1000)}/secret/a`, '/secret/a', true],
  [`/public/${'../'.repeat(3000)}secret/a`, '/secret/a', true],
  [`${'/a'.repeat(300)}${'/..'.repeat(300)}/secret/a`, '/secret/a', true],
  [`/secret/${'b/'.repeat(250)}c`, `/secret/${'b/'.repeat(250)}c`, true],
];

function refusalCodeOf(spelling: string): string | null {
  try {
    canonicalPath(spelling);
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(CartridgeError);
    return (error as CartridgeError).code;
  }
}

describe('canonicalisation corpus against deny policies', () => {
  const evaluators = [POLICY, POLICY_SPELT_BADLY].map(
    (document) => new PolicyEvaluator(loadPolicy(document)),
  );

  it('holds at least 60 spellings', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
  });

  it('loads the badly spelt policy into the same statements as the plain one', () => {
    expect(loadPolicy(POLICY_SPELT_BADLY)).toEqual(loadPolicy(POLICY));
  });

  it('has no bypass: each spelling is refused, or decided exactly as its canonical form', () => {
    const bypasses: string[] = [];
    for (const [spelling, expected, readDenied] of CORPUS) {
      const label = JSON.stringify(spelling.length > 60 ? `${spelling.slice(0, 60)}...` : spelling);
      if (typeof expected !== 'string') {
        const code = refusalCodeOf(spelling);
        if (code !== expected.refused) bypasses.push(`${label}: ${code ?? 'accepted'}`);
        continue;
      }
      const canonical = canonicalPath(spelling);
      if (canonical !== expected) {
        bypasses.push(`${label} became ${JSON.stringify(canonical)}`);
        continue;
      }
      for (const evaluator of evaluators) {
        for (const action of ACTIONS) {
          const request = { actor: 'agent', action, time: TIME };
          const decision = evaluator.decide({ ...request, path: canonical });
          const fresh = new PolicyEvaluator(evaluator.policy, { cacheEntries: 0 });
          if (
            JSON.stringify(decision) !==
            JSON.stringify(fresh.decide({ ...request, path: expected }))
          ) {
            bypasses.push(`${label} ${action}: decided unlike ${expected}`);
          }
          if (action === 'Read' && decision.allowed === readDenied) {
            bypasses.push(`${label} Read: ${decision.allowed ? 'allowed' : 'denied'}`);
          }
        }
      }
    }
    expect(bypasses).toEqual([]);
  });
});
