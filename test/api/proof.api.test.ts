import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cartridge,
  CartridgeError,
  type RecordProof,
  type SignedHead,
  verifyProof,
} from '../../src/index.js';
import { readForgeable } from '../support/journal-forger.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Inclusion proofs through the public API, on a real file of more than 10 000 records: any
 * record (the genesis, an audit batch, an index page, a checkpoint root, the last one signed,
 * one in a block that was unfinished when signed) is proven under the last signed head, the
 * proof checks without the cartridge and is logarithmic in size, and it fails after any byte
 * of it is flipped or with another key.
 */

const AUDIT_BATCH = 15;
const INDEX_PAGE = 8;
const CHECKPOINT_ROOT = 9;

let directory: string;
let path: string;
let keys: { privateKey: KeyObject; publicKey: KeyObject };
let cart: Cartridge;
let signed: SignedHead;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-proof-'));
  path = join(directory, 'calls.cart');
  keys = generateKeyPairSync('ed25519');
  cart = Cartridge.create(path, {
    audit: true,
    durability: 'off',
    checkpointIntervalBytes: 256 * 1024,
  });
  for (let index = 0; index < 5_100; index++) {
    cart.createFile(`/calls/${index}.txt`, `transcript ${index}`);
  }
  signed = cart.signCheckpoint(keys.privateKey);
  // Records after the signed head: the block the head ended in is now complete.
  for (let index = 0; index < 40; index++) cart.createFile(`/later/${index}.txt`, 'later');
}, 120_000);

afterAll(() => {
  cart.close();
  rmSync(directory, { recursive: true, force: true });
});

function recordOffsets(type: number): number[] {
  return readForgeable(path)
    .records.filter((record) => record.type === type)
    .map((record) => record.offset);
}

