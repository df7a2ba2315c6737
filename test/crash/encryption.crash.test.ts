import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/engine/cartridge.js';
import { encryptionKeyId } from '../../src/engine/encryption.js';
import type { CartridgeOptions } from '../../src/engine/options.js';
import { CartridgeError } from '../../src/errors.js';
import {
  chooseFileHeader,
  encodeFileHeader,
  HEADER_SLOT_BYTES,
  JOURNAL_START_OFFSET,
} from '../../src/journal/file-header.js';
import { checksumCrc32c } from '../../src/journal/hashing.js';
import {
  decodeFrameHeader,
  FRAME_HEADER_BYTES,
  type FrameHeader,
  isSealed,
  recordLengthOf,
} from '../../src/journal/record-frame.js';
import { CRASHED_ERROR_CODE, FaultStorage } from '../support/fault-storage.js';

/**
 * Encryption against an attacker who edits the stored bytes (and recomputes every CRC), cut
 * tags, crashes in the middle of a key rotation, and the nonce rule: no nonce repeats under
 * one key across 100 000 records, 100 reopens and torn tails cut and rewritten.
 */

const KEY_A = createHash('sha256').update('crash key a').digest();
const KEY_B = createHash('sha256').update('crash key b').digest();
/** Record types, as FORMAT.md numbers them. */
const FILE_CREATED = 3;

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-encryption-crash-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

interface StoredRecord {
  readonly offset: number;
  readonly header: FrameHeader;
  readonly lengthBytes: number;
}

/** The records of a file's bytes, from `fromOffset` (a record boundary) to the first damage. */
function recordsIn(bytes: Buffer, fromOffset = JOURNAL_START_OFFSET): StoredRecord[] {
  const records: StoredRecord[] = [];
  let offset = fromOffset;
  while (offset + FRAME_HEADER_BYTES <= bytes.length) {
    const decoded = decodeFrameHeader(bytes.subarray(offset, offset + FRAME_HEADER_BYTES));
    if (!decoded.ok) break;
    const lengthBytes = recordLengthOf(decoded.header);
    if (offset + lengthBytes > bytes.length) break;
    records.push({ offset, header: decoded.header, lengthBytes });
    offset += lengthBytes;
  }
  return records;
}

/** What an attacker does after editing a record: both CRCs recomputed from the new bytes. */
function rechecksum(bytes: Buffer, offset: number): void {
  const bodyLength = bytes.readUInt32LE(offset + 4);
  const blobLength = bytes.readUInt32LE(offset + 8);
  const payloadStart = offset + FRAME_HEADER_BYTES;
  const payload = bytes.subarray(payloadStart, payloadStart + bodyLength + blobLength);
  bytes.writeUInt32LE(checksumCrc32c(payload), offset + 36);
  bytes.writeUInt32LE(checksumCrc32c(bytes.subarray(offset, offset + 40)), offset + 40);
}

/** Both header slots rewritten to claim `syncedLength`, as an attacker who shortened the file. */
function claimSyncedLength(bytes: Buffer, syncedLength: number): void {
  const header = chooseFileHeader([
    bytes.subarray(0, HEADER_SLOT_BYTES),
    bytes.subarray(HEADER_SLOT_BYTES, 2 * HEADER_SLOT_BYTES),
  ]);
  for (const generation of [header.generation + 1, header.generation + 2]) {
    const slot = encodeFileHeader({ ...header, generation, syncedLength });
    slot.copy(bytes, (generation % 2) * HEADER_SLOT_BYTES);
  }
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof CartridgeError) return error.code;
    throw error;
  }
  return 'no error';
}

const SECRET = Buffer.from('a secret transcript line\n'.repeat(400));
const LAST = Buffer.from('the last words, sealed\n'.repeat(40));

/**
 * A cartridge whose `/secret` record lies before the checkpoint (open does not read it) and
 * whose `/last` record is the file's last record (nothing after it links to it).
 */
function buildCartridge(path: string): void {
  const cart = Cartridge.create(path, { encryptionKey: KEY_A, compression: 'none' });
  cart.createFile('/secret', SECRET);
  cart.createFile('/other', 'other content');
  cart.checkpoint();
  cart.createFile('/last', LAST);
  cart.close();
}

