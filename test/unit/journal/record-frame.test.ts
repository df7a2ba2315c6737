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
    previousHash: hashBytes(Buffer.from('previous')),
    blobHash: hashBytes(Buffer.from('blob')),
    bodyChecksum: 0xdeadbeef,
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
  bytes.writeUInt32LE(checksumCrc32c(bytes.subarray(0, 100)), 100);
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

  it('decodes from a longer buffer, looking at the first 104 bytes only', () => {
    const longer = Buffer.concat([encoded(sampleHeader()), Buffer.alloc(50, 0xee)]);
    expect(faultOf(longer)).toBe('ok');
  });

  it('calls an all-zero header "zero" and other magic-less bytes "magic"', () => {
    expect(faultOf(Buffer.alloc(FRAME_HEADER_BYTES))).toBe('zero');
    const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
    bytes[50] = 1;
    expect(faultOf(bytes)).toBe('magic');
  });
});

describe('frame header damage', () => {
  it('refuses every single-bit flip of an encoded header (104 * 8 bits)', () => {
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

  it('refuses a resealed header with a bad version, unknown flags, codec 3 or reserved bytes', () => {
    const cases: [string, (bytes: Buffer) => void, FrameHeaderFault][] = [
      ['version 2', (bytes) => bytes.writeUInt8(2, 2), 'version'],
      ['unknown flag bit 4', (bytes) => bytes.writeUInt8(0b1_0000, 4), 'flags'],
      ['unknown flag bit 7', (bytes) => bytes.writeUInt8(0x80 | FLAG_COMMIT, 4), 'flags'],
      ['codec 3', (bytes) => bytes.writeUInt8(3, 4), 'flags'],
      ['reserved at 6', (bytes) => bytes.writeUInt16LE(1, 6), 'reserved'],
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
    bytes.writeBigUInt64LE(2n ** 53n, 24);
    expect(faultOf(resealed(bytes))).toBe('length');
    bytes.writeBigUInt64LE(2n ** 64n - 1n, 24);
    expect(faultOf(resealed(bytes))).toBe('length');
  });
});

const BODY = Buffer.from('a msgpack body');

describe('chain hash', () => {
  it('ignores the redaction byte (offset 5)', () => {
    const original = encoded(sampleHeader());
    const redacted = Buffer.from(original);
    redacted[5] = 0xff;
    expect(chainHashOf(redacted, BODY).equals(chainHashOf(original, BODY))).toBe(true);
  });

  it('changes with every other byte of the first 100', () => {
    const original = encoded(sampleHeader());
    const reference = chainHashOf(original, BODY);
    for (let offset = 0; offset < 100; offset++) {
      if (offset === 5) continue;
      const changed = Buffer.from(original);
      changed[offset] = (changed[offset] as number) ^ 0x01;
      expect(chainHashOf(changed, BODY).equals(reference), `byte ${offset}`).toBe(false);
    }
  });

  it('does not look at the header checksum (bytes 100..104), which the first 100 bytes determine', () => {
    const original = encoded(sampleHeader());
    const changed = Buffer.from(original);
    changed.writeUInt32LE(0, 100);
    expect(chainHashOf(changed, BODY).equals(chainHashOf(original, BODY))).toBe(true);
  });

  it('covers the body', () => {
    const original = encoded(sampleHeader());
    const otherBody = Buffer.from(BODY);
    otherBody[0] = (otherBody[0] as number) ^ 0x01;
    expect(chainHashOf(original, otherBody).equals(chainHashOf(original, BODY))).toBe(false);
  });

  it('does not modify its input', () => {
    const original = encoded(sampleHeader());
    original[5] = 7;
    const copy = Buffer.from(original);
    chainHashOf(original, BODY);
    expect(original.equals(copy)).toBe(true);
  });
});
