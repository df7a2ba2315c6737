import { describe, expect, it } from 'vitest';
import { checksumCrc32c } from '../../../src/journal/hashing.js';
import {
  chooseFileHeader,
  decodeFileHeaderSlot,
  encodeFileHeader,
  type FileHeader,
  HEADER_SLOT_BYTES,
  JOURNAL_START_OFFSET,
  slotOffsetOf,
} from '../../../src/journal/file-header.js';
import { thrownBy } from '../../support/expect-code.js';

function header(overrides: Partial<FileHeader> = {}): FileHeader {
  return {
    generation: 7,
    cartridgeId: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
    createdAtMs: 1_700_000_000_123,
    capacityBlocks: 10_000,
    syncedLength: 123_456,
    checkpointOffset: 65_536,
    compressionCodec: 2,
    cipherCode: 1,
    keyId: Buffer.from('a1b2c3d4', 'hex'),
    auditRetain: true,
    ...overrides,
  };
}

/** Re-seals a hand-edited slot, so that the field check (not the CRC) is what judges it. */
function resealed(slot: Buffer): Buffer {
  slot.writeUInt32LE(checksumCrc32c(slot.subarray(0, HEADER_SLOT_BYTES - 4)), HEADER_SLOT_BYTES - 4);
  return slot;
}

describe('file header slot', () => {
  it('round-trips every field', () => {
    const original = header();
    const slot = encodeFileHeader(original);
    expect(slot.length).toBe(HEADER_SLOT_BYTES);
    const verdict = decodeFileHeaderSlot(slot);
    expect(verdict).toEqual({ kind: 'valid', header: original });
  });

  it('stores "no capacity" as 0 and reads it back as null', () => {
    const verdict = decodeFileHeaderSlot(encodeFileHeader(header({ capacityBlocks: null })));
    expect(verdict.kind === 'valid' && verdict.header.capacityBlocks).toBe(null);
  });

  it('calls a slot with a flipped bit damaged, wherever the bit is (after the magic)', () => {
    const slot = encodeFileHeader(header());
    for (const offset of [8, 16, 30, 64, 80, 81, 2000, 4091, 4092, 4095]) {
      const flipped = Buffer.from(slot);
      flipped[offset] = (flipped[offset] as number) ^ 0x10;
      expect(decodeFileHeaderSlot(flipped).kind, `offset ${offset}`).toBe('damaged');
    }
  });

  it('calls a slot with an insane field damaged even when its checksum matches', () => {
    const edits: [string, (slot: Buffer) => void][] = [
      ['page size', (slot) => slot.writeUInt32LE(8192, 12)],
      ['journal start', (slot) => slot.writeBigUInt64LE(BigInt(JOURNAL_START_OFFSET + 1), 56)],
      ['codec', (slot) => slot.writeUInt8(3, 80)],
      ['cipher', (slot) => slot.writeUInt8(3, 81)],
      ['generation beyond safe integers', (slot) => slot.writeBigUInt64LE(2n ** 60n, 16)],
      ['synced length beyond safe integers', (slot) => slot.writeBigUInt64LE(2n ** 63n, 64)],
    ];
    for (const [what, edit] of edits) {
      const slot = encodeFileHeader(header());
      edit(slot);
      expect(decodeFileHeaderSlot(resealed(slot)).kind, what).toBe('damaged');
    }
  });

  it('calls a slot cut short after its magic damaged, and one without magic foreign', () => {
    const slot = encodeFileHeader(header());
    expect(decodeFileHeaderSlot(slot.subarray(0, 100)).kind).toBe('damaged');
    expect(decodeFileHeaderSlot(slot.subarray(0, 4)).kind).toBe('foreign');
    expect(decodeFileHeaderSlot(Buffer.alloc(0)).kind).toBe('foreign');
  });

  it('places generation g in slot g % 2', () => {
    expect(slotOffsetOf(0)).toBe(0);
    expect(slotOffsetOf(1)).toBe(HEADER_SLOT_BYTES);
    expect(slotOffsetOf(10)).toBe(0);
    expect(slotOffsetOf(11)).toBe(HEADER_SLOT_BYTES);
  });
});

