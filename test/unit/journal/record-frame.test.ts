import { describe, expect, it } from 'vitest';
import { BLOB_MAX_BYTES, BODY_MAX_BYTES } from '../../../src/limits.js';
import { checksumCrc32c, hashBytes } from '../../../src/journal/hashing.js';
import {
  chainHashOf,
  codecBitsOf,
  decodeFrameHeader,
  encodeFrameHeader,
  FLAG_COMMIT,
  FRAME_HEADER_BYTES,
  type FrameHeader,
  type FrameHeaderFault,
  isCommit,
  payloadLengthOf,
  recordLengthOf,
} from '../../../src/journal/record-frame.js';

/** A header with every field distinct and non-zero, so that a swapped field shows up. */
function sampleHeader(overrides: Partial<FrameHeader> = {}): FrameHeader {
  return {
    type: 4,
    flags: 2 | FLAG_COMMIT,
    bodyLength: 77,
    storedBlobLength: 1234,
    rawBlobLength: 5678,
    commitIndex: 3,
    sequence: 2 ** 40 + 17,
    link: hashBytes(Buffer.from('previous')).subarray(0, 8),
    payloadChecksum: 0xdeadbeef,
    ...overrides,
  };
}

function encoded(header: FrameHeader): Buffer {
  const target = Buffer.alloc(FRAME_HEADER_BYTES);
  encodeFrameHeader(header, target);
  return target;
}

/** Re-seals a hand-edited header, so that the field check (not the CRC) is what refuses it. */
function resealed(bytes: Buffer): Buffer {
  bytes.writeUInt32LE(checksumCrc32c(bytes.subarray(0, 40)), 40);
  return bytes;
}

function faultOf(bytes: Buffer): FrameHeaderFault | 'ok' {
  const decoded = decodeFrameHeader(bytes);
  return decoded.ok ? 'ok' : decoded.fault;
}

describe('frame header encoding', () => {
  it('round-trips every field', () => {
    const header = sampleHeader();
    const decoded = decodeFrameHeader(encoded(header));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.header).toEqual(header);
    expect(isCommit(decoded.header)).toBe(true);
    expect(codecBitsOf(decoded.header)).toBe(2);
    expect(payloadLengthOf(decoded.header)).toBe(77 + 1234);
    expect(recordLengthOf(decoded.header)).toBe(FRAME_HEADER_BYTES + 77 + 1234);
  });

  it('round-trips the extremes the limits allow', () => {
    const header = sampleHeader({
      flags: 0, bodyLength: BODY_MAX_BYTES, storedBlobLength: BLOB_MAX_BYTES, rawBlobLength: BLOB_MAX_BYTES,
      commitIndex: 0xffff_ffff, sequence: Number.MAX_SAFE_INTEGER, type: 255,
    });
    const decoded = decodeFrameHeader(encoded(header));
    expect(decoded.ok && decoded.header).toEqual(header);
  });

  it('decodes from a longer buffer, looking at the first 44 bytes only', () => {
    const longer = Buffer.concat([encoded(sampleHeader()), Buffer.alloc(50, 0xee)]);
    expect(faultOf(longer)).toBe('ok');
  });

  it('calls an all-zero header "zero" and other magic-less bytes "magic"', () => {
    expect(faultOf(Buffer.alloc(FRAME_HEADER_BYTES))).toBe('zero');
    const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
    bytes[30] = 1;
    expect(faultOf(bytes)).toBe('magic');
  });
});

