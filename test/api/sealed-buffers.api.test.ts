import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, type CipherName } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Sealing spares buffers. Writes keep each blob's ciphertext as the cipher gave it and write
 * its tag as a piece of its own: a commit of many sealed blobs must write each one whole, tag
 * after ciphertext, with the hashes the chain and `verify` compute from the file. Reads of
 * sealed content hand the caller the buffer the blob was decrypted into when the pool does not
 * keep it, and read a lone record's sealed bytes into a buffer reused across reads. None of it
 * may show: every result is the caller's own (changing it changes no later read, and a later
 * read changes no earlier result), with the pool on or off, and a damaged record read between
 * good ones is refused without disturbing them.
 */

const CIPHERS: readonly CipherName[] = ['aes-256-gcm', 'chacha20-poly1305'];
const KEY = createHash('sha256').update('sealed reads').digest();
const SIZE_BYTES = 64 * 1024;

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-sealed-reads-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe.each(CIPHERS)('sealed reads with %s', (cipher) => {
  it.each([0, 4 * 1024 * 1024])('give every caller its own buffer (pool of %i bytes)', (pool) => {
    const path = join(directory, `own-${pool}.cart`);
    const contents = [randomBytes(SIZE_BYTES), randomBytes(SIZE_BYTES), randomBytes(100)];
    const cart = Cartridge.create(path, { encryptionKey: KEY, cipher, bufferPoolBytes: pool });
    contents.forEach((content, index) => cart.createFile(`/f${index}`, content));
    cart.close();
    const reopened = Cartridge.open(path, { encryptionKey: KEY, bufferPoolBytes: pool });
    try {
      const first = reopened.readFile('/f0');
      expect(first.equals(contents[0] as Buffer)).toBe(true);
      // Reading other records reuses the buffer sealed bytes are read into: the first result
      // must not be a view of it.
      expect(reopened.readFile('/f1').equals(contents[1] as Buffer)).toBe(true);
      expect(reopened.readFile('/f2').equals(contents[2] as Buffer)).toBe(true);
      expect(first.equals(contents[0] as Buffer)).toBe(true);
      // The caller's buffer is not the pool's, nor anything a later read returns.
      first.fill(0);
      const again = reopened.readFile('/f0');
      expect(again.equals(contents[0] as Buffer)).toBe(true);
      expect(again).not.toBe(first);
    } finally {
      reopened.close();
    }
  });

  it('write every blob of a commit of many, then of later ones', () => {
    const path = join(directory, 'many.cart');
    // 48 blobs of 64 KiB in one commit: 96 pieces of blob in its writev, tags included.
    const contents = Array.from({ length: 48 }, () => randomBytes(SIZE_BYTES));
    const cart = Cartridge.create(path, { encryptionKey: KEY, cipher, bufferPoolBytes: 0 });
    cart.transaction(() => {
      contents.forEach((content, index) => cart.createFile(`/t${index}`, content));
    });
    const later = contents.slice(0, 6).map(() => randomBytes(SIZE_BYTES));
    later.forEach((content, index) => cart.writeFile(`/t${index}`, content));
    expect(cart.verify().ok).toBe(true);
    cart.close();
    const reopened = Cartridge.open(path, { encryptionKey: KEY, bufferPoolBytes: 0 });
    try {
      contents.forEach((content, index) => {
        const expected = index < later.length ? (later[index] as Buffer) : content;
        expect(reopened.readFile(`/t${index}`).equals(expected)).toBe(true);
      });
      expect(reopened.verify().ok).toBe(true);
    } finally {
      reopened.close();
    }
  });

  it('refuse a damaged record between good ones and still read them', () => {
    const path = join(directory, 'damaged.cart');
    const good = randomBytes(SIZE_BYTES);
    const other = randomBytes(SIZE_BYTES);
    const cart = Cartridge.create(path, { encryptionKey: KEY, cipher, compression: 'none' });
    cart.createFile('/good', good);
    const otherOffset = cart.head;
    cart.createFile('/other', other);
    cart.checkpoint();
    cart.close();
    // A flipped byte in the middle of /other's sealed blob: damage, caught by its checksum.
    const bytes = readFileSync(path);
    const position = otherOffset + 200 + SIZE_BYTES / 2;
    bytes[position] = (bytes[position] as number) ^ 0x40;
    writeFileSync(path, bytes);
    const reopened = Cartridge.open(path, { encryptionKey: KEY, bufferPoolBytes: 0 });
    try {
      const first = reopened.readFile('/good');
      expectCode(() => reopened.readFile('/other'), 'JOURNAL_CORRUPT');
      expect(first.equals(good)).toBe(true);
      expect(reopened.readFile('/good').equals(good)).toBe(true);
    } finally {
      reopened.close();
    }
  });
});
