import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, type ExportedHead, type SignedHead, verifyProof } from '../../src/index.js';
import { createFaultStorage } from '../support/fault-storage.js';
import { fixChecksumsInPlace, readForgeable, writeForged } from '../support/journal-forger.js';

/**
 * Tamper evidence on an encrypted cartridge, checked by someone who has the signer's public key
 * and a head kept elsewhere but not the encryption key: the chain, the Merkle log and signed
 * heads are over the stored (sealed) bytes, so every level is reachable without the key, and
 * proofs of sealed records check with `verifyProof`. What needs the plaintext (the replay that
 * rebuilds the index) is skipped and said to be (`stateChecked: false`).
 */

const FLAG_SEALED = 0x10;
const HEAD_SIGNED = 17;

let directory: string;
let path: string;
let key: Buffer;
let keys: { privateKey: KeyObject; publicKey: KeyObject };
let signed: SignedHead;
let finalHead: ExportedHead;

/**
 * An encrypted, audited cartridge: commits of many records (so that Merkle blocks complete in
 * the middle of a commit), checkpoints between them and a reopen, two signed heads, and
 * records after the last one.
 */
function writeCartridge(cipher: 'aes-256-gcm' | 'chacha20-poly1305' = 'aes-256-gcm'): void {
  let cart = Cartridge.create(path, { encryptionKey: key, cipher, audit: true });
  cart.transaction(() => {
    for (let index = 0; index < 40; index++)
      cart.createFile(`/calls/${index}.txt`, `secret ${index}`);
  });
  cart.checkpoint();
  cart.signCheckpoint(keys.privateKey);
  for (let index = 0; index < 25; index++) cart.writeFile(`/calls/${index}.txt`, `again ${index}`);
  cart.close();
  cart = Cartridge.open(path, { encryptionKey: key });
  cart.transaction(() => {
    for (let index = 40; index < 75; index++)
      cart.createFile(`/calls/${index}.txt`, `secret ${index}`);
  });
  cart.checkpoint();
  cart.createSnapshot('before-signing');
  signed = cart.signCheckpoint(keys.privateKey);
  cart.createFile('/after/signing.txt', 'unsigned tail');
  finalHead = cart.exportHead();
  cart.close();
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-encrypted-tamper-'));
  path = join(directory, 'calls.cart');
  key = randomBytes(32);
  keys = generateKeyPairSync('ed25519');
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('tamper evidence of an encrypted cartridge, without its key', () => {
  it.each(['aes-256-gcm', 'chacha20-poly1305'] as const)(
    'verifyFile reaches signed and anchored without the key (%s), and says the state was not checked',
    (cipher) => {
      writeCartridge(cipher);
      expect(() => Cartridge.open(path)).toThrow(/KEY_REQUIRED/);
      const chain = Cartridge.verifyFile(path);
      expect(chain).toMatchObject({ ok: true, assurance: 'chain', stateChecked: false });
      const signedReport = Cartridge.verifyFile(path, { publicKey: keys.publicKey });
      expect(signedReport).toMatchObject({
        ok: true,
        assurance: 'signed',
        code: null,
        stateChecked: false,
        stateMatches: false,
      });
      expect(signedReport.signedHead).toEqual(signed);
      const anchored = Cartridge.verifyFile(path, { publicKey: keys.publicKey, anchor: finalHead });
      expect(anchored).toMatchObject({ ok: true, assurance: 'anchored', stateChecked: false });
      expect(anchored.merkleRoot).toBe(finalHead.merkleRoot);
      expect(anchored.headHash).toBe(finalHead.headHash);
      expect(anchored.recordsChecked).toBe(finalHead.sequence);

      // With the key, the same file is verified in full, and the roots agree.
      const full = Cartridge.verifyFile(path, {
        publicKey: keys.publicKey,
        anchor: finalHead,
        encryptionKey: key,
      });
      expect(full).toMatchObject({
        ok: true,
        assurance: 'anchored',
        stateChecked: true,
        stateMatches: true,
      });
      expect(full.merkleRoot).toBe(anchored.merkleRoot);
      const cart = Cartridge.open(path, { encryptionKey: key });
      const live = cart.verify({ publicKey: keys.publicKey, anchor: finalHead });
      cart.close();
      expect(live).toMatchObject({ ok: true, assurance: 'anchored', stateMatches: true });
      expect(live.merkleRoot).toBe(anchored.merkleRoot);
    },
  );

  it('stores signed heads in the clear and every other record sealed', () => {
    writeCartridge();
    const records = readForgeable(path).records;
    const heads = records.filter((record) => record.type === HEAD_SIGNED);
    expect(heads).toHaveLength(2);
    for (const record of records) {
      expect((record.flags & FLAG_SEALED) !== 0).toBe(record.type !== HEAD_SIGNED);
    }
    const bytes = readFileSync(path);
    expect(bytes.includes(Buffer.from('secret 1'))).toBe(false);
    expect(bytes.includes(Buffer.from('/calls/'))).toBe(false);
  });

  it('proves records of an encrypted cartridge, and the proofs check with verifyProof', () => {
    writeCartridge();
    const cart = Cartridge.open(path, { encryptionKey: key });
    const versions = [
      ...cart.history('/calls/0.txt'),
      ...cart.history('/calls/39.txt'),
      ...cart.history('/calls/74.txt'),
    ];
    expect(versions.length).toBeGreaterThanOrEqual(4);
    for (const version of versions) {
      const proof = JSON.parse(JSON.stringify(cart.proveRecord(version.position)));
      const proven = verifyProof(proof, keys.publicKey);
      expect(proven.offset).toBe(version.position.offset);
      // The proof holds the sealed body: nothing of the path or content.
      expect(Buffer.from(proof.body, 'hex').includes(Buffer.from('/calls/'))).toBe(false);
      expect(proof.head).toEqual(signed);
    }
    cart.close();
  });

  it('catches a sealed record changed without the key, re-checksummed or re-chained', () => {
    writeCartridge();
    const original = readFileSync(path);
    const file = readForgeable(path);
    const target = file.records.findIndex(
      (record, index) => index > 5 && record.type !== HEAD_SIGNED && record.body.length > 40,
    );
    expect(target).toBeGreaterThan(0);
    const offset = (file.records[target] as { offset: number }).offset;

    // A flipped ciphertext byte with both CRCs fixed: the chain no longer holds.
    const edited = Buffer.from(original);
    edited[offset + 44 + 20] = (edited[offset + 44 + 20] as number) ^ 0x01;
    fixChecksumsInPlace(edited, offset);
    writeFileSync(path, edited);
    const broken = Cartridge.verifyFile(path, { publicKey: keys.publicKey });
    expect(broken).toMatchObject({ ok: false, assurance: 'none', code: 'JOURNAL_CORRUPT' });
    // The edited record's own checksums hold: the chain breaks at the link of the next one.
    expect(broken.damageOffset).toBe(file.records[target + 1]?.offset);
    expect(broken.stateChecked).toBe(false);

    // The same edit with the whole chain recomputed: the chain holds, the signed heads do not.
    writeFileSync(path, original);
    const records = file.records.map((record, index) => {
      if (index !== target) return record;
      const body = Buffer.from(record.body);
      body[20] = (body[20] as number) ^ 0x01;
      return { ...record, body };
    });
    writeForged(path, file, records);
    const chain = Cartridge.verifyFile(path);
    expect(chain).toMatchObject({ ok: true, assurance: 'chain', stateChecked: false });
    const rechained = Cartridge.verifyFile(path, { publicKey: keys.publicKey, anchor: finalHead });
    expect(rechained.ok).toBe(false);
    expect(rechained.assurance).toBe('chain');
    expect(rechained.code).toBe('HEAD_MISMATCH');
    // With the key, the changed record does not even open.
    const withKey = Cartridge.verifyFile(path, { encryptionKey: key });
    expect(withKey.ok).toBe(false);
  });

  it('catches a rollback to an older copy without the key', () => {
    writeCartridge();
    const records = readForgeable(path);
    const lastSigned = records.records.map((record) => record.type).lastIndexOf(HEAD_SIGNED);
    writeForged(path, records, records.records.slice(0, lastSigned));
    const report = Cartridge.verifyFile(path, { publicKey: keys.publicKey, anchor: finalHead });
    expect(report.ok).toBe(false);
    expect(report.code).toBe('ROLLBACK_DETECTED');
    expect(report.stateChecked).toBe(false);
  });

  it('keeps the Merkle log right after commits and checkpoints that fail to write', () => {
    const storage = createFaultStorage(11);
    const memoryPath = '/faulty.cart';
    const cart = Cartridge.create(memoryPath, { storage, encryptionKey: key });
    for (let round = 0; round < 6; round++) {
      cart.transaction(() => {
        for (let index = 0; index < 7; index++) cart.createFile(`/f${round}-${index}`, `x${index}`);
      });
      // The next write fails: a transaction's commit on even rounds, a checkpoint's on odd ones.
      storage.failOn({ operation: 'write', nth: 1 });
      if (round % 2 === 0) {
        expect(() => cart.createFile(`/failed-${round}`, 'lost')).toThrow();
      } else {
        expect(() => cart.checkpoint()).toThrow();
      }
      storage.clearFailures();
    }
    cart.checkpoint();
    const head = cart.signCheckpoint(keys.privateKey);
    cart.createFile('/last', 'after');
    const report = cart.verify({ publicKey: keys.publicKey, anchor: head });
    expect(report).toMatchObject({ ok: true, stateMatches: true, stateChecked: true });
    cart.close();
    const reopened = Cartridge.open(memoryPath, { storage, encryptionKey: key });
    const again = reopened.verify({ publicKey: keys.publicKey });
    expect(again).toMatchObject({ ok: true, assurance: 'signed', stateMatches: true });
    reopened.close();
  });
});
