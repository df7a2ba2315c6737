import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as signBytes,
  verify as verifySignature,
} from 'node:crypto';
import { assert } from '../assert.js';
import { CartridgeError } from '../errors.js';

/**
 * Signed heads: what a key holder vouches for about a cartridge at one moment. A head names
 * the cartridge, how many records it had (`sequence`, the sequence number of the next record),
 * where they ended (`offset`), the chain hash of the last one (`headHash`) and the Merkle root
 * over all of them (`merkleRoot`). The chain hash binds every byte of every record; the Merkle
 * root lets one record be proven without the others. Both are signed (Ed25519), over a
 * domain-separated message, so that the signature cannot be replayed as anything else.
 */

/** A head as `exportHead()` gives it: nothing signed, for keeping somewhere the file is not. */
export interface ExportedHead {
  /** 32 lowercase hex digits. */
  readonly cartridgeId: string;
  /** How many records the head covers: the sequence number of the record after it. */
  readonly sequence: number;
  /** The journal offset where those records end. */
  readonly offset: number;
  /** The full chain hash of the last record covered, 64 lowercase hex digits. */
  readonly headHash: string;
  /** The Merkle root over the records covered, 64 lowercase hex digits. */
  readonly merkleRoot: string;
}

/** A head with the signature `signCheckpoint()` made and the public key that checks it. */
export interface SignedHead extends ExportedHead {
  /** The raw Ed25519 public key, 64 lowercase hex digits. */
  readonly publicKey: string;
  /** The Ed25519 signature, 128 lowercase hex digits. */
  readonly signature: string;
}

/** What a caller may pass as a key: a `KeyObject`, PEM text, or DER bytes. */
export type KeyInput = KeyObject | string | Buffer;

const SIGNED_HEAD_DOMAIN = Buffer.from('cartridge-signed-head-v1', 'latin1');
const CARTRIDGE_ID_BYTES = 16;
const HASH_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** The exact bytes an Ed25519 signature covers (see docs/FORMAT.md, "Signed heads"). */
export function signedHeadMessage(head: ExportedHead): Buffer {
  const message = Buffer.alloc(SIGNED_HEAD_DOMAIN.length + CARTRIDGE_ID_BYTES + 16 + 2 * 32);
  let position = SIGNED_HEAD_DOMAIN.copy(message, 0);
  position += Buffer.from(head.cartridgeId, 'hex').copy(message, position);
  message.writeBigUInt64LE(BigInt(head.sequence), position);
  message.writeBigUInt64LE(BigInt(head.offset), position + 8);
  position += 16;
  position += Buffer.from(head.headHash, 'hex').copy(message, position);
  Buffer.from(head.merkleRoot, 'hex').copy(message, position);
  return message;
}

function keyInvalid(detail: string, cause?: unknown): CartridgeError {
  return new CartridgeError('KEY_INVALID', detail, cause === undefined ? {} : { cause });
}

/** An Ed25519 private key from what the caller gave; anything else is `KEY_INVALID`. */
export function ed25519PrivateKey(input: unknown): KeyObject {
  let key: KeyObject;
  try {
    if (isKeyObject(input)) key = input;
    else if (typeof input === 'string') key = createPrivateKey(input);
    else if (Buffer.isBuffer(input))
      key = createPrivateKey({ key: input, format: 'der', type: 'pkcs8' });
    else throw keyInvalid('a private key is a KeyObject, PEM text or PKCS#8 DER bytes');
  } catch (error) {
    if (error instanceof CartridgeError) throw error;
    throw keyInvalid('the private key could not be read', error);
  }
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw keyInvalid('signing needs an Ed25519 private key');
  }
  return key;
}

/**
 * An Ed25519 public key from what the caller gave: a `KeyObject` (a private one gives its
 * public half), PEM text, SPKI DER bytes, or the raw 32 bytes (as a Buffer or 64 hex digits,
 * as `SignedHead.publicKey` holds it). Anything else is `KEY_INVALID`.
 */
