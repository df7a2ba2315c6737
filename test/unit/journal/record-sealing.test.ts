import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CIPHER_NAMES, Keyring, keyIdOf } from '../../../src/journal/keyring.js';
import { blobNonceOf, isRecordNonce, NonceSource } from '../../../src/journal/nonce-source.js';
import {
  decodeFrameHeader,
  encodeFrameHeader,
  FLAG_SEALED,
  FRAME_HEADER_BYTES,
} from '../../../src/journal/record-frame.js';
import {
  RecordSealing,
  SEAL_TAG_BYTES,
  SEALED_BODY_OVERHEAD_BYTES,
  sealedBlobBytes,
  sealedBlobLengthOf,
} from '../../../src/journal/record-sealing.js';
import { thrownBy } from '../../support/expect-code.js';

/** The sealing stage alone: round trips, what fails to open and how, nonces, key ids. */

const CARTRIDGE_ID = Buffer.alloc(16, 7);
const KEY = createHash('sha256').update('unit key').digest();
const OTHER_KEY = createHash('sha256').update('other unit key').digest();
const ASSOCIATED = Buffer.alloc(36, 3);

/** Seals, and gives the sealed blob as stored (its two pieces joined). */
function sealJoined(
  sealing: RecordSealing,
  associatedData: Buffer,
  body: Buffer,
  blob: Buffer,
): { body: Buffer; blob: Buffer } {
  const sealed = sealing.seal(associatedData, body, blob);
  return { body: sealed.body, blob: sealedBlobBytes(sealed) };
}

describe.each(CIPHER_NAMES)('record sealing (%s)', (cipher) => {
  const sealing = new RecordSealing(new Keyring(cipher, CARTRIDGE_ID, KEY));
  const body = Buffer.from('a msgpack body, say /calls/jane.wav');
  const blob = Buffer.from('the content of the blob '.repeat(20));

  it('opens what it sealed, and adds exactly its overhead', () => {
    const sealed = sealJoined(sealing, ASSOCIATED, body, blob);
    expect(sealed.body.length).toBe(body.length + SEALED_BODY_OVERHEAD_BYTES);
    expect(sealed.blob.length).toBe(sealedBlobLengthOf(blob.length));
    expect(sealed.body.includes(body)).toBe(false);
    expect(sealed.blob.includes(blob.subarray(0, 24))).toBe(false);
    expect(sealing.openBody(ASSOCIATED, sealed.body, 0).equals(body)).toBe(true);
    expect(sealing.openBlob(ASSOCIATED, sealed.body, sealed.blob, 0).equals(blob)).toBe(true);
    const empty = sealJoined(sealing, ASSOCIATED, Buffer.alloc(0), Buffer.alloc(0));
    expect(empty.blob.length).toBe(0);
    expect(sealing.openBody(ASSOCIATED, empty.body, 0).length).toBe(0);
  });

  it('gives the blob as the ciphertext and the tag apart, the tag last when stored', () => {
    const sealed = sealing.seal(ASSOCIATED, body, blob);
    expect(sealed.blobCiphertext.length).toBe(blob.length);
    expect(sealed.blobTag.length).toBe(SEAL_TAG_BYTES);
    const stored = sealedBlobBytes(sealed);
    expect(stored.subarray(blob.length).equals(sealed.blobTag)).toBe(true);
    expect(sealing.openBlob(ASSOCIATED, sealed.body, stored, 0).equals(blob)).toBe(true);
    const empty = sealing.seal(ASSOCIATED, body, Buffer.alloc(0));
    expect(empty.blobCiphertext.length + empty.blobTag.length).toBe(0);
  });

  it('refuses other associated data, a flipped bit anywhere, and a cut tag', () => {
    const sealed = sealJoined(sealing, ASSOCIATED, body, blob);
    const otherHeader = Buffer.from(ASSOCIATED);
    otherHeader[20] = 4;
    expect(thrownBy(() => sealing.openBody(otherHeader, sealed.body, 9)).code).toBe(
      'DECRYPTION_FAILED',
    );
    expect(thrownBy(() => sealing.openBlob(otherHeader, sealed.body, sealed.blob, 9)).code).toBe(
      'DECRYPTION_FAILED',
    );
    for (let index = 16; index < sealed.body.length; index++) {
      const flipped = Buffer.from(sealed.body);
      flipped[index] = (flipped[index] as number) ^ 0x80;
      expect(thrownBy(() => sealing.openBody(ASSOCIATED, flipped, 9)).code, `byte ${index}`).toBe(
        'DECRYPTION_FAILED',
      );
    }
    for (let index = 0; index < sealed.blob.length; index += 37) {
      const flipped = Buffer.from(sealed.blob);
      flipped[index] = (flipped[index] as number) ^ 1;
      expect(thrownBy(() => sealing.openBlob(ASSOCIATED, sealed.body, flipped, 9)).code).toBe(
        'DECRYPTION_FAILED',
      );
    }
    const cutBlob = sealed.blob.subarray(0, sealed.blob.length - 4);
    expect(thrownBy(() => sealing.openBlob(ASSOCIATED, sealed.body, cutBlob, 9)).code).toBe(
      'DECRYPTION_FAILED',
    );
    expect(
      thrownBy(() => sealing.openBlob(ASSOCIATED, sealed.body, sealed.blob.subarray(0, 8), 9)).code,
    ).toBe('JOURNAL_CORRUPT');
    expect(thrownBy(() => sealing.openBody(ASSOCIATED, sealed.body.subarray(0, 31), 9)).code).toBe(
      'JOURNAL_CORRUPT',
    );
    // The body's nonce seals the body only; the blob's is another.
    const bodyPrefix = sealed.body.subarray(0, 16);
    const swapped = Buffer.concat([bodyPrefix, sealed.blob]);
    expect(thrownBy(() => sealing.openBody(ASSOCIATED, swapped, 9)).code).toBe('DECRYPTION_FAILED');
  });

  it('names a key it does not hold (KEY_REQUIRED) and refuses an odd nonce', () => {
    const other = new RecordSealing(new Keyring(cipher, CARTRIDGE_ID, OTHER_KEY));
    const sealed = sealJoined(other, ASSOCIATED, body, blob);
    const missing = thrownBy(() => sealing.openBody(ASSOCIATED, sealed.body, 77));
    expect(missing.code).toBe('KEY_REQUIRED');
    expect(missing.offset).toBe(77);
    expect(missing.message).toContain(keyIdOf(OTHER_KEY).toString('hex'));
    const odd = Buffer.from(sealJoined(sealing, ASSOCIATED, body, blob).body);
    odd[15] = (odd[15] as number) | 1;
    expect(thrownBy(() => sealing.openBody(ASSOCIATED, odd, 0)).code).toBe('JOURNAL_CORRUPT');
  });

  it('gives two cartridges sharing a key two record keys', () => {
    const elsewhere = new RecordSealing(new Keyring(cipher, Buffer.alloc(16, 8), KEY));
    const sealed = sealJoined(sealing, ASSOCIATED, body, blob);
    expect(thrownBy(() => elsewhere.openBody(ASSOCIATED, sealed.body, 0)).code).toBe(
      'DECRYPTION_FAILED',
    );
  });
});

