import { existsSync } from 'node:fs';
import { createSecretKey, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Aead, aeadFor, NodeCryptoAead } from '../../../src/journal/aead.js';
import { CIPHER_NAMES, Keyring } from '../../../src/journal/keyring.js';
import { NativeAead, nativeAeadBinding } from '../../../src/journal/native-aead.js';
import { RecordSealing } from '../../../src/journal/record-sealing.js';

/**
 * The two AEAD implementations of the sealing stage: the addon (`native/`) must give exactly
 * node:crypto's bytes, open what either sealed, refuse what was changed without handing out a
 * byte of it, and refuse bad arguments with an error instead of touching memory it does not
 * own. Where the addon was built (`npm install` builds it), it must also be the one in use.
 */

const ADDON = join(process.cwd(), 'native', 'build', 'Release', 'cartridge_aead.node');
const binding = nativeAeadBinding();

describe('the native AEAD addon', () => {
  it.skipIf(!existsSync(ADDON))('is used when it was built', () => {
    expect(binding).not.toBeNull();
    for (const cipher of CIPHER_NAMES) expect(aeadFor(cipher).implementation).toBe('native');
  });
});

describe.each(CIPHER_NAMES)('AEAD (%s)', (cipher) => {
  const reference = new NodeCryptoAead(cipher);
  const native: Aead | undefined = binding === null ? undefined : new NativeAead(cipher, binding);
  const key = createSecretKey(randomBytes(32));

  it.skipIf(native === undefined)(
    'seals exactly as node:crypto does, and each opens what the other sealed',
    () => {
      const subject = native as Aead;
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.uint8Array({ maxLength: 64 }),
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            fc.integer({ min: 60_000, max: 70_000 }).map((length) => randomBytes(length)),
          ),
          fc.nat({ max: 40 }),
          (nonce, associatedData, plaintext, offset) => {
            const expected = reference.seal(key, nonce, associatedData, plaintext);
            const joined = Buffer.concat([expected.ciphertext, expected.tag]);
            const target = Buffer.alloc(offset + joined.length + 5, 0xee);
            subject.sealInto(key, nonce, associatedData, plaintext, target, offset);
            expect(target.subarray(offset, offset + joined.length).equals(joined)).toBe(true);
            // Nothing written outside the ciphertext and tag.
            expect(target.subarray(0, offset).every((byte) => byte === 0xee)).toBe(true);
            expect(target.subarray(offset + joined.length).every((byte) => byte === 0xee)).toBe(
              true,
            );
            const separate = subject.seal(key, nonce, associatedData, plaintext);
            expect(Buffer.concat([separate.ciphertext, separate.tag]).equals(joined)).toBe(true);
            expect(subject.open(key, nonce, associatedData, joined)?.equals(plaintext)).toBe(true);
            expect(reference.open(key, nonce, associatedData, joined)?.equals(plaintext)).toBe(
              true,
            );
          },
        ),
        { numRuns: 60 },
      );
    },
  );

  it.skipIf(native === undefined)(
    'refuses a changed byte of ciphertext, tag, nonce or associated data, or another key',
    () => {
      const subject = native as Aead;
      const nonce = randomBytes(12);
      const associatedData = randomBytes(36);
      const plaintext = randomBytes(1000);
      const sealed = Buffer.alloc(plaintext.length + 16);
      subject.sealInto(key, nonce, associatedData, plaintext, sealed, 0);
      for (const index of [0, 500, 999, 1000, 1015]) {
        const changed = Buffer.from(sealed);
        changed[index] = (changed[index] as number) ^ 0x10;
        expect(subject.open(key, nonce, associatedData, changed)).toBeUndefined();
      }
      const otherNonce = Buffer.from(nonce);
      otherNonce[3] = (otherNonce[3] as number) ^ 1;
      expect(subject.open(key, otherNonce, associatedData, sealed)).toBeUndefined();
      const otherData = Buffer.from(associatedData);
      otherData[0] = (otherData[0] as number) ^ 1;
      expect(subject.open(key, nonce, otherData, sealed)).toBeUndefined();
      const otherKey = createSecretKey(randomBytes(32));
      expect(subject.open(otherKey, nonce, associatedData, sealed)).toBeUndefined();
      expect(subject.open(key, nonce, associatedData, sealed)?.equals(plaintext)).toBe(true);
    },
  );

  it.skipIf(binding === null)('leaves no unauthenticated plaintext behind when a tag fails', () => {
    const contexts = (binding as NonNullable<typeof binding>).createContexts(
      cipher,
      Buffer.alloc(32, 9),
    );
    const nonce = Buffer.alloc(12, 1);
    const plaintext = Buffer.from('secret secret secret secret');
    const sealed = Buffer.alloc(plaintext.length + 16);
    (binding as NonNullable<typeof binding>).seal(
      contexts,
      nonce,
      Buffer.alloc(0),
      plaintext,
      sealed,
      0,
    );
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] as number) ^ 1;
    const target = Buffer.alloc(plaintext.length, 0xaa);
    const ok = (binding as NonNullable<typeof binding>).open(
      contexts,
      nonce,
      Buffer.alloc(0),
      sealed,
      target,
      0,
    );
    expect(ok).toBe(false);
    expect(target.every((byte) => byte === 0)).toBe(true);
  });

  it.skipIf(binding === null)('refuses bad arguments instead of writing out of bounds', () => {
    const native = binding as NonNullable<typeof binding>;
    const contexts = native.createContexts(cipher, Buffer.alloc(32, 9));
    const nonce = Buffer.alloc(12);
    const none = Buffer.alloc(0);
    const plaintext = Buffer.alloc(100);
    expect(() => native.createContexts(cipher, Buffer.alloc(31))).toThrow();
    expect(() => native.createContexts('aes-128-gcm' as never, Buffer.alloc(32))).toThrow();
    expect(() =>
      native.seal(contexts, Buffer.alloc(11), none, plaintext, Buffer.alloc(200), 0),
    ).toThrow();
    // Too short for ciphertext and tag, at offset 0 and at an offset.
    expect(() => native.seal(contexts, nonce, none, plaintext, Buffer.alloc(115), 0)).toThrow();
    expect(() => native.seal(contexts, nonce, none, plaintext, Buffer.alloc(200), 90)).toThrow();
    expect(() => native.seal(contexts, nonce, none, plaintext, Buffer.alloc(200), -1)).toThrow();
    expect(() => native.seal({} as object, nonce, none, plaintext, Buffer.alloc(200), 0)).toThrow();
    expect(() =>
      native.open(contexts, nonce, none, Buffer.alloc(15), Buffer.alloc(10), 0),
    ).toThrow();
    expect(() =>
      native.open(contexts, nonce, none, Buffer.alloc(116), Buffer.alloc(99), 0),
    ).toThrow();
  });
});