describe('frame header damage', () => {
  it('refuses every single-bit flip of an encoded header (44 * 8 bits)', () => {
    // Both a commit header with a compressed blob and a plain one, so the flag bits vary.
    for (const header of [sampleHeader(), sampleHeader({ flags: 0, storedBlobLength: 9, rawBlobLength: 9 })]) {
      const original = encoded(header);
      let refused = 0;
      for (let bit = 0; bit < FRAME_HEADER_BYTES * 8; bit++) {
        const flipped = Buffer.from(original);
        flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
        const decoded = decodeFrameHeader(flipped);
        expect(decoded.ok, `bit ${bit} of byte ${bit >> 3}`).toBe(false);
        if (!decoded.ok) refused++;
      }
      expect(refused).toBe(FRAME_HEADER_BYTES * 8);
    }
  });

  it('refuses a resealed header with unknown flags or codec 3, and a format 1 frame', () => {
    const cases: [string, (bytes: Buffer) => void, FrameHeaderFault][] = [
      ['unknown flag bit 5', (bytes) => bytes.writeUInt8(0b10_0000, 3), 'flags'],
      // Bit 4 is the sealed flag (format 4): a plain header's lengths are too short for it.
      ['sealed flag on a plain record', (bytes) => bytes.writeUInt8(0b1_0000, 3), 'length'],
      ['unknown flag bit 7', (bytes) => bytes.writeUInt8(0x80 | FLAG_COMMIT, 3), 'flags'],
      ['codec 3', (bytes) => bytes.writeUInt8(3, 3), 'flags'],
      ['format 1 magic', (bytes) => bytes.writeUInt16LE(0xca27, 0), 'magic'],
    ];
    for (const [what, edit, fault] of cases) {
      const bytes = encoded(sampleHeader());
      edit(bytes);
      expect(faultOf(resealed(bytes)), what).toBe(fault);
    }
  });

  it('refuses lengths beyond the limits before anything is allocated by them', () => {
    const cases: [string, Partial<FrameHeader>][] = [
      ['body', { bodyLength: BODY_MAX_BYTES + 1 }],
      ['stored blob', { storedBlobLength: BLOB_MAX_BYTES + 1 }],
      ['raw blob', { rawBlobLength: BLOB_MAX_BYTES + 1 }],
      ['huge body', { bodyLength: 0xffff_ffff }],
      ['huge blob', { storedBlobLength: 0xffff_ffff, rawBlobLength: 0xffff_ffff }],
      // Without a codec the stored blob is the raw blob, so the two lengths must agree.
      ['uncompressed mismatch', { flags: 0, storedBlobLength: 10, rawBlobLength: 11 }],
    ];
    for (const [what, overrides] of cases) {
      expect(faultOf(encoded(sampleHeader(overrides))), what).toBe('length');
    }
  });

  it('refuses a sequence number beyond the safe integers', () => {
    const bytes = encoded(sampleHeader());
    bytes.writeBigUInt64LE(2n ** 53n, 20);
    expect(faultOf(resealed(bytes))).toBe('length');
    bytes.writeBigUInt64LE(2n ** 64n - 1n, 20);
    expect(faultOf(resealed(bytes))).toBe('length');
  });
});

const BODY = Buffer.from('a msgpack body');
const PREVIOUS = hashBytes(Buffer.from('previous record'));
const BLOB_HASH = hashBytes(Buffer.from('blob'));

describe('chain hash', () => {
  it('changes with every byte of the first 36 (everything but the two checksums)', () => {
    const original = encoded(sampleHeader());
    const reference = chainHashOf(PREVIOUS, original, BODY, BLOB_HASH);
    for (let offset = 0; offset < 36; offset++) {
      const changed = Buffer.from(original);
      changed[offset] = (changed[offset] as number) ^ 0x01;
      const hash = chainHashOf(PREVIOUS, changed, BODY, BLOB_HASH);
      expect(hash.equals(reference), `byte ${offset}`).toBe(false);
    }
  });

  it('does not look at the checksums (bytes 36..44), which the rest determines', () => {
    const original = encoded(sampleHeader());
    const changed = Buffer.from(original);
    changed.writeUInt32LE(0, 36);
    changed.writeUInt32LE(0, 40);
    expect(
      chainHashOf(PREVIOUS, changed, BODY, BLOB_HASH).equals(
        chainHashOf(PREVIOUS, original, BODY, BLOB_HASH),
      ),
    ).toBe(true);
  });

  it('covers the previous hash in full, the body and the blob hash', () => {
    const original = encoded(sampleHeader());
    const reference = chainHashOf(PREVIOUS, original, BODY, BLOB_HASH);
    const otherBody = Buffer.from(BODY);
    otherBody[0] = (otherBody[0] as number) ^ 0x01;
    expect(chainHashOf(PREVIOUS, original, otherBody, BLOB_HASH).equals(reference)).toBe(false);
    const otherPrevious = Buffer.from(PREVIOUS);
    // The last byte is outside the stored link: the chain still covers it.
    otherPrevious[31] = (otherPrevious[31] as number) ^ 0x01;
    expect(chainHashOf(otherPrevious, original, BODY, BLOB_HASH).equals(reference)).toBe(false);
    const otherBlob = Buffer.from(BLOB_HASH);
    otherBlob[0] = (otherBlob[0] as number) ^ 0x01;
    expect(chainHashOf(PREVIOUS, original, BODY, otherBlob).equals(reference)).toBe(false);
  });

  it('does not modify its inputs', () => {
    const original = encoded(sampleHeader());
    const copy = Buffer.from(original);
    const previousCopy = Buffer.from(PREVIOUS);
    chainHashOf(PREVIOUS, original, BODY, BLOB_HASH);
    expect(original.equals(copy)).toBe(true);
    expect(PREVIOUS.equals(previousCopy)).toBe(true);
  });
});