export function ed25519PublicKey(input: unknown): KeyObject {
  let key: KeyObject;
  try {
    if (isKeyObject(input)) key = input.type === 'private' ? createPublicKey(input) : input;
    else if (typeof input === 'string' && /^[0-9a-f]{64}$/.test(input)) {
      key = rawPublicKey(Buffer.from(input, 'hex'));
    } else if (typeof input === 'string') key = createPublicKey(input);
    else if (Buffer.isBuffer(input) && input.length === PUBLIC_KEY_BYTES) key = rawPublicKey(input);
    else if (Buffer.isBuffer(input))
      key = createPublicKey({ key: input, format: 'der', type: 'spki' });
    else throw keyInvalid('a public key is a KeyObject, PEM text, DER bytes or 32 raw bytes');
  } catch (error) {
    if (error instanceof CartridgeError) throw error;
    throw keyInvalid('the public key could not be read', error);
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
    throw keyInvalid('checking a signature needs an Ed25519 public key');
  }
  return key;
}

function isKeyObject(value: unknown): value is KeyObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    'asymmetricKeyType' in value &&
    typeof (value as KeyObject).export === 'function'
  );
}

function rawPublicKey(raw: Buffer): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

/** What an Ed25519 public key's SubjectPublicKeyInfo (DER) holds before its 32 raw bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The raw 32 bytes of an Ed25519 public key, from its DER form. Not from its JWK form: Node 20
 * exports an Ed25519 JWK while holding the key's mutex and allocating, and a garbage
 * collection in that window that finalises the job of a `generateKeyPairSync` of the same key
 * takes the same mutex, so the process deadlocks (seen in a test run: the main thread waiting
 * in `~KeyGenJob` under `ExportJWKEdKey`).
 */
export function rawPublicKeyOf(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  assert(
    der.length === ED25519_SPKI_PREFIX.length + 32 &&
      der.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX),
    'an Ed25519 public key exports as its fixed DER prefix and 32 bytes',
  );
  return Buffer.from(der.subarray(ED25519_SPKI_PREFIX.length));
}

export function signHead(head: ExportedHead, privateKey: KeyObject): SignedHead {
  const signature = signBytes(null, signedHeadMessage(head), privateKey);
  return {
    ...head,
    publicKey: rawPublicKeyOf(createPublicKey(privateKey)).toString('hex'),
    signature: signature.toString('hex'),
  };
}

/**
 * Whether `head` carries a valid signature by `publicKey`. The key named inside the head must
 * be that key: a head signed by anyone else proves nothing to this caller.
 */
export function headSignatureValid(head: SignedHead, publicKey: KeyObject): boolean {
  if (head.publicKey !== rawPublicKeyOf(publicKey).toString('hex')) return false;
  return verifySignature(
    null,
    signedHeadMessage(head),
    publicKey,
    Buffer.from(head.signature, 'hex'),
  );
}

function isHex(value: unknown, digits: number): value is string {
  return typeof value === 'string' && value.length === digits && /^[0-9a-f]*$/.test(value);
}

function isPosition(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Checks an untrusted head's shape: exactly these fields, lowercase hex of the right lengths,
 * safe integers. Returns undefined when it is malformed (the caller picks the error code).
 */
export function parseHead(value: unknown, signed: boolean): SignedHead | ExportedHead | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const head = value as Record<string, unknown>;
  const keys = Object.keys(head).sort();
  const hasSignature = 'signature' in head || 'publicKey' in head;
  if (signed && !hasSignature) return undefined;
  const expected = hasSignature
    ? ['cartridgeId', 'headHash', 'merkleRoot', 'offset', 'publicKey', 'sequence', 'signature']
    : ['cartridgeId', 'headHash', 'merkleRoot', 'offset', 'sequence'];
  if (keys.length !== expected.length || keys.some((key, index) => key !== expected[index])) {
    return undefined;
  }
  const valid =
    isHex(head.cartridgeId, 2 * CARTRIDGE_ID_BYTES) &&
    isPosition(head.sequence) &&
    isPosition(head.offset) &&
    isHex(head.headHash, 2 * HASH_BYTES) &&
    isHex(head.merkleRoot, 2 * HASH_BYTES) &&
    (!hasSignature ||
      (isHex(head.publicKey, 2 * PUBLIC_KEY_BYTES) && isHex(head.signature, 2 * SIGNATURE_BYTES)));
  if (!valid) return undefined;
  const exported: ExportedHead = {
    cartridgeId: head.cartridgeId as string,
    sequence: head.sequence as number,
    offset: head.offset as number,
    headHash: head.headHash as string,
    merkleRoot: head.merkleRoot as string,
  };
  if (!hasSignature) return exported;
  return { ...exported, publicKey: head.publicKey as string, signature: head.signature as string };
}

export function isSignedHead(head: ExportedHead): head is SignedHead {
  return 'signature' in head;
}
