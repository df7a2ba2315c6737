import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { CartridgeError } from '../errors.js';
import { type EngramManifest, type EngramSignature, signedManifestBytes } from './manifest.js';

/**
 * Manifest signatures as engram-rs makes them: Ed25519 over the 32-byte SHA-256 digest of the
 * compact manifest JSON with `signatures` empty (see `manifest.ts`), keys and signatures in
 * lower-case hex. A signature made here verifies in engram-rs and the other way round.
 */

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const SEED_BYTES = 32;
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** A signing key: a 32-byte Ed25519 seed, or a Node private `KeyObject` of type ed25519. */
export type SigningKey = Uint8Array | KeyObject;

/** A public key: its 32 raw bytes, their hex, or a Node `KeyObject` of type ed25519. */
export type PublicKey = Uint8Array | string | KeyObject;

export function privateKeyOf(key: SigningKey): KeyObject {
  if (key instanceof Uint8Array) {
    if (key.length !== SEED_BYTES) {
      throw new CartridgeError('INVALID_ARGUMENT', 'signingKey must be a 32-byte Ed25519 seed');
    }
    return createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, key]),
      format: 'der',
      type: 'pkcs8',
    });
  }
  if (
    typeof key === 'object' &&
    key !== null &&
    (key as KeyObject).type === 'private' &&
    (key as KeyObject).asymmetricKeyType === 'ed25519'
  ) {
    return key;
  }
  throw new CartridgeError(
    'INVALID_ARGUMENT',
    'signingKey must be a 32-byte Ed25519 seed or an ed25519 private KeyObject',
  );
}

/** The raw 32 bytes of a public key, in hex; INVALID_ARGUMENT for anything else. */
export function publicKeyHex(key: PublicKey | KeyObject): string {
  if (typeof key === 'string') {
    if (!/^[0-9a-fA-F]{64}$/.test(key)) {
      throw new CartridgeError('INVALID_ARGUMENT', 'a public key in hex must be 64 digits');
    }
    return key.toLowerCase();
  }
  if (key instanceof Uint8Array) {
    if (key.length !== PUBLIC_KEY_BYTES) {
      throw new CartridgeError('INVALID_ARGUMENT', 'a public key must be 32 bytes');
    }
    return Buffer.from(key).toString('hex');
  }
  if (typeof key === 'object' && key !== null && key.asymmetricKeyType === 'ed25519') {
    // createPublicKey derives a public key from a private one but refuses a public one.
    const publicKey = key.type === 'public' ? key : createPublicKey(key);
    const der = publicKey.export({ format: 'der', type: 'spki' });
    return der.subarray(der.length - PUBLIC_KEY_BYTES).toString('hex');
  }
  throw new CartridgeError('INVALID_ARGUMENT', 'a public key must be an Ed25519 key');
}

function digestOf(manifest: EngramManifest): Buffer {
  return createHash('sha256').update(signedManifestBytes(manifest)).digest();
}

/** The signature entry engram-rs's `Manifest::sign` would add. */
export function signManifest(
  manifest: EngramManifest,
  key: KeyObject,
  timestamp: number,
  signer: string | undefined,
): EngramSignature {
  const signature = sign(null, digestOf(manifest), key);
  return {
    algorithm: 'ed25519',
    public_key: publicKeyHex(key),
    signature: signature.toString('hex'),
    timestamp,
    signer,
  };
}

/** The length a signature entry's hex fields always have, for sizing a manifest ahead. */
export const SIGNATURE_HEX_DIGITS = SIGNATURE_BYTES * 2;

/** One signature entry checked: false for a bad algorithm, key, encoding or signature. */
function signatureValid(digest: Buffer, entry: EngramSignature): boolean {
  if (entry.algorithm !== 'ed25519') return false;
  if (!/^[0-9a-fA-F]{64}$/.test(entry.public_key)) return false;
  if (!/^[0-9a-fA-F]{128}$/.test(entry.signature)) return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(entry.public_key, 'hex')]),
      format: 'der',
      type: 'spki',
    });
    return verify(null, digest, key, Buffer.from(entry.signature, 'hex'));
  } catch {
    return false;
  }
}

export interface SignatureCheck {
  readonly publicKey: string;
  readonly signer: string | undefined;
  readonly timestamp: number;
  readonly valid: boolean;
}

/** Every signature entry of the manifest, checked against its own public key. */
export function checkSignatures(manifest: EngramManifest): SignatureCheck[] {
  const digest = digestOf(manifest);
  return manifest.signatures.map((entry) => ({
    publicKey: entry.public_key.toLowerCase(),
    signer: entry.signer,
    timestamp: entry.timestamp,
    valid: signatureValid(digest, entry),
  }));
}
