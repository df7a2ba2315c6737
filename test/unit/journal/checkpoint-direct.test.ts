import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CartridgeError } from '../../../src/errors.js';
import { decodeEvent, decodeEventGeneral, encodeEvent } from '../../../src/journal/event-codec.js';
import { RecordType } from '../../../src/journal/journal-event.js';
import type { JournalEvent, MerkleSection } from '../../../src/journal/journal-event.js';

/**
 * A checkpoint root's body is read by a direct reader on open, and by the general msgpack path
 * for anything the direct reader does not take. These tests hold the two together: every root
 * the checkpointer writes (with or without the erasure section) reads back as written, and
 * any damaged body gives the same answer from `decodeEvent` as from the general path alone
 * (the same event, or JOURNAL_CORRUPT). fast-check prints the seed of a failure.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '300', 10) || 300;

const count = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xffff_ffff }),
  fc.integer({ min: 0x1_0000_0000, max: Number.MAX_SAFE_INTEGER }),
);
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes));
const merkleItems = (groupSize: number): fc.Arbitrary<(number | Buffer)[]> =>
  fc
    .array(fc.oneof(count, hash), { maxLength: groupSize * 4 })
    .map((items) => items.slice(0, items.length - (items.length % groupSize)));

const merkle: fc.Arbitrary<MerkleSection> = fc.record({
  size: count,
  blockStartOffset: count,
  pendingLeaves: fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)),
  frontier: merkleItems(3),
  unwritten: merkleItems(4),
  lastSignedOffset: fc.option(count),
});

const checkpoint: fc.Arbitrary<JournalEvent> = fc
  .record({
    chainBefore: hash,
    catalog: fc.array(count, { minLength: 5, maxLength: 5 }),
    allocator: fc.array(count, { minLength: 2, maxLength: 2 }),
    timeline: fc.array(count, { minLength: 1, maxLength: 1 }),
    merkle,
    erasures: fc.option(fc.array(count, { minLength: 4, maxLength: 4 })),
  })
  .map(({ chainBefore, catalog, allocator, timeline, merkle: section, erasures }) => ({
    type: 'checkpoint',
    chainBefore,
    sections: {
      catalog,
      allocator,
      timeline,
      merkle: section,
      ...(erasures === null ? {} : { erasures }),
    },
  }));

function answer(decode: () => JournalEvent): unknown {
  try {
    return decode();
  } catch (error) {
    if (error instanceof CartridgeError) return error.code;
    throw error;
  }
}

describe('checkpoint root decoding', () => {
  it('reads back every root the checkpointer writes', () => {
    fc.assert(
      fc.property(checkpoint, (event) => {
        const body = encodeEvent(event);
        expect(decodeEvent(RecordType.CheckpointRoot, body)).toEqual(event);
        expect(decodeEventGeneral(RecordType.CheckpointRoot, body)).toEqual(event);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers as the general path for damaged bodies', () => {
    fc.assert(
      fc.property(
        checkpoint,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.integer({ min: -2, max: 2 }),
        (event, flips, lengthChange) => {
          const encoded = encodeEvent(event);
          const body = Buffer.alloc(Math.max(0, encoded.length + lengthChange));
          Buffer.from(encoded).copy(body);
          for (const [at, byte] of flips) {
            if (body.length > 0) body[at % body.length] = byte;
          }
          expect(answer(() => decodeEvent(RecordType.CheckpointRoot, body))).toEqual(
            answer(() => decodeEventGeneral(RecordType.CheckpointRoot, body)),
          );
        },
      ),
      { numRuns: NUM_RUNS * 10 },
    );
  });
});
