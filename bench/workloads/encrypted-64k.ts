import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Cartridge, type CartridgeOptions, type CipherName } from '../../src/index.js';
import { incompressibleBuffers, KIB, type PreparedPair, scratchDirectory } from '../support.js';

/**
 * Encryption at rest against no encryption, both sides Cartridge on real files in the same
 * directory, so the figure is what sealing costs and nothing else:
 *
 * - writes: `writeFile` of incompressible 64 KiB buffers over 8 paths, durability 'off',
 *   default compression (the probe finds nothing to gain, as it would for most content that
 *   matters to encrypt), an encrypted cartridge against a plain one;
 * - reads: `readFile` of 64 KiB files with the buffer pool off, so that every read goes to the
 *   journal (a `pread`, the CRC32C, and for the encrypted side the tag check and decryption),
 *   an encrypted cartridge against a plain one. Warm reads from the pool cost the same either
 *   way (the pool holds opened blobs), so they would say nothing.
 */

export const ENCRYPTED_BYTES = 64 * KIB;
const BUFFER_COUNT = 32;
const PATH_COUNT = 8;
const KEY = createHash('sha256').update('bench encryption key').digest();

function encrypted(cipher: CipherName): CartridgeOptions {
  return { encryptionKey: KEY, cipher };
}

export function setupWrite(cipher: CipherName): PreparedPair {
  const scratch = scratchDirectory(`encrypted-write-${cipher}`);
  const buffers = incompressibleBuffers(BUFFER_COUNT, ENCRYPTED_BYTES, 'encrypted-write');
  const options: CartridgeOptions = { durability: 'off' };
  const sealed = Cartridge.create(join(scratch.path, 'sealed.cart'), {
    ...options,
    ...encrypted(cipher),
  });
  const plain = Cartridge.create(join(scratch.path, 'plain.cart'), options);
  const paths = Array.from({ length: PATH_COUNT }, (_, index) => `/files/file-${index}.bin`);
  for (const cart of [sealed, plain]) {
    cart.transaction(() => {
      for (const path of paths) cart.createFile(path, buffers[0] as Buffer);
    });
  }
  const writer = (cart: Cartridge) => {
    let count = 0;
    return () => {
      const index = count++;
      cart.writeFile(paths[index % PATH_COUNT] as string, buffers[index % BUFFER_COUNT] as Buffer);
      return cart.head;
    };
  };
  return {
    subject: writer(sealed),
    baseline: writer(plain),
    teardown: () => closeBoth(sealed, plain, scratch),
  };
}

export function setupRead(cipher: CipherName): PreparedPair {
  const scratch = scratchDirectory(`encrypted-read-${cipher}`);
  const buffers = incompressibleBuffers(PATH_COUNT, ENCRYPTED_BYTES, 'encrypted-read');
  const options: CartridgeOptions = { durability: 'off', bufferPoolBytes: 0 };
  const sealed = Cartridge.create(join(scratch.path, 'sealed.cart'), {
    ...options,
    ...encrypted(cipher),
  });
  const plain = Cartridge.create(join(scratch.path, 'plain.cart'), options);
  const paths = buffers.map((_, index) => `/files/file-${index}.bin`);
  for (const cart of [sealed, plain]) {
    cart.transaction(() => {
      paths.forEach((path, index) => cart.createFile(path, buffers[index] as Buffer));
    });
  }
  const reader = (cart: Cartridge) => {
    let count = 0;
    return () => {
      const index = count++;
      const bytes = cart.readFile(paths[index % PATH_COUNT] as string);
      return bytes.length + (bytes[index % ENCRYPTED_BYTES] as number);
    };
  };
  return {
    subject: reader(sealed),
    baseline: reader(plain),
    teardown: () => closeBoth(sealed, plain, scratch),
  };
}

/** Closes both cartridges of a pair and removes their directory, whatever fails. */
function closeBoth(sealed: Cartridge, plain: Cartridge, scratch: { remove(): void }): void {
  try {
    sealed.close();
    plain.close();
  } finally {
    scratch.remove();
  }
}
