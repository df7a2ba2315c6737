import { CartridgeError } from '../errors.js';
import { ed25519PublicKey, parseHead } from '../proof/signed-head.js';
import { requireOptionsObject } from './arguments.js';
import type { VerifyOptions } from './cartridge-types.js';
import type { VerifyChecks } from './verify.js';

/**
 * The checks `verify()` was asked for, from the caller's options: a public key that is not
 * Ed25519 is `KEY_INVALID`, an anchor that is not a head `INVALID_ARGUMENT`.
 */
export function verifyChecksOf(options: VerifyOptions): VerifyChecks {
  const given = requireOptionsObject('verify options', options);
  const publicKey = given.publicKey === undefined ? undefined : ed25519PublicKey(given.publicKey);
  let anchor;
  if (given.anchor !== undefined) {
    anchor = parseHead(given.anchor, false);
    if (anchor === undefined) {
      throw new CartridgeError('INVALID_ARGUMENT', 'an anchor is a head exportHead() returned');
    }
  }
  const onProgress: unknown = given.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new CartridgeError('INVALID_ARGUMENT', 'verify option onProgress must be a function');
  }
  return { publicKey, anchor, onProgress: onProgress as VerifyOptions['onProgress'] };
}
