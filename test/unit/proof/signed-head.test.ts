import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ed25519PrivateKey,
  ed25519PublicKey,
  type ExportedHead,
  headSignatureValid,
  parseHead,
  signedHeadMessage,
  signHead,
} from '../../../src/proof/signed-head.js';
import { expectCode } from '../../support/expect-code.js';

/** Signed heads: the signed bytes, signing and checking, key parsing, and untrusted heads. */

const HEAD: ExportedHead = {
  cartridgeId: '00112233445566778899aabbccddeeff',
  sequence: 10_000,
  offset: 2 ** 40,
  headHash: 'ab'.repeat(32),
  merkleRoot: 'cd'.repeat(32),
};

describe('signed heads', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  it('signs a domain-separated message of id, sequence, offset, chain hash and Merkle root', () => {
    const message = signedHeadMessage(HEAD);
    expect(message.subarray(0, 24).toString('latin1')).toBe('cartridge-signed-head-v1');
    expect(message.subarray(24, 40).toString('hex')).toBe(HEAD.cartridgeId);
    expect(message.readBigUInt64LE(40)).toBe(10_000n);
    expect(message.readBigUInt64LE(48)).toBe(2n ** 40n);
    expect(message.subarray(56, 88).toString('hex')).toBe(HEAD.headHash);
    expect(message.subarray(88, 120).toString('hex')).toBe(HEAD.merkleRoot);
    expect(message.length).toBe(120);
  });

  it('verifies its own signature and nothing else', () => {
    const signed = signHead(HEAD, privateKey);
    expect(headSignatureValid(signed, publicKey)).toBe(true);
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(headSignatureValid(signed, other)).toBe(false);
    const changes: Partial<ExportedHead>[] = [
      { cartridgeId: '00112233445566778899aabbccddeefe' },
      { sequence: 9_999 },
      { offset: 2 ** 40 + 1 },
      { headHash: 'ab'.repeat(31) + 'ac' },
      { merkleRoot: 'cd'.repeat(31) + 'ce' },
    ];
    for (const change of changes) {
      expect(headSignatureValid({ ...signed, ...change }, publicKey)).toBe(false);
    }
    const flipped = (Number.parseInt(signed.signature.slice(0, 2), 16) ^ 1).toString(16);
    const badSignature = flipped.padStart(2, '0') + signed.signature.slice(2);
    expect(headSignatureValid({ ...signed, signature: badSignature }, publicKey)).toBe(false);
  });

  it('reads keys as KeyObjects, PEM, DER and raw public bytes', () => {
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    expect(ed25519PrivateKey(pem).asymmetricKeyType).toBe('ed25519');
    expect(ed25519PrivateKey(der).asymmetricKeyType).toBe('ed25519');
    const signed = signHead(HEAD, ed25519PrivateKey(pem));
    for (const form of [
      publicKey,
      privateKey,
      publicKey.export({ format: 'pem', type: 'spki' }) as string,
      publicKey.export({ format: 'der', type: 'spki' }),
      Buffer.from(signed.publicKey, 'hex'),
      signed.publicKey,
    ]) {
      expect(headSignatureValid(signed, ed25519PublicKey(form))).toBe(true);
    }
  });

  it('refuses keys of other types with KEY_INVALID', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const x25519 = generateKeyPairSync('x25519');
    expectCode(() => ed25519PrivateKey(rsa.privateKey), 'KEY_INVALID');
    expectCode(() => ed25519PrivateKey(x25519.privateKey), 'KEY_INVALID');
    expectCode(() => ed25519PrivateKey(publicKey), 'KEY_INVALID');
    expectCode(() => ed25519PrivateKey('not a key'), 'KEY_INVALID');
    expectCode(() => ed25519PrivateKey(42), 'KEY_INVALID');
    expectCode(() => ed25519PublicKey(rsa.publicKey), 'KEY_INVALID');
    expectCode(() => ed25519PublicKey(Buffer.alloc(5)), 'KEY_INVALID');
    expectCode(() => ed25519PublicKey(undefined), 'KEY_INVALID');
  });

  it('parses untrusted heads strictly', () => {
    const signed = signHead(HEAD, privateKey);
    expect(parseHead(JSON.parse(JSON.stringify(signed)), true)).toEqual(signed);
    expect(parseHead(HEAD, false)).toEqual(HEAD);
    expect(parseHead(HEAD, true)).toBeUndefined();
    expect(parseHead({ ...HEAD, extra: 1 }, false)).toBeUndefined();
    expect(parseHead({ ...HEAD, headHash: 'AB'.repeat(32) }, false)).toBeUndefined();
    expect(parseHead({ ...HEAD, sequence: -1 }, false)).toBeUndefined();
    expect(parseHead({ ...HEAD, offset: 1.5 }, false)).toBeUndefined();
    expect(parseHead({ ...signed, signature: signed.signature.slice(2) }, true)).toBeUndefined();
    expect(parseHead(null, false)).toBeUndefined();
    expect(parseHead([HEAD], false)).toBeUndefined();
  });
});