describe('nonces and key ids', () => {
  it('counts in steps of two after a random prefix, and sets the blob bit', () => {
    const first = new NonceSource();
    const second = new NonceSource();
    const a = Buffer.alloc(12);
    const b = Buffer.alloc(12);
    const c = Buffer.alloc(12);
    first.writeNext(a, 0);
    first.writeNext(b, 0);
    second.writeNext(c, 0);
    expect(a.subarray(0, 8).equals(b.subarray(0, 8))).toBe(true);
    expect(a.readUInt32BE(8)).toBe(0);
    expect(b.readUInt32BE(8)).toBe(2);
    expect(a.subarray(0, 8).equals(c.subarray(0, 8))).toBe(false);
    expect(isRecordNonce(a) && isRecordNonce(b)).toBe(true);
    const blobNonce = blobNonceOf(b);
    expect(blobNonce.readUInt32BE(8)).toBe(3);
    expect(isRecordNonce(blobNonce)).toBe(false);
  });

  it('derives key ids from keys: stable, distinct, four bytes', () => {
    expect(keyIdOf(KEY).equals(keyIdOf(Buffer.from(KEY)))).toBe(true);
    expect(keyIdOf(KEY).equals(keyIdOf(OTHER_KEY))).toBe(false);
    expect(keyIdOf(KEY).length).toBe(4);
  });
});

describe('sealed frame headers', () => {
  const header = (flags: number, bodyLength: number, stored: number, raw: number) => {
    const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
    encodeFrameHeader(
      {
        type: 3,
        flags,
        bodyLength,
        storedBlobLength: stored,
        rawBlobLength: raw,
        commitIndex: 0,
        sequence: 5,
        link: Buffer.alloc(8),
        payloadChecksum: 0,
      },
      bytes,
    );
    return decodeFrameHeader(bytes);
  };

  it('accepts the sealed lengths and refuses lengths no writer seals', () => {
    expect(header(FLAG_SEALED, 32, 0, 0).ok).toBe(true);
    expect(header(FLAG_SEALED, 40, 100 + SEAL_TAG_BYTES, 100).ok).toBe(true);
    expect(header(FLAG_SEALED | 2, 40, 60, 1000).ok).toBe(true);
    expect(header(FLAG_SEALED, 31, 0, 0)).toEqual({ ok: false, fault: 'length' });
    expect(header(FLAG_SEALED, 40, 100, 100)).toEqual({ ok: false, fault: 'length' });
    expect(header(FLAG_SEALED, 40, SEAL_TAG_BYTES, 0)).toEqual({ ok: false, fault: 'length' });
    expect(header(FLAG_SEALED | 2, 40, SEAL_TAG_BYTES, 1000)).toEqual({
      ok: false,
      fault: 'length',
    });
  });
});
