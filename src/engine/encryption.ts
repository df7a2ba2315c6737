import { CartridgeError } from '../errors.js';
import type { FileHeader } from '../journal/file-header.js';
import {
  CIPHER_NAMES,
  type CipherName,
  cipherCodeOf,
  cipherNameOf,
  ENCRYPTION_KEY_BYTES,
  Keyring,
  keyIdOf,
  NO_KEY_ID,
} from '../journal/keyring.js';
import { RecordSealing } from '../journal/record-sealing.js';

/**
 * Encryption at rest, as the engine sets it up: the options checked, the keyring built for a
 * cartridge, and the check on open that the keys given are this cartridge's, made against the
 * header before any record is read, so that a wrong key is refused at once and never taken for
 * damage (which open would cut).
 */

/** The most keys a keyring option may hold: rotations are rare, and each key costs a derivation. */
const KEYRING_KEYS_MAX = 1024;

export interface EncryptionOptions {
  /** A copy of the caller's key (the caller may wipe theirs). */
  readonly key: Buffer;
  /** The cipher asked for, if one was. */
  readonly cipher: CipherName | undefined;
  /** Copies of older keys, for reading records sealed before a rotation. */
  readonly keyring: readonly Buffer[];
}

/**
 * A key from an untyped caller: 32 bytes in a Uint8Array (a Buffer is one). The error never
 * shows the value: it may be a key of the wrong length.
 */
export function requireEncryptionKey(name: string, value: unknown): Buffer {
  if (!(value instanceof Uint8Array) || value.length !== ENCRYPTION_KEY_BYTES) {
    const shape = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      `${name} must be a Uint8Array of ${ENCRYPTION_KEY_BYTES} bytes, not ${shape}`,
    );
  }
  return Buffer.from(value);
}

/** The encryption options, or undefined for a plain cartridge. */
export function resolveEncryption(options: Record<string, unknown>): EncryptionOptions | undefined {
  const { encryptionKey, cipher, keyring } = options;
  if (encryptionKey === undefined) {
    if (cipher !== undefined || keyring !== undefined) {
      throw new CartridgeError(
        'INVALID_ARGUMENT',
        'options cipher and keyring need option encryptionKey',
      );
    }
    return undefined;
  }
  if (cipher !== undefined && !CIPHER_NAMES.includes(cipher as CipherName)) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      `option cipher must be one of ${CIPHER_NAMES.join(', ')}, not ${String(cipher)}`,
    );
  }
  let keys: Buffer[] = [];
  if (keyring !== undefined) {
    if (!Array.isArray(keyring) || keyring.length > KEYRING_KEYS_MAX) {
      throw new CartridgeError(
        'INVALID_ARGUMENT',
        `option keyring must be an array of at most ${KEYRING_KEYS_MAX} keys`,
      );
    }
    keys = keyring.map((key, index) => requireEncryptionKey(`option keyring[${index}]`, key));
  }
  return {
    key: requireEncryptionKey('option encryptionKey', encryptionKey),
    cipher: cipher as CipherName | undefined,
    keyring: keys,
  };
}

/**
 * Wipes the copies of the caller's keys once the keyring holds what it derived from them: the
 * resolved options live as long as the handle, and a key left in them would too.
 */
function forgetKeys(encryption: EncryptionOptions): void {
  encryption.key.fill(0);
  for (const key of encryption.keyring) key.fill(0);
}

/** The key id of a 32-byte key, as 8 hex digits: what errors and `encryption` name it by. */
export function encryptionKeyId(key: Uint8Array): string {
  return keyIdOf(requireEncryptionKey('key', key)).toString('hex');
}

/** The sealing of a new cartridge, or undefined for a plain one. */
export function sealingForCreate(
  encryption: EncryptionOptions | undefined,
  cartridgeId: Buffer,
): RecordSealing | undefined {
  if (encryption === undefined) return undefined;
  const keyring = new Keyring(encryption.cipher ?? 'aes-256-gcm', cartridgeId, encryption.key);
  // Older keys mean nothing to a new cartridge, but are harmless: they are only ever read with.
  for (const key of encryption.keyring) keyring.add(key);
  keyring.useKey(keyIdOf(encryption.key));
  forgetKeys(encryption);
  return new RecordSealing(keyring);
}

/** The header fields that say how a cartridge is sealed. */
export function headerEncryptionOf(
  sealing: RecordSealing | undefined,
): Pick<FileHeader, 'cipherCode' | 'keyId'> {
  if (sealing === undefined) return { cipherCode: 0, keyId: Buffer.from(NO_KEY_ID) };
  const { keyring } = sealing;
  return { cipherCode: cipherCodeOf(keyring.cipher), keyId: keyring.currentKeyId };
}

/**
 * The sealing of an existing cartridge, checked against its header: an encrypted cartridge
 * opened without a key is `KEY_REQUIRED`; with keys of which none is the one the header names,
 * `DECRYPTION_FAILED`; a plain one opened with a key, or a cipher other than the cartridge's,
 * `INVALID_ARGUMENT` (the caller believes something of the file that is not so).
 */
export function sealingForOpen(
  encryption: EncryptionOptions | undefined,
  header: FileHeader,
): RecordSealing | undefined {
  const cipher = cipherNameOf(header.cipherCode);
  if (cipher === undefined) {
    if (encryption === undefined) return undefined;
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      'the cartridge is not encrypted; it cannot be opened with an encryptionKey',
    );
  }
  const keyId = header.keyId.toString('hex');
  if (encryption === undefined) {
    throw new CartridgeError(
      'KEY_REQUIRED',
      `the cartridge is encrypted (${cipher}, key ${keyId}); pass its encryptionKey`,
    );
  }
  if (encryption.cipher !== undefined && encryption.cipher !== cipher) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      `the cartridge is encrypted with ${cipher}, not ${encryption.cipher}`,
    );
  }
  const keyring = new Keyring(cipher, header.cartridgeId, encryption.key);
  for (const key of encryption.keyring) keyring.add(key);
  forgetKeys(encryption);
  if (!keyring.has(header.keyId)) {
    throw new CartridgeError(
      'DECRYPTION_FAILED',
      `wrong key: the cartridge's current key is ${keyId}, and no key given has that id`,
    );
  }
  keyring.useKey(header.keyId);
  return new RecordSealing(keyring);
}
