import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cartridge } from '../../../src/index.js';
import { FRAME_HEADER_BYTES } from '../../../src/journal/record-frame.js';
import { expectCode } from '../../support/expect-code.js';
import { fixChecksumsInPlace, readForgeable } from '../../support/journal-forger.js';

/**
 * Content reads of a sealed record check the blob's AEAD tag and compute the payload checksum
 * only when the tag fails (`recordInRun` with `deferSealedChecksum`). The errors must be what
 * they were when the checksum came first: damage (the checksum fails) is `JOURNAL_CORRUPT`,
 * whatever refused the blob; bytes changed with the checksums recomputed are
 * `DECRYPTION_FAILED`; an intact record reads.
 */

const KEY = randomBytes(32);
const CONTENT = randomBytes(64 * 1024);
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-deferred-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** A closed encrypted cartridge whose `/a.bin` record lies before its checkpoint root. */
function sealedFile(name: string): { path: string; offset: number; bodyLength: number } {
  const path = join(directory, name);
  const cart = Cartridge.create(path, { encryptionKey: KEY, compression: 'none' });
  cart.createFile('/a.bin', CONTENT);
  cart.createFile('/b.txt', 'other');
  const offset = (cart.history('/a.bin')[0] as { offset: number }).offset;
  cart.checkpoint();
  cart.close();
  const record = readForgeable(path).records.find((candidate) => candidate.offset === offset);
  return { path, offset, bodyLength: record?.body.length ?? 0 };
}

function edit(path: string, position: number, fixOffset?: number): void {
  const bytes = readFileSync(path);
  bytes[position] = (bytes[position] as number) ^ 0x01;
  if (fixOffset !== undefined) fixChecksumsInPlace(bytes, fixOffset);
  writeFileSync(path, bytes);
}

function readA(path: string): () => Buffer {
  return () => {
    const cart = Cartridge.open(path, { encryptionKey: KEY, bufferPoolBytes: 0 });
    try {
      return cart.readFile('/a.bin');
    } finally {
      cart.close();
    }
  };
}

describe('content reads of sealed records', () => {
  it('read intact records', () => {
    const { path } = sealedFile('intact.cart');
    expect(readA(path)().equals(CONTENT)).toBe(true);
  });

  it('report a damaged blob as JOURNAL_CORRUPT, a re-checksummed one as DECRYPTION_FAILED', () => {
    const damaged = sealedFile('damaged.cart');
    const blobAt = damaged.offset + FRAME_HEADER_BYTES + damaged.bodyLength + 1000;
    edit(damaged.path, blobAt);
    expectCode(readA(damaged.path), 'JOURNAL_CORRUPT');
    const forged = sealedFile('forged.cart');
    edit(forged.path, forged.offset + FRAME_HEADER_BYTES + forged.bodyLength + 1000, forged.offset);
    expectCode(readA(forged.path), 'DECRYPTION_FAILED');
  });

  it('report a damaged key id as JOURNAL_CORRUPT, not as a missing key', () => {
    const damaged = sealedFile('key-id.cart');
    edit(damaged.path, damaged.offset + FRAME_HEADER_BYTES + 1);
    expectCode(readA(damaged.path), 'JOURNAL_CORRUPT');
  });
});
