import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { assert } from '../assert.js';

/**
 * The keys of an encrypted cartridge, by key id. A key id is the first KEY_ID_BYTES of
 * HMAC-SHA256(key, "cartridge key id v1"): derived from the key, never random, so that a key
 * given back in a keyring is matched to the records it sealed, and the id reveals nothing of
 * the key. Records are not sealed with the caller's key itself but with a record key derived
 * from it by HKDF-SHA256 with the cartridge id as salt: two cartridges that share a key never
 * share a record key, so their nonces cannot collide.
 */

export type CipherName = 'aes-256-gcm' | 'chacha20-poly1305';

/** The cipher as the file header stores it; 0 is an unencrypted cartridge. */
export const enum CipherCode {
  None = 0,
  Aes256Gcm = 1,
  ChaCha20Poly1305 = 2,
}

export const CIPHER_NAMES: readonly CipherName[] = ['aes-256-gcm', 'chacha20-poly1305'];
export const ENCRYPTION_KEY_BYTES = 32;
export const KEY_ID_BYTES = 4;
/** The key id field of an unencrypted cartridge's header. */
export const NO_KEY_ID = Buffer.alloc(KEY_ID_BYTES);

const KEY_ID_LABEL = 'cartridge key id v1';
const RECORD_KEY_INFO = 'cartridge record key v1';

export function cipherCodeOf(name: CipherName): CipherCode {
  return name === 'aes-256-gcm' ? CipherCode.Aes256Gcm : CipherCode.ChaCha20Poly1305;
}

/** The cipher a header code names, or undefined for none or an unknown code. */
export function cipherNameOf(code: number): CipherName | undefined {
  if (code === CipherCode.Aes256Gcm) return 'aes-256-gcm';
  if (code === CipherCode.ChaCha20Poly1305) return 'chacha20-poly1305';
  return undefined;
}

/** The key id of a 32-byte key. */
export function keyIdOf(key: Uint8Array): Buffer {
  assert(key.length === ENCRYPTION_KEY_BYTES, 'an encryption key is 32 bytes');
  return createHmac('sha256', key).update(KEY_ID_LABEL).digest().subarray(0, KEY_ID_BYTES);
}

/** Key ids as map keys: the four bytes as one unsigned integer. */
export function keyIdNumberOf(keyId: Uint8Array, offset = 0): number {
  return (
    (keyId[offset] as number) * 0x100_0000 +
    (((keyId[offset + 1] as number) << 16) |
      ((keyId[offset + 2] as number) << 8) |
      (keyId[offset + 3] as number))
  );
}

export class Keyring {
  private readonly recordKeys = new Map<number, KeyObject>();
  private currentValue: Buffer;

  /** `key` is the key new records are sealed with until `useKey` names another. */
  constructor(
    readonly cipher: CipherName,
    private readonly cartridgeId: Buffer,
    key: Uint8Array,
  ) {
    this.currentValue = this.add(key);
  }

  /** Adds a key (a copy of it is derived, the caller's bytes are not kept); returns its id. */
  add(key: Uint8Array): Buffer {
    const keyId = keyIdOf(key);
    const recordKey = Buffer.from(
      hkdfSync('sha256', key, this.cartridgeId, RECORD_KEY_INFO, ENCRYPTION_KEY_BYTES),
    );
    this.recordKeys.set(keyIdNumberOf(keyId), createSecretKey(recordKey));
    recordKey.fill(0);
    return keyId;
  }

  has(keyId: Uint8Array): boolean {
    return this.recordKeys.has(keyIdNumberOf(keyId));
  }

  /** The record key of a key id (as `keyIdNumberOf` gives it), if the keyring holds it. */
  recordKeyOf(keyIdNumber: number): KeyObject | undefined {
    return this.recordKeys.get(keyIdNumber);
  }

  /** The id of the key new records are sealed with. */
  get currentKeyId(): Buffer {
    return this.currentValue;
  }

  get currentRecordKey(): KeyObject {
    const key = this.recordKeys.get(keyIdNumberOf(this.currentValue));
    assert(key !== undefined, 'the current key is in the keyring');
    return key;
  }

  /** Seals new records with the key `keyId` names, which the keyring must hold. */
  useKey(keyId: Uint8Array): void {
    assert(this.has(keyId), 'only a key in the keyring can become current');
    this.currentValue = Buffer.from(keyId);
  }
}