function lastRecord(bytes: Buffer): StoredRecord {
  const records = recordsIn(bytes);
  const last = records[records.length - 1] as StoredRecord;
  expect(last.header.type).toBe(FILE_CREATED);
  expect(last.offset + last.lengthBytes).toBe(bytes.length);
  return last;
}

function recordHolding(bytes: Buffer, rawBlobLength: number): StoredRecord {
  const found = recordsIn(bytes).find(
    (record) => record.header.type === FILE_CREATED && record.header.rawBlobLength === rawBlobLength,
  );
  expect(found).toBeDefined();
  return found as StoredRecord;
}

describe('a flipped ciphertext bit', () => {
  it('in content is JOURNAL_CORRUPT by the CRC, or DECRYPTION_FAILED once the CRC is redone', () => {
    const path = join(directory, 'flip.cart');
    buildCartridge(path);
    const original = readFileSync(path);
    const record = recordHolding(original, SECRET.length);
    expect(isSealed(record.header)).toBe(true);
    const bit = record.offset + FRAME_HEADER_BYTES + record.header.bodyLength + 100;

    const flipped = Buffer.from(original);
    flipped[bit] = (flipped[bit] as number) ^ 0x04;
    writeFileSync(path, flipped);
    let cart = Cartridge.open(path, { encryptionKey: KEY_A });
    expect(codeOf(() => cart.readFile('/secret'))).toBe('JOURNAL_CORRUPT');
    expect(cart.readFile('/other').toString()).toBe('other content');
    cart.close();

    rechecksum(flipped, record.offset);
    writeFileSync(path, flipped);
    cart = Cartridge.open(path, { encryptionKey: KEY_A });
    expect(codeOf(() => cart.readFile('/secret'))).toBe('DECRYPTION_FAILED');
    expect(cart.readFile('/other').toString()).toBe('other content');
    // The chain still catches it, without the key's help.
    expect(cart.verify().ok).toBe(false);
    cart.close();
  });

  it('in a body, with the CRC redone, fails open with DECRYPTION_FAILED and cuts nothing', () => {
    const path = join(directory, 'body.cart');
    buildCartridge(path);
    const bytes = readFileSync(path);
    const last = lastRecord(bytes);
    // Inside the body's ciphertext (after the key id and nonce).
    const bit = last.offset + FRAME_HEADER_BYTES + 20;
    bytes[bit] = (bytes[bit] as number) ^ 0x01;
    rechecksum(bytes, last.offset);
    writeFileSync(path, bytes);
    for (const options of [{}, { readOnly: true }, { recovery: 'read-only-prefix' as const }]) {
      expect(codeOf(() => Cartridge.open(path, { encryptionKey: KEY_A, ...options }))).toBe(
        'DECRYPTION_FAILED',
      );
    }
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('under an open handle is reported by verify(), not thrown', () => {
    const path = join(directory, 'verify.cart');
    buildCartridge(path);
    const cart = Cartridge.open(path, { encryptionKey: KEY_A });
    try {
      const bytes = readFileSync(path);
      const last = lastRecord(bytes);
      const bit = last.offset + FRAME_HEADER_BYTES + 20;
      bytes[bit] = (bytes[bit] as number) ^ 0x01;
      rechecksum(bytes, last.offset);
      writeFileSync(path, bytes);
      const report = cart.verify();
      expect(report.ok).toBe(false);
      expect(report.damageOffset).toBe(last.offset);
      expect(report.damageReason).toContain('DECRYPTION_FAILED');
    } finally {
      cart.close();
    }
  });

  it('in the associated header, with the CRC redone, is refused (the header is authenticated)', () => {
    const path = join(directory, 'header.cart');
    buildCartridge(path);
    const bytes = readFileSync(path);
    const record = recordHolding(bytes, SECRET.length);
    // The commit index is in the associated data and checked by nothing else on a random read:
    // moving the record to another place in its commit must break its tags.
    bytes.writeUInt32LE(bytes.readUInt32LE(record.offset + 16) + 1, record.offset + 16);
    rechecksum(bytes, record.offset);
    writeFileSync(path, bytes);
    const cart = Cartridge.open(path, { encryptionKey: KEY_A });
    expect(codeOf(() => cart.readFile('/secret'))).toBe('DECRYPTION_FAILED');
    cart.close();
  });
});

describe('a cut tag', () => {
  it('at the end of the file is a truncation: JOURNAL_CORRUPT, or the prefix read-only', () => {
    const path = join(directory, 'cut.cart');
    buildCartridge(path);
    const length = readFileSync(path).length;
    truncateSync(path, length - 8);
    expect(codeOf(() => Cartridge.open(path, { encryptionKey: KEY_A }))).toBe('JOURNAL_CORRUPT');
    const prefix = Cartridge.open(path, { encryptionKey: KEY_A, recovery: 'read-only-prefix' });
    expect(prefix.readOnly).toBe(true);
    expect(prefix.exists('/last')).toBe(false);
    expect(prefix.readFile('/secret').equals(SECRET)).toBe(true);
    prefix.close();
  });

  it('removed with every length, CRC and header redone, is DECRYPTION_FAILED', () => {
    const path = join(directory, 'forged.cart');
    buildCartridge(path);
    const bytes = readFileSync(path);
    const last = lastRecord(bytes);
    const shortened = Buffer.from(bytes.subarray(0, bytes.length - 16));
    // Codec none: the frame demands stored = raw + 16, so both lengths shrink by the tag.
    shortened.writeUInt32LE(last.header.storedBlobLength - 16, last.offset + 8);
    shortened.writeUInt32LE(last.header.rawBlobLength - 16, last.offset + 12);
    rechecksum(shortened, last.offset);
    claimSyncedLength(shortened, shortened.length);
    writeFileSync(path, shortened);
    expect(codeOf(() => Cartridge.open(path, { encryptionKey: KEY_A }))).toBe('DECRYPTION_FAILED');
    expect(readFileSync(path).equals(shortened)).toBe(true);
  });
});

describe('a crash during a key rotation', () => {
  it('leaves the old key current or the new one, never a cut or a corrupt journal', () => {
    const path = '/rotation/crash.cart';
    const options = (storage: FaultStorage): CartridgeOptions => ({
      storage,
      durability: 'normal',
      syncIntervalMs: 3_600_000,
    });
    const outcomes = { oldKey: 0, newKey: 0 };
    for (let budget = 0; budget < 12; budget++) {
      for (const kind of ['drop-unsynced', 'tear-last', 'keep-subset'] as const) {
        const storage = new FaultStorage(budget);
        const cart = Cartridge.create(path, { ...options(storage), encryptionKey: KEY_A });
        cart.createFile('/before', 'written with a');
        cart.flush();
        storage.crashAfter(budget);
        let rotated = false;
        try {
          cart.rotateKey(KEY_B);
          rotated = true;
        } catch (error) {
          const code = (error as { code?: unknown; systemCode?: unknown }).systemCode;
          expect(code ?? (error as { code?: unknown }).code).toBe(CRASHED_ERROR_CODE);
        }
        storage.crash(
          kind === 'drop-unsynced'
            ? { kind }
            : kind === 'tear-last'
              ? { kind, sectorBytes: 512, seed: budget }
              : { kind, seed: budget },
        );
        // With the old key alone: the rotation was cut (or never written), or it is whole and
        // its key is required by name (KEY_REQUIRED), or the header already names the new key
        // (DECRYPTION_FAILED: the old key is no longer the cartridge's); nothing is cut.
        const before = storage.snapshot(path);
        let reopened: Cartridge | undefined;
        try {
          reopened = Cartridge.open(path, { ...options(storage), encryptionKey: KEY_A });
        } catch (error) {
          expect(['KEY_REQUIRED', 'DECRYPTION_FAILED']).toContain((error as CartridgeError).code);
          expect(storage.snapshot(path).equals(before)).toBe(true);
        }
        if (reopened !== undefined) {
          expect(rotated, 'an acknowledged rotation is durable').toBe(false);
          expect(reopened.encryption?.keyId).toBe(KEY_ID_A);
          expect(reopened.readFile('/before').toString()).toBe('written with a');
          reopened.createFile('/after', 'written with a again');
          reopened.close();
          outcomes.oldKey++;
          continue;
        }
        reopened = Cartridge.open(path, { ...options(storage), encryptionKey: KEY_B, keyring: [KEY_A] });
        expect(reopened.encryption?.keyId).toBe(KEY_ID_B);
        expect(reopened.readFile('/before').toString()).toBe('written with a');
        expect(reopened.verify().ok).toBe(true);
        reopened.close();
        outcomes.newKey++;
      }
    }
    // Both sides of the rotation were reached.
    expect(outcomes.oldKey).toBeGreaterThan(0);
    expect(outcomes.newKey).toBeGreaterThan(0);
  });
});

const KEY_ID_A = encryptionKeyId(KEY_A);
const KEY_ID_B = encryptionKeyId(KEY_B);

describe('nonces', () => {
  it('never repeat across 100 000 records, 100 reopens and torn tails cut and rewritten', () => {
    const path = '/nonces/many.cart';
    const storage = new FaultStorage(11);
    const options: CartridgeOptions = {
      storage,
      encryptionKey: KEY_A,
      keyring: [KEY_B],
      durability: 'normal',
      syncIntervalMs: 3_600_000,
      compression: 'none',
    };
    /** Each nonce seen, with a digest of the record that carried it. */
    const seen = new Map<string, string>();
    let repeats = 0;
    let tailsCut = 0;
    /** Each place (offset and sequence) seen, with its record: a rewritten place is a reuse. */
    const places = new Map<string, string>();
    let placesReused = 0;
    const collect = (fromOffset: number): number => {
      const bytes = storage.snapshot(path);
      const records = recordsIn(bytes, fromOffset);
      for (const record of records) {
        expect(isSealed(record.header)).toBe(true);
        const start = record.offset + FRAME_HEADER_BYTES;
        const nonce = bytes.subarray(start + 4, start + 16).toString('hex');
        const whole = bytes.subarray(record.offset, record.offset + record.lengthBytes);
        const digest = createHash('sha256').update(whole).digest('hex');
        const earlier = seen.get(nonce);
        if (earlier === undefined) seen.set(nonce, digest);
        else if (earlier !== digest) repeats++;
        const place = `${record.offset}:${record.header.sequence}`;
        const before = places.get(place);
        if (before !== undefined && before !== digest) placesReused++;
        places.set(place, digest);
      }
      return records.length;
    };
    let cart = Cartridge.create(path, options);
    for (let cycle = 0; cycle < 100; cycle++) {
      if (cycle > 0) {
        const keys = cycle > 50 ? { encryptionKey: KEY_B, keyring: [KEY_A] } : {};
        cart = Cartridge.open(path, { ...options, ...keys });
      }
      const start = cart.head;
      if (cycle === 50) cart.rotateKey(KEY_B);
      for (let batch = 0; batch < 10; batch++) {
        cart.transaction(() => {
          for (let index = 0; index < 100; index++) {
            cart.createFile(`/c${cycle}-${batch}-${index}`, `record ${cycle} ${batch} ${index}`);
          }
        });
      }
      if (cycle % 3 === 1) {
        // A torn tail: some commits synced, more written but not, then the machine dies. The
        // next open cuts what was not synced and writes new records at the same offsets, with
        // the same sequence numbers.
        cart.flush();
        for (let index = 0; index < 300; index++) cart.createFile(`/torn-${cycle}-${index}`, 'torn');
        const before = cart.head;
        collect(start);
        storage.crash(
          cycle % 2 === 0 ? { kind: 'drop-unsynced' } : { kind: 'tear-last', sectorBytes: 512, seed: cycle },
        );
        if (storage.snapshot(path).length < before) tailsCut++;
      } else {
        collect(start);
        cart.close();
        collect(start);
      }
    }
    expect(repeats).toBe(0);
    expect(tailsCut).toBeGreaterThan(10);
    // Offsets and sequence numbers were reused by rewritten tails: a nonce derived from them
    // would have repeated.
    expect(placesReused).toBeGreaterThan(10);
    expect(seen.size).toBeGreaterThanOrEqual(100_000);
  }, 300_000);
});
