import { CartridgeError } from '../errors.js';
import type { CipherName } from '../journal/keyring.js';
import type { RecordSealing } from '../journal/record-sealing.js';

/**
 * Key rotation: from one commit on, records are sealed with a new key. The commit holds a
 * `key.rotated` record naming the new key's id (never the key), itself sealed with the new
 * key, so the journal says where each key starts; every record also names its key in its own
 * sealed body, so reading needs no map of epochs, only the keys (the old ones in `keyring`).
 * Old records are not sealed again: the journal is append-only, and the old key keeps opening
 * them until compaction rewrites them.
 */

/** How a cartridge is encrypted: its cipher and the id of the key sealing new records. */
export interface EncryptionInfo {
  readonly cipher: CipherName;
  /** 8 hex digits (see `encryptionKeyId`). */
  readonly keyId: string;
}

export function encryptionInfoOf(sealing: RecordSealing | undefined): EncryptionInfo | null {
  if (sealing === undefined) return null;
  const { keyring } = sealing;
  return { cipher: keyring.cipher, keyId: keyring.currentKeyId.toString('hex') };
}

/** What a rotation needs of the handle. */
export interface RotationSteps {
  readonly sealing: RecordSealing | undefined;
  /** Commits the `key.rotated` record (through the gate, as an administrative operation). */
  commit(keyId: string): void;
  /** Makes the rotation durable and the header name the new key. */
  syncNow(): void;
}

/**
 * Rotates to `key` (checked by the caller): the keyring takes the key, new records are sealed
 * with it from the rotation's commit on, and the rotation is made durable (in every
 * durability mode) before this returns, so that the caller may rely on it. A commit that fails
 * (a refusal, a full disk) leaves the old key current. Returns the new key's id.
 */
export function rotateKey(key: Buffer, steps: RotationSteps): string {
  const { sealing } = steps;
  if (sealing === undefined) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      'the cartridge is not encrypted; only an encrypted one has a key to rotate',
    );
  }
  const { keyring } = sealing;
  const previous = keyring.currentKeyId;
  const keyId = keyring.add(key);
  if (keyId.equals(previous)) {
    throw new CartridgeError('INVALID_ARGUMENT', 'the new key is the current key');
  }
  const keyIdText = keyId.toString('hex');
  keyring.useKey(keyId);
  try {
    steps.commit(keyIdText);
  } catch (error) {
    keyring.useKey(previous);
    throw error;
  }
  steps.syncNow();
  return keyIdText;
}
