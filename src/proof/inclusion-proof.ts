import { CartridgeError } from '../errors.js';
import { BODY_MAX_BYTES } from '../limits.js';
import { AUDIT_PATH_MAX_HASHES, recordLeafHash, rootFromAuditPath } from './merkle.js';
import {
  ed25519PublicKey,
  headSignatureValid,
  type KeyInput,
  parseHead,
  type SignedHead,
} from './signed-head.js';

/**
 * A proof that one record is part of the history a signed head vouches for, checkable by
 * anyone with the public key and without the cartridge: the record's Merkle entry (type,
 * sequence, offset, blob hash and body), and the audit path from its leaf to the head's Merkle
 * root (at most 64 hashes; about log2 of the record count). Every field is plain JSON.
 */
export interface RecordProof {
  /** The layout of this object; 1 is the only one. */
  readonly version: 1;
  readonly head: SignedHead;
  readonly sequence: number;
  readonly offset: number;
  /** The record type byte (docs/FORMAT.md); 15 is an `audit.batch`. */
  readonly recordType: number;
  /** BLAKE3 of the record's stored blob (of no bytes when it has none), lowercase hex. */
  readonly blobHash: string;
  /** The record's body as stored (msgpack, see docs/FORMAT.md), lowercase hex. */
  readonly body: string;
  /** Sibling hashes from the leaf up, lowercase hex. */
  readonly auditPath: readonly string[];
}

/** What `verifyProof` vouches for once every check passed. */
export interface ProvenRecord {
  readonly cartridgeId: string;
  readonly sequence: number;
  readonly offset: number;
  readonly recordType: number;
  readonly body: Buffer;
  readonly blobHash: string;
  /** The signed head the record is proven under. */
  readonly head: SignedHead;
}

const PROOF_FIELDS = [
  'auditPath',
  'blobHash',
  'body',
  'head',
  'offset',
  'recordType',
  'sequence',
  'version',
];

function proofInvalid(detail: string): CartridgeError {
  return new CartridgeError('PROOF_INVALID', detail);
}

function isLowerHex(value: unknown, maxDigits: number): value is string {
  return (
    typeof value === 'string' &&
    value.length % 2 === 0 &&
    value.length <= maxDigits &&
    /^[0-9a-f]*$/.test(value)
  );
}

function isPosition(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The proof's shape, checked field by field before anything in it is believed. */
function parseProof(value: unknown): RecordProof {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw proofInvalid('a proof is an object');
  }
  const proof = value as Record<string, unknown>;
  const keys = Object.keys(proof).sort();
  if (keys.length !== PROOF_FIELDS.length || keys.some((key, at) => key !== PROOF_FIELDS[at])) {
    throw proofInvalid('a proof has exactly the fields of RecordProof');
  }
  const path = proof.auditPath;
  const valid =
    proof.version === 1 &&
    isPosition(proof.sequence) &&
    isPosition(proof.offset) &&
    Number.isInteger(proof.recordType) &&
    (proof.recordType as number) >= 1 &&
    (proof.recordType as number) <= 255 &&
    isLowerHex(proof.blobHash, 64) &&
    (proof.blobHash as string).length === 64 &&
    isLowerHex(proof.body, 2 * BODY_MAX_BYTES) &&
    Array.isArray(path) &&
    path.length <= AUDIT_PATH_MAX_HASHES &&
    path.every((hash) => isLowerHex(hash, 64) && hash.length === 64);
  if (!valid) throw proofInvalid('a proof field is malformed');
  const head = parseHead(proof.head, true);
  if (head === undefined || !('signature' in head)) throw proofInvalid('the head is malformed');
  return { ...(proof as unknown as RecordProof), head };
}

/**
 * Checks a proof against a public key, without the cartridge: the head's signature (by that
 * key), then the record's leaf up the audit path to the head's Merkle root. Throws
 * `KEY_INVALID` for a key that is not Ed25519, `SIGNATURE_INVALID` when the head is not signed
 * by that key, and `PROOF_INVALID` for anything else that does not hold.
 */
export function verifyProof(proof: unknown, publicKey: KeyInput): ProvenRecord {
  const key = ed25519PublicKey(publicKey);
  const checked = parseProof(proof);
  const { head } = checked;
  if (!headSignatureValid(head, key)) {
    throw new CartridgeError('SIGNATURE_INVALID', 'the head is not signed by this key');
  }
  if (checked.sequence >= head.sequence || checked.offset >= head.offset) {
    throw proofInvalid('the record lies outside the signed head');
  }
  const body = Buffer.from(checked.body, 'hex');
  const leaf = recordLeafHash({
    type: checked.recordType,
    sequence: checked.sequence,
    offset: checked.offset,
    blobHash: Buffer.from(checked.blobHash, 'hex'),
    body,
  });
  const path = checked.auditPath.map((hash) => Buffer.from(hash, 'hex'));
  const root = rootFromAuditPath(checked.sequence, head.sequence, leaf, path);
  if (root === undefined || root.toString('hex') !== head.merkleRoot) {
    throw proofInvalid('the audit path does not lead to the signed Merkle root');
  }
  return {
    cartridgeId: head.cartridgeId,
    sequence: checked.sequence,
    offset: checked.offset,
    recordType: checked.recordType,
    body,
    blobHash: checked.blobHash,
    head,
  };
}
