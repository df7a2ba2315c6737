import type { KeyObject } from 'node:crypto';
import type { Aead } from './aead.js';
import type { CipherName } from './keyring.js';
import { loadNativeAddon } from './native-addon.js';

/** What `native/cartridge-aead.c` exports (see there). */
interface NativeAeadBinding {
  createContexts(cipher: CipherName, key: Uint8Array): object;
  seal(
    contexts: object,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    plaintext: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): number;
  open(
    contexts: object,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    sealed: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): boolean;
}

const TAG_BYTES = 16;

let binding: NativeAeadBinding | null | undefined;

/**
 * The addon `npm install` built from `native/cartridge-aead.c`, or null: not built (no compiler
 * on this machine), or turned off with `CARTRIDGE_NATIVE_AEAD=0`.
 */
export function nativeAeadBinding(): NativeAeadBinding | null {
  if (binding === undefined) {
    binding = loadNativeAddon<NativeAeadBinding>(
      'cartridge_aead.node',
      process.env.CARTRIDGE_NATIVE_AEAD === '0',
    );
  }
  return binding;
}

/**
 * The AEAD through the addon: the cipher contexts of a key are made at its first use and kept
 * with the key (a `WeakMap`, so they go when the key does).
 */
export class NativeAead implements Aead {
  readonly implementation = 'native';
  readonly writesInPlace = true;
  private readonly contexts = new WeakMap<KeyObject, object>();

  constructor(
    private readonly cipher: CipherName,
    private readonly native: NativeAeadBinding,
  ) {}

  private contextsOf(key: KeyObject): object {
    let contexts = this.contexts.get(key);
    if (contexts === undefined) {
      const raw = key.export();
      try {
        contexts = this.native.createContexts(this.cipher, raw);
      } finally {
        // The key schedule lives in the context now; this copy of the key is not kept.
        raw.fill(0);
      }
      this.contexts.set(key, contexts);
    }
    return contexts;
  }

  sealInto(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    plaintext: Uint8Array,
    target: Uint8Array,
    offset: number,
  ): void {
    this.native.seal(this.contextsOf(key), nonce, associatedData, plaintext, target, offset);
  }

  seal(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    plaintext: Uint8Array,
  ): { readonly ciphertext: Buffer; readonly tag: Buffer } {
    const sealed = Buffer.allocUnsafe(plaintext.length + TAG_BYTES);
    this.sealInto(key, nonce, associatedData, plaintext, sealed, 0);
    return {
      ciphertext: sealed.subarray(0, plaintext.length),
      tag: sealed.subarray(plaintext.length),
    };
  }

  open(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Uint8Array,
    sealed: Uint8Array,
  ): Buffer | undefined {
    const plaintext = Buffer.allocUnsafe(sealed.length - TAG_BYTES);
    const ok = this.native.open(this.contextsOf(key), nonce, associatedData, sealed, plaintext, 0);
    return ok ? plaintext : undefined;
  }
}