describe('Cartridge#proveRecord() and verifyProof()', () => {
  it('signs a head of more than 10 000 records', () => {
    expect(signed.sequence).toBeGreaterThan(10_000);
  });

  it('proves records of every kind, and each proof checks without the cartridge', () => {
    cart.flush();
    const all = readForgeable(path).records;
    const lastSigned = all[signed.sequence - 1];
    const targets = [
      8192,
      recordOffsets(AUDIT_BATCH)[1_234] as number,
      recordOffsets(INDEX_PAGE)[3] as number,
      recordOffsets(CHECKPOINT_ROOT)[1] as number,
      lastSigned?.offset as number,
      all[signed.sequence - 3]?.offset as number,
      all[5_000]?.offset as number,
    ];
    for (const offset of targets) {
      const proof = cart.proveRecord(offset);
      const proven = verifyProof(JSON.parse(JSON.stringify(proof)), keys.publicKey);
      expect(proven.offset).toBe(offset);
      expect(proven.head).toEqual(signed);
      expect(proof.auditPath.length).toBeLessThanOrEqual(Math.ceil(Math.log2(signed.sequence)));
    }
  });

  it('gives the audit entries of a proven batch', () => {
    const entries = cart.audit({ limit: 1 });
    const position = entries[0]?.batch as { offset: number };
    const proof = cart.proveRecord(position);
    const proven = verifyProof(proof, keys.publicKey);
    expect(proven.recordType).toBe(AUDIT_BATCH);
    const [flat] = unpack(proven.body) as [unknown[]];
    expect(flat[1]).toBe(entries[0]?.actor);
    expect(flat[3]).toBe(entries[0]?.path);
  });

  it('accepts a Position as well as an offset', () => {
    const version = cart.history('/calls/77.txt')[0];
    const proof = cart.proveRecord(version?.position as { offset: number });
    expect(verifyProof(proof, keys.publicKey).offset).toBe(version?.offset);
  });

  it('fails after any byte of the proof is flipped', () => {
    const proof = cart.proveRecord(recordOffsets(AUDIT_BATCH)[42] as number);
    const text = JSON.stringify(proof);
    let checked = 0;
    for (let at = 0; at < text.length; at++) {
      const flipped =
        text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(flipped);
      } catch {
        continue;
      }
      let code: string | undefined;
      try {
        verifyProof(parsed, keys.publicKey);
      } catch (error) {
        code = (error as CartridgeError).code;
      }
      expect(['PROOF_INVALID', 'SIGNATURE_INVALID'], `flip at ${at}`).toContain(code);
      checked++;
    }
    expect(checked).toBeGreaterThan(text.length / 2);
  });

  it('fails with another key, and refuses a key that is not Ed25519', () => {
    const proof = cart.proveRecord(8192);
    expectCode(
      () => verifyProof(proof, generateKeyPairSync('ed25519').publicKey),
      'SIGNATURE_INVALID',
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expectCode(() => verifyProof(proof, rsa), 'KEY_INVALID');
  });

  it('refuses proofs with a path too long, or of another shape', () => {
    const proof = cart.proveRecord(8192);
    const long: RecordProof = { ...proof, auditPath: new Array(65).fill('00'.repeat(32)) };
    expectCode(() => verifyProof(long, keys.publicKey), 'PROOF_INVALID');
    expectCode(() => verifyProof({ ...proof, extra: 1 }, keys.publicKey), 'PROOF_INVALID');
    expectCode(() => verifyProof({ ...proof, version: 2 }, keys.publicKey), 'PROOF_INVALID');
    expectCode(() => verifyProof('proof', keys.publicKey), 'PROOF_INVALID');
    expectCode(
      () => verifyProof({ ...proof, sequence: proof.sequence + 1 }, keys.publicKey),
      'PROOF_INVALID',
    );
  });

  it('is NOT_SIGNED for a record after the last signed head, INVALID_ARGUMENT for no record', () => {
    expectCode(() => cart.proveRecord(cart.head - 1), 'INVALID_ARGUMENT');
    const later = cart.history('/later/3.txt')[0];
    expectCode(() => cart.proveRecord(later?.offset as number), 'NOT_SIGNED');
    expectCode(() => cart.proveRecord(8193), 'INVALID_ARGUMENT');
    expectCode(() => cart.proveRecord(-1), 'INVALID_ARGUMENT');
    expectCode(() => cart.proveRecord('8192' as unknown as number), 'INVALID_ARGUMENT');
  });

  it('proves every record of a short history, all in the unfinished first block', () => {
    const memory = Cartridge.memory();
    for (let index = 0; index < 5; index++) memory.createFile(`/${index}`, `${index}`);
    const head = memory.signCheckpoint(keys.privateKey);
    const offsets = [
      8192,
      ...[0, 1, 2, 3, 4].map((index) => memory.history(`/${index}`)[0]?.offset),
    ];
    for (const offset of offsets) {
      const proven = verifyProof(memory.proveRecord(offset as number), keys.publicKey);
      expect(proven.head).toEqual(head);
    }
    memory.close();
  });

  it('is NOT_SIGNED on a cartridge that never signed a head', () => {
    const memory = Cartridge.memory();
    memory.createFile('/a', 'a');
    expectCode(() => memory.proveRecord(8192), 'NOT_SIGNED');
    memory.close();
  });

  it('keeps proving after reopen (from a checkpoint), and proves under a newer head once signed', () => {
    cart.close();
    cart = Cartridge.open(path);
    expect(verifyProof(cart.proveRecord(8192), keys.publicKey).head).toEqual(signed);
    const newer = cart.signCheckpoint(keys.privateKey);
    const later = cart.history('/later/3.txt')[0];
    const proven = verifyProof(cart.proveRecord(later?.offset as number), keys.publicKey);
    expect(proven.head).toEqual(newer);
    expect(cart.verify({ publicKey: keys.publicKey }).assurance).toBe('signed');
  });

  it('signCheckpoint refuses a key that is not Ed25519, and exportHead matches the signed head', () => {
    const x25519 = generateKeyPairSync('x25519').privateKey;
    expectCode(() => cart.signCheckpoint(x25519), 'KEY_INVALID');
    const head = cart.exportHead();
    const report = cart.verify({ publicKey: keys.publicKey, anchor: head });
    expect(report.assurance).toBe('anchored');
    expect(report.headHash).toBe(head.headHash);
    expect(report.merkleRoot).toBe(head.merkleRoot);
  });

  it('is refused inside a transaction', () => {
    cart.transaction(() => {
      expectCode(() => cart.signCheckpoint(keys.privateKey), 'INVALID_ARGUMENT');
      expectCode(() => cart.proveRecord(8192), 'INVALID_ARGUMENT');
      expectCode(() => cart.exportHead(), 'INVALID_ARGUMENT');
    });
  });

  it('keeps CartridgeError as the one error class', () => {
    try {
      verifyProof({}, keys.publicKey);
    } catch (error) {
      expect(error).toBeInstanceOf(CartridgeError);
    }
  });
});