describe('chooseFileHeader', () => {
  const older = header({ generation: 4, syncedLength: 1000 });
  const newer = header({ generation: 5, syncedLength: 2000 });

  it('picks the valid slot with the highest generation, in either slot order', () => {
    expect(chooseFileHeader([encodeFileHeader(older), encodeFileHeader(newer)])).toEqual(newer);
    expect(chooseFileHeader([encodeFileHeader(newer), encodeFileHeader(older)])).toEqual(newer);
  });

  it('falls back to the older slot when the newer one is torn', () => {
    // A torn write of the newer slot: its first sectors arrived over the old bytes, the rest not.
    const stale = encodeFileHeader(header({ generation: 3 }));
    const torn = Buffer.concat([encodeFileHeader(newer).subarray(0, 512), stale.subarray(512)]);
    expect(chooseFileHeader([encodeFileHeader(older), torn])).toEqual(older);
    // A newer slot cut short (the file ends inside it) falls back the same way.
    expect(chooseFileHeader([encodeFileHeader(older), encodeFileHeader(newer).subarray(0, 1000)])).toEqual(older);
  });

  it('falls back to the older slot when the newer one has a flipped bit', () => {
    const damaged = encodeFileHeader(newer);
    damaged[70] = (damaged[70] as number) ^ 0x01;
    expect(chooseFileHeader([damaged, encodeFileHeader(older)])).toEqual(older);
  });

  it('is JOURNAL_CORRUPT at offset 0 when both slots carry the magic but are damaged', () => {
    const first = encodeFileHeader(older);
    const second = encodeFileHeader(newer);
    first[100] = 1;
    second[4092] = (second[4092] as number) ^ 0xff;
    const error = thrownBy(() => chooseFileHeader([first, second]));
    expect(error.code).toBe('JOURNAL_CORRUPT');
    expect(error.offset).toBe(0);
  });

  it('is JOURNAL_CORRUPT when one slot is damaged and the other is foreign (zeroed)', () => {
    const damaged = encodeFileHeader(older);
    damaged[100] = 1;
    expect(thrownBy(() => chooseFileHeader([Buffer.alloc(HEADER_SLOT_BYTES), damaged])).code).toBe('JOURNAL_CORRUPT');
  });

  it('is NOT_A_CARTRIDGE when no slot carries the magic', () => {
    expect(thrownBy(() => chooseFileHeader([Buffer.alloc(HEADER_SLOT_BYTES), Buffer.alloc(HEADER_SLOT_BYTES)])).code)
      .toBe('NOT_A_CARTRIDGE');
    const text = Buffer.from('{"this": "is a JSON file, not a cartridge"}');
    expect(thrownBy(() => chooseFileHeader([text, Buffer.alloc(0)])).code).toBe('NOT_A_CARTRIDGE');
    expect(thrownBy(() => chooseFileHeader([Buffer.alloc(0), Buffer.alloc(0)])).code).toBe('NOT_A_CARTRIDGE');
  });

  it('is UNSUPPORTED_VERSION for a version 5 file, for formats 1 to 3, and for unknown required features', () => {
    const versionTwo = encodeFileHeader(newer);
    versionTwo.writeUInt16LE(5, 8);
    resealed(versionTwo);
    expect(thrownBy(() => chooseFileHeader([versionTwo, Buffer.from(versionTwo)])).code).toBe('UNSUPPORTED_VERSION');
    const damaged = encodeFileHeader(older);
    damaged[100] = 1;
    expect(thrownBy(() => chooseFileHeader([damaged, versionTwo])).code).toBe('UNSUPPORTED_VERSION');
    const features = encodeFileHeader(newer);
    features.writeUInt16LE(1, 10);
    expect(thrownBy(() => chooseFileHeader([resealed(features), Buffer.alloc(0)])).code).toBe('UNSUPPORTED_VERSION');
    // Format 1 (104-byte frames, whole-catalog checkpoints) had no users to migrate: it is
    // refused plainly rather than misread.
    const formatOne = encodeFileHeader(newer);
    formatOne.writeUInt16LE(1, 8);
    resealed(formatOne);
    expect(thrownBy(() => chooseFileHeader([formatOne, Buffer.from(formatOne)])).code).toBe('UNSUPPORTED_VERSION');
    // Format 2 had no version chains, timeline or snapshots; it too is refused, not misread.
    const formatTwo = encodeFileHeader(newer);
    formatTwo.writeUInt16LE(2, 8);
    resealed(formatTwo);
    expect(thrownBy(() => chooseFileHeader([formatTwo, Buffer.from(formatTwo)])).code).toBe('UNSUPPORTED_VERSION');
    // Format 3 had no encryption, no Merkle log, no signed heads and no file.patched record: its
    // frames would read, but a format 4 reader does not pretend to know what a format 3 writer
    // meant by the bytes it left zero. Refused, not misread.
    const formatThree = encodeFileHeader(newer);
    formatThree.writeUInt16LE(3, 8);
    resealed(formatThree);
    expect(thrownBy(() => chooseFileHeader([formatThree, Buffer.from(formatThree)])).code).toBe('UNSUPPORTED_VERSION');
  });

  it('prefers a valid version 4 slot over a newer-version one (a reader keeps what it understands)', () => {
    const versionTwo = encodeFileHeader(newer);
    versionTwo.writeUInt16LE(5, 8);
    expect(chooseFileHeader([encodeFileHeader(older), resealed(versionTwo)])).toEqual(older);
  });
});
