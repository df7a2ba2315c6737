import { readFileSync, writeFileSync } from 'node:fs';
import {
  chooseFileHeader,
  encodeFileHeader,
  HEADER_SLOT_BYTES,
  JOURNAL_START_OFFSET,
} from '../../src/journal/file-header.js';
import { chainRootOf, checksumCrc32c } from '../../src/journal/hashing.js';
import {
  blobHashOf,
  chainHashOf,
  decodeFrameHeader,
  encodeFrameHeader,
  FLAG_COMMIT,
  FRAME_HEADER_BYTES,
  linkOf,
  payloadChecksumOf,
  recordLengthOf,
} from '../../src/journal/record-frame.js';

/**
 * The tamper suite's attacker: someone with write access to the file and the format's
 * documentation, but not the signing key. It reads a cartridge file into its records and
 * writes them back in any order, edited, dropped or invented, framed as the writer frames
 * them: sequence numbers in order, commit indexes, every CRC32C, and the whole hash chain from
 * the chain root, then both header slots naming the new end (and no checkpoint, since it
 * cannot be bothered to rebuild the index; a file without checkpoints opens by replay).
 */

export interface ForgeableRecord {
  readonly type: number;
  /** The frame flags; the commit flag is kept where it was, so commits keep their shape. */
  readonly flags: number;
  readonly body: Buffer;
  readonly storedBlob: Buffer;
  readonly rawBlobLength: number;
  /** Where the record was in the file read (for finding records; ignored when writing). */
  readonly offset: number;
}

export interface ForgeableFile {
  readonly cartridgeId: Buffer;
  readonly records: ForgeableRecord[];
}

export function readForgeable(path: string): ForgeableFile {
  const bytes = readFileSync(path);
  const header = chooseFileHeader([
    bytes.subarray(0, HEADER_SLOT_BYTES),
    bytes.subarray(HEADER_SLOT_BYTES, 2 * HEADER_SLOT_BYTES),
  ]);
  const records: ForgeableRecord[] = [];
  let offset = JOURNAL_START_OFFSET;
  while (offset + FRAME_HEADER_BYTES <= bytes.length) {
    const decoded = decodeFrameHeader(bytes.subarray(offset, offset + FRAME_HEADER_BYTES));
    if (!decoded.ok) break;
    const frame = decoded.header;
    const bodyStart = offset + FRAME_HEADER_BYTES;
    const blobStart = bodyStart + frame.bodyLength;
    records.push({
      type: frame.type,
      flags: frame.flags,
      body: Buffer.from(bytes.subarray(bodyStart, blobStart)),
      storedBlob: Buffer.from(bytes.subarray(blobStart, blobStart + frame.storedBlobLength)),
      rawBlobLength: frame.rawBlobLength,
      offset,
    });
    offset += recordLengthOf(frame);
  }
  return { cartridgeId: header.cartridgeId, records };
}

/** Writes `records` as a whole, consistent journal: what verify at the chain level accepts. */
export function writeForged(
  path: string,
  file: ForgeableFile,
  records: readonly ForgeableRecord[],
): void {
  const original = readFileSync(path);
  const header = chooseFileHeader([
    original.subarray(0, HEADER_SLOT_BYTES),
    original.subarray(HEADER_SLOT_BYTES, 2 * HEADER_SLOT_BYTES),
  ]);
  const parts: Buffer[] = [];
  let previousHash = chainRootOf(file.cartridgeId);
  let commitIndex = 0;
  records.forEach((record, sequence) => {
    const frame = Buffer.alloc(FRAME_HEADER_BYTES);
    encodeFrameHeader(
      {
        type: record.type,
        flags: record.flags,
        bodyLength: record.body.length,
        storedBlobLength: record.storedBlob.length,
        rawBlobLength: record.rawBlobLength,
        commitIndex,
        sequence,
        link: linkOf(previousHash),
        payloadChecksum: payloadChecksumOf(record.body, record.storedBlob),
      },
      frame,
    );
    previousHash = chainHashOf(previousHash, frame, record.body, blobHashOf(record.storedBlob));
    commitIndex = (record.flags & FLAG_COMMIT) !== 0 ? 0 : commitIndex + 1;
    parts.push(frame, record.body, record.storedBlob);
  });
  const journal = Buffer.concat(parts);
  const slot = encodeFileHeader({
    ...header,
    syncedLength: JOURNAL_START_OFFSET + journal.length,
    checkpointOffset: 0,
  });
  writeFileSync(path, Buffer.concat([slot, slot, journal]));
}

/**
 * Fixes the two CRC32Cs of the record at `offset` after its bytes were edited in place, and
 * nothing else: the chain stays broken, which is what the chain level detects.
 */
export function fixChecksumsInPlace(bytes: Buffer, offset: number): void {
  const decoded = decodeFrameHeader(bytes.subarray(offset, offset + FRAME_HEADER_BYTES));
  const headerEnd = offset + FRAME_HEADER_BYTES;
  // The header decodes only if its own CRC holds: edits go to the payload, never the header.
  if (!decoded.ok) throw new Error('the forger edits payloads, not headers');
  const length = recordLengthOf(decoded.header);
  bytes.writeUInt32LE(checksumCrc32c(bytes.subarray(headerEnd, offset + length)), offset + 36);
  bytes.writeUInt32LE(checksumCrc32c(bytes.subarray(offset, offset + 40)), offset + 40);
}