describe.each(CIPHER_NAMES)('records sealed by one implementation (%s)', (cipher) => {
  it.skipIf(binding === null)('open with the other', () => {
    const keyring = new Keyring(cipher, Buffer.alloc(16, 7), randomBytes(32));
    const viaNative = new RecordSealing(
      keyring,
      new NativeAead(cipher, binding as NonNullable<typeof binding>),
    );
    const viaNode = new RecordSealing(keyring, new NodeCryptoAead(cipher));
    const associatedData = randomBytes(36);
    const body = Buffer.from('/calls/2026/jane.wav and its metadata');
    const blob = randomBytes(70_000);
    for (const [sealer, opener] of [
      [viaNative, viaNode],
      [viaNode, viaNative],
    ] as const) {
      const sealed = sealer.seal(associatedData, body, blob);
      const storedBlob = Buffer.concat([sealed.blobCiphertext, sealed.blobTag]);
      expect(opener.openBody(associatedData, sealed.body, 0).equals(body)).toBe(true);
      expect(opener.openBlob(associatedData, sealed.body, storedBlob, 0).equals(blob)).toBe(true);
    }
  });
});

describe.each(CIPHER_NAMES)('sealed blobs of one commit (%s)', (cipher) => {
  it('never share memory until the writer releases them, whatever their size', () => {
    const sealing = new RecordSealing(new Keyring(cipher, Buffer.alloc(16, 7), randomBytes(32)));
    const associatedData = randomBytes(36);
    const body = Buffer.from('/a body');
    // Small ones, one larger than the first arena, and more: all sealed for one commit.
    const blobs = [1000, 70_000, 300_000, 5, 200_000, 9_000_000, 64].map((length) =>
      randomBytes(length),
    );
    for (let commit = 0; commit < 3; commit++) {
      const sealed = blobs.map((blob) => sealing.seal(associatedData, body, blob));
      sealed.forEach((payload, index) => {
        const stored = Buffer.concat([payload.blobCiphertext, payload.blobTag]);
        const opened = sealing.openBlob(associatedData, payload.body, stored, 0);
        expect(opened.equals(blobs[index] as Buffer)).toBe(true);
      });
      sealing.releaseCommitBuffers();
    }
  });
});
