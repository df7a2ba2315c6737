import {
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type DecipherGCM,
  type KeyObject,
} from 'node:crypto';
import type { CipherName } from './keyring.js';
import { NativeAead, nativeAeadBinding } from './native-aead.js';

/**
 * The AEAD calls the record pipeline's sealing stage makes, with two implementations that give
 * the same bytes: node:crypto, and Node's own OpenSSL through a small addon (`native/`) that
 * keeps one cipher context per key and writes into memory the caller owns. node:crypto makes a
 * context per record (key schedule included) and hands out each output zero-filled and copied
 * once more: for a 64 KiB record that was about 60 % of what sealing cost (bench/README.md).
 * The addon is used when it was built and passes a known-answer check against node:crypto at
 * first use; otherwise, or with `CARTRIDGE_NATIVE_AEAD=0` in the environment, node:crypto.
 */
export interface Aead {
  /** Which implementation this is: 'native' or 'node:crypto'. */
  readonly implementation: 'native' | 'node:crypto';
  /**
   * Whether `sealInto` writes straight into the target (the addon) rather than copying the
   * cipher's own output there (node:crypto): only then is sealing into a reused buffer cheaper.
   */
  readonly writesInPlace: boolean;
  /** Writes the ciphertext of `plaintext`, then its 16-byte tag, at `target[offset...]`. */
  sealInto(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    plaintext: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): void;
  /** The ciphertext and tag of `plaintext`, in buffers the caller may keep. */
  seal(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    plaintext: Uint8Array,
  ): { readonly ciphertext: Buffer; readonly tag: Buffer };
  /**
   * The plaintext of `sealed` (ciphertext, then tag) once its tag checked out; undefined when
   * it did not, and then no byte of unauthenticated plaintext is returned.
   */
  open(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    sealed: Uint8Array,
  ): Buffer | undefined;
}

export const AEAD_TAG_BYTES = 16;

/** One options object for every cipher: the tag length is checked by Node on each. */
const NODE_AEAD_OPTIONS = { authTagLength: AEAD_TAG_BYTES } as const;

type NodeCipher = Pick<CipherGCM, 'setAAD' | 'update' | 'final' | 'getAuthTag'>;
type NodeDecipher = Pick<DecipherGCM, 'setAAD' | 'setAuthTag' | 'update' | 'final'>;

/** The AEAD through node:crypto: a cipher object per call. */
export class NodeCryptoAead implements Aead {
  readonly implementation = 'node:crypto';
  readonly writesInPlace = false;

  constructor(private readonly cipher: CipherName) {}

  // Node types `createCipheriv` by algorithm name; both AEADs share the calls used here, so
  // the name is given the GCM type for the compiler only.
  private cipherOf(key: KeyObject, nonce: Uint8Array): NodeCipher {
    return createCipheriv(this.cipher as 'aes-256-gcm', key, nonce, NODE_AEAD_OPTIONS);
  }

  sealInto(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    plaintext: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): void {
    // node:crypto always hands out its own output: copying it is all sealing "into" can mean.
    const { ciphertext, tag } = this.seal(key, nonce, associatedData, plaintext);
    target.set(ciphertext, offset);
    target.set(tag, offset + ciphertext.length);
  }

  seal(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    plaintext: Uint8Array,
  ): { readonly ciphertext: Buffer; readonly tag: Buffer } {
    const cipher = this.cipherOf(key, nonce);
    cipher.setAAD(associatedData);
    const ciphertext = cipher.update(plaintext);
    // Both AEADs are stream ciphers: `final` gives no bytes, but joining costs nothing if so.
    const rest = cipher.final();
    return {
      ciphertext: rest.length === 0 ? ciphertext : Buffer.concat([ciphertext, rest]),
      tag: cipher.getAuthTag(),
    };
  }

  open(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    sealed: Uint8Array,
  ): Buffer | undefined {
    const ciphertextLength = sealed.length - AEAD_TAG_BYTES;
    const decipher: NodeDecipher = createDecipheriv(
      this.cipher as 'aes-256-gcm',
      key,
      nonce,
      NODE_AEAD_OPTIONS,
    );
    try {
      decipher.setAAD(associatedData);
      decipher.setAuthTag(sealed.subarray(ciphertextLength));
      const plaintext = decipher.update(sealed.subarray(0, ciphertextLength));
      const rest = decipher.final();
      return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
    } catch {
      // GCM and Poly1305 decrypt in `update()` and authenticate in `final()`: what `update`
      // gave is dropped here, unreturned.
      return undefined;
    }
  }
}

const chosen = new Map<CipherName, Aead>();

/** The AEAD for `cipher`: the addon's when it is there and sound, else node:crypto's. */
export function aeadFor(cipher: CipherName): Aead {
  let aead = chosen.get(cipher);
  if (aead === undefined) {
    const fallback = new NodeCryptoAead(cipher);
    const native = nativeAeadBinding();
    const candidate = native === null ? undefined : new NativeAead(cipher, native);
    aead = candidate !== undefined && agrees(candidate, fallback) ? candidate : fallback;
    chosen.set(cipher, aead);
  }
  return aead;
}

/**
 * A known-answer check of the addon against node:crypto before it seals anything: the same
 * ciphertext and tag for a fixed key, nonce and message, the message back from its sealed
 * bytes, and a flipped tag refused. An addon built wrong is not used.
 */
function agrees(candidate: Aead, reference: Aead): boolean {
  try {
    const key = createSecretKey(Buffer.alloc(32, 0x5a));
    const nonce = Buffer.alloc(12, 0x0c);
    const associatedData = Buffer.from('cartridge known answer');
    const message = Buffer.from('a record body and a blob, sealed the same either way');
    const expected = reference.seal(key, nonce, associatedData, message);
    const sealed = Buffer.alloc(message.length + AEAD_TAG_BYTES);
    candidate.sealInto(key, nonce, associatedData, message, sealed, 0);
    if (!sealed.equals(Buffer.concat([expected.ciphertext, expected.tag]))) return false;
    const opened = candidate.open(key, nonce, associatedData, sealed);
    if (opened === undefined || !opened.equals(message)) return false;
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] as number) ^ 1;
    return candidate.open(key, nonce, associatedData, sealed) === undefined;
  } catch {
    return false;
  }
}
