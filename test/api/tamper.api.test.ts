import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../src/journal/event-codec.js';
import {
  Cartridge,
  type ExportedHead,
  type SignedHead,
  type VerifyOptions,
  type VerifyReport,
} from '../../src/index.js';
import {
  type ForgeableFile,
  type ForgeableRecord,
  fixChecksumsInPlace,
  readForgeable,
  writeForged,
} from '../support/journal-forger.js';
import { expectCode } from '../support/expect-code.js';

/**
 * The tamper suite: a real cartridge file, signed part-way, then edited, cut, reordered,
 * added to, truncated and replaced by an older copy, by an attacker who recomputes every CRC
 * and the whole hash chain but has no signing key (`journal-forger.ts`). Each attack must be
 * reported at exactly the level that can detect it, and no report may claim more than it
 * checked: the chain level catches edits that were not re-chained; the signed level catches
 * re-chained forgeries and cuts before the last signed head; the anchored level catches
 * rollback and forks against a head the caller kept.
 */

const SNAPSHOT_CREATED = 11;
const HEAD_SIGNED = 17;

let directory: string;
let path: string;
let keys: { privateKey: KeyObject; publicKey: KeyObject };
/** What the test kept elsewhere: the signed head and the final head. */
let signed: SignedHead;
let finalHead: ExportedHead;

function snapshotEvent(name: string): Buffer {
  return encodeEvent({ type: 'snapshot.created', name, atMs: 1, description: null });
}

/**
 * A small audited cartridge without checkpoints (so that it opens by replay, as a forged file
 * would): a file, ten snapshots, a signed head, five more snapshots.
 */
function writeCartridge(): void {
  const cart = Cartridge.create(path, { audit: true, checkpointIntervalBytes: 64 * 1024 * 1024 });
  cart.createFile('/calls/1.txt', 'caller: hello');
  for (let index = 0; index < 10; index++) cart.createSnapshot(`before-${index}`);
  signed = cart.signCheckpoint(keys.privateKey);
  for (let index = 0; index < 5; index++) cart.createSnapshot(`after-${index}`);
  cart.close();
}

function exportedHeadOf(file: string): ExportedHead {
  const cart = Cartridge.open(file, { readOnly: true });
  try {
    return cart.exportHead();
  } finally {
    cart.close();
  }
}

function verify(options: VerifyOptions = {}): VerifyReport {
  return Cartridge.verifyFile(path, options);
}

/** The index of the record of type `type` whose body mentions `text`. */
function indexOf(file: ForgeableFile, type: number, text: string): number {
  const index = file.records.findIndex(
    (record) => record.type === type && record.body.includes(Buffer.from(text)),
  );
  expect(index).toBeGreaterThan(0);
  return index;
}

function signedIndex(file: ForgeableFile): number {
  return file.records.findIndex((record) => record.type === HEAD_SIGNED);
}

/** Re-frames the file with `change` applied to its records (CRCs and chain all recomputed). */
function forge(change: (records: ForgeableRecord[], file: ForgeableFile) => void): void {
  const file = readForgeable(path);
  const records = [...file.records];
  change(records, file);
  writeForged(path, file, records);
}

function expectReport(
  report: VerifyReport,
  expected: { ok: boolean; assurance: VerifyReport['assurance']; code: string | null },
): void {
  expect({ ok: report.ok, assurance: report.assurance, code: report.code }).toEqual(expected);
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-tamper-'));
  path = join(directory, 'trail.cart');
  keys = generateKeyPairSync('ed25519');
  writeCartridge();
  finalHead = exportedHeadOf(path);
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('Cartridge.verifyFile() on an untouched file', () => {
  it('reaches every level it is asked for, and no more', () => {
    expectReport(verify(), { ok: true, assurance: 'chain', code: null });
    const signedReport = verify({ publicKey: keys.publicKey });
    expectReport(signedReport, { ok: true, assurance: 'signed', code: null });
    expect(signedReport.signedHead).toEqual(signed);
    expectReport(verify({ publicKey: keys.publicKey, anchor: finalHead }), {
      ok: true,
      assurance: 'anchored',
      code: null,
    });
    expectReport(verify({ anchor: signed }), { ok: true, assurance: 'anchored', code: null });
  });

  it('tells its progress through the journal, ending at the whole of it', () => {
    const told: { bytesChecked: number; bytesTotal: number }[] = [];
    expectReport(verify({ onProgress: (progress) => told.push(progress) }), {
      ok: true,
      assurance: 'chain',
      code: null,
    });
    expect(told.length).toBeGreaterThan(0);
    const last = told[told.length - 1] as { bytesChecked: number; bytesTotal: number };
    expect(last.bytesChecked).toBe(last.bytesTotal);
    expect(last.bytesTotal).toBe(statSync(path).size);
    for (let index = 1; index < told.length; index++) {
      expect(told[index]?.bytesChecked).toBeGreaterThanOrEqual(told[index - 1]?.bytesChecked ?? 0);
    }
    const opened = Cartridge.open(path);
    const fromHandle: number[] = [];
    expect(opened.verify({ onProgress: (progress) => fromHandle.push(progress.bytesChecked) }).ok)
      .toBe(true);
    expect(fromHandle[fromHandle.length - 1]).toBe(opened.head);
    expectCode(
      () => opened.verify({ onProgress: 'yes' as unknown as () => void }),
      'INVALID_ARGUMENT',
    );
    opened.close();
  });

  it('does not count heads signed by another key', () => {
    const other = generateKeyPairSync('ed25519').publicKey;
    expectReport(verify({ publicKey: other }), {
      ok: false,
      assurance: 'chain',
      code: 'NOT_SIGNED',
    });
  });

  it('refuses a key that is not Ed25519 and an anchor that is not a head', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expectCode(() => verify({ publicKey: rsa }), 'KEY_INVALID');
    expectCode(
      () => verify({ anchor: { sequence: 3 } as unknown as ExportedHead }),
      'INVALID_ARGUMENT',
    );
  });
});

describe('tampering without recomputing the chain', () => {
  it('catches an edited body byte at the chain level, at its offset', () => {
    const file = readForgeable(path);
    const target = file.records[indexOf(file, SNAPSHOT_CREATED, 'before-3')] as ForgeableRecord;
    const bytes = readFileSync(path);
    const at = target.offset + 44 + target.body.indexOf(Buffer.from('before-3'));
    bytes[at] = (bytes[at] as number) ^ 0x20;
    writeFileSync(path, bytes);
    const report = verify({ publicKey: keys.publicKey, anchor: finalHead });
    expectReport(report, { ok: false, assurance: 'none', code: 'JOURNAL_CORRUPT' });
    expect(report.firstBadOffset).toBe(target.offset);
  });

  it('catches an edit before a checkpoint, which open alone never reads', () => {
    const cart = Cartridge.open(path);
    cart.checkpoint();
    cart.createSnapshot('after-the-checkpoint');
    cart.close();
    const file = readForgeable(path);
    const target = file.records[indexOf(file, SNAPSHOT_CREATED, 'before-3')] as ForgeableRecord;
    const bytes = readFileSync(path);
    const at = target.offset + 44 + target.body.indexOf(Buffer.from('before-3'));
    bytes[at] = (bytes[at] as number) ^ 0x20;
    writeFileSync(path, bytes);
    Cartridge.open(path).close();
    const report = verify();
    expectReport(report, { ok: false, assurance: 'none', code: 'JOURNAL_CORRUPT' });
    expect(report.firstBadOffset).toBe(target.offset);
  });

  it('catches an edit whose CRCs were fixed at the record after it (the link breaks)', () => {
    const file = readForgeable(path);
    const index = indexOf(file, SNAPSHOT_CREATED, 'before-3');
    const target = file.records[index] as ForgeableRecord;
    const bytes = readFileSync(path);
    const at = target.offset + 44 + target.body.indexOf(Buffer.from('before-3'));
    bytes[at] = (bytes[at] as number) ^ 0x20;
    fixChecksumsInPlace(bytes, target.offset);
    writeFileSync(path, bytes);
    const report = verify();
    expectReport(report, { ok: false, assurance: 'none', code: 'JOURNAL_CORRUPT' });
    expect(report.firstBadOffset).toBe((file.records[index + 1] as ForgeableRecord).offset);
  });
});

describe('tampering by an attacker who recomputes every CRC and the whole chain', () => {
  function expectCaughtOnlyWhenSigned(anchorCode: string): void {
    expectReport(verify(), { ok: true, assurance: 'chain', code: null });
    const signedReport = verify({ publicKey: keys.publicKey });
    expectReport(signedReport, { ok: false, assurance: 'chain', code: 'HEAD_MISMATCH' });
    expect(signedReport.firstBadOffset).toBe(
      readForgeable(path).records[signedIndex(readForgeable(path))]?.offset,
    );
    expectReport(verify({ anchor: finalHead }), {
      ok: false,
      assurance: 'chain',
      code: anchorCode,
    });
  }

  it('edit before the signed head: chain passes, signed and anchored catch it', () => {
    forge((records, file) => {
      const index = indexOf(file, SNAPSHOT_CREATED, 'before-3');
      const record = records[index] as ForgeableRecord;
      records[index] = { ...record, body: snapshotEvent('edited-3') };
    });
    expectCaughtOnlyWhenSigned('FORK_DETECTED');
  });

  it('deletion before the signed head: chain passes, signed and anchored catch it', () => {
    forge((records, file) => {
      records.splice(indexOf(file, SNAPSHOT_CREATED, 'before-4'), 1);
    });
    expectCaughtOnlyWhenSigned('ROLLBACK_DETECTED');
  });

  it('reordering before the signed head: chain passes, signed and anchored catch it', () => {
    forge((records, file) => {
      const first = indexOf(file, SNAPSHOT_CREATED, 'before-2');
      const second = indexOf(file, SNAPSHOT_CREATED, 'before-6');
      const a = records[first] as ForgeableRecord;
      const b = records[second] as ForgeableRecord;
      records[first] = b;
      records[second] = a;
    });
    expectCaughtOnlyWhenSigned('FORK_DETECTED');
  });

  it('insertion of a forged record before the signed head: signed and anchored catch it', () => {
    forge((records, file) => {
      const index = indexOf(file, SNAPSHOT_CREATED, 'before-5');
      const model = records[index] as ForgeableRecord;
      records.splice(index, 0, { ...model, body: snapshotEvent('forged') });
    });
    expectCaughtOnlyWhenSigned('FORK_DETECTED');
  });

  it('an edit with the signed head rewritten to match: the signature fails', () => {
    forge((records, file) => {
      const index = indexOf(file, SNAPSHOT_CREATED, 'before-3');
      records[index] = { ...(records[index] as ForgeableRecord), body: snapshotEvent('edited-3') };
    });
    // The attacker now copies the recomputed head into the head.signed body, keeping the
    // signature it cannot remake: sequence, offset, chain hash and Merkle root all match.
    const forgedHead = exportedHeadAt(signedIndex(readForgeable(path)));
    forge((records, file) => {
      const index = signedIndex(file);
      const record = records[index] as ForgeableRecord;
      records[index] = {
        ...record,
        body: encodeEvent({
          type: 'head.signed',
          sequence: forgedHead.sequence,
          offset: forgedHead.offset,
          headHash: Buffer.from(forgedHead.headHash, 'hex'),
          merkleRoot: Buffer.from(forgedHead.merkleRoot, 'hex'),
          publicKey: Buffer.from(signed.publicKey, 'hex'),
          signature: Buffer.from(signed.signature, 'hex'),
        }),
      };
    });
    expectReport(verify(), { ok: true, assurance: 'chain', code: null });
    const report = verify({ publicKey: keys.publicKey });
    expectReport(report, { ok: false, assurance: 'chain', code: 'SIGNATURE_INVALID' });
    expect(report.firstBadOffset).toBe(forgedHead.offset);
  });

  it('a head.signed record forged without the key: the signature fails', () => {
    forge((records, file) => {
      const index = signedIndex(file);
      const record = records[index] as ForgeableRecord;
      const body = Buffer.from(record.body);
      body[body.length - 1] = (body[body.length - 1] as number) ^ 1;
      records[index] = { ...record, body };
    });
    expectReport(verify({ publicKey: keys.publicKey }), {
      ok: false,
      assurance: 'chain',
      code: 'SIGNATURE_INVALID',
    });
  });

  it('truncation of the unsigned tail: signed still holds (it covers what it signed); anchored catches it', () => {
    forge((records) => {
      records.splice(records.length - 4, 4);
    });
    const report = verify({ publicKey: keys.publicKey });
    expectReport(report, { ok: true, assurance: 'signed', code: null });
    expect(report.signedHead?.sequence).toBe(signed.sequence);
    expectReport(verify({ publicKey: keys.publicKey, anchor: finalHead }), {
      ok: false,
      assurance: 'signed',
      code: 'ROLLBACK_DETECTED',
    });
  });

  it('truncation before the last signed head: signed catches it (no signed head is left)', () => {
    forge((records, file) => {
      records.splice(signedIndex(file) - 2);
    });
    expectReport(verify(), { ok: true, assurance: 'chain', code: null });
    expectReport(verify({ publicKey: keys.publicKey }), {
      ok: false,
      assurance: 'chain',
      code: 'NOT_SIGNED',
    });
    expectReport(verify({ anchor: signed }), {
      ok: false,
      assurance: 'chain',
      code: 'ROLLBACK_DETECTED',
    });
  });

  /** The head the chain would have right before record `index` (as the attacker computes it). */
  function exportedHeadAt(index: number): ExportedHead {
    const copy = join(directory, 'prefix.cart');
    copyFileSync(path, copy);
    const file = readForgeable(copy);
    writeForged(copy, file, file.records.slice(0, index));
    return exportedHeadOf(copy);
  }
});

describe('rollback and forks', () => {
  it('an older genuine copy passes signed, and only an anchor catches the rollback', () => {
    const old = join(directory, 'old.cart');
    copyFileSync(path, old);
    const cart = Cartridge.open(path);
    cart.createSnapshot('later');
    const newer = cart.signCheckpoint(keys.privateKey);
    cart.close();
    copyFileSync(old, path);
    expectReport(verify({ publicKey: keys.publicKey }), {
      ok: true,
      assurance: 'signed',
      code: null,
    });
    expectReport(verify({ publicKey: keys.publicKey, anchor: newer }), {
      ok: false,
      assurance: 'signed',
      code: 'ROLLBACK_DETECTED',
    });
  });

  it('a fork (an older copy continued differently) is caught against the anchor', () => {
    const old = join(directory, 'old.cart');
    copyFileSync(path, old);
    const cart = Cartridge.open(path);
    cart.createSnapshot('the real one');
    cart.close();
    const anchor = exportedHeadOf(path);
    copyFileSync(old, path);
    const fork = Cartridge.open(path);
    fork.createSnapshot('the other one');
    fork.close();
    const report = verify({ publicKey: keys.publicKey, anchor });
    expectReport(report, { ok: false, assurance: 'signed', code: 'FORK_DETECTED' });
  });

  it('a head of another cartridge is not an anchor for this one', () => {
    const otherPath = join(directory, 'other.cart');
    Cartridge.create(otherPath).close();
    expectReport(verify({ anchor: exportedHeadOf(otherPath) }), {
      ok: false,
      assurance: 'chain',
      code: 'FORK_DETECTED',
    });
  });

  it('a tampered anchor signature is refused when a key is given', () => {
    const bad = { ...signed, signature: '00'.repeat(64) };
    expectReport(verify({ publicKey: keys.publicKey, anchor: bad }), {
      ok: false,
      assurance: 'signed',
      code: 'SIGNATURE_INVALID',
    });
  });

  it('verifies a file a writer holds open, without taking its lock', () => {
    const cart = Cartridge.open(path);
    try {
      expectReport(verify({ publicKey: keys.publicKey }), {
        ok: true,
        assurance: 'signed',
        code: null,
      });
    } finally {
      cart.close();
    }
  });

  it('reports a closed file cut short (header not fixed) as damage at the chain level', () => {
    truncateSync(path, readFileSync(path).length - 3);
    const report = verify({ publicKey: keys.publicKey });
    expectReport(report, { ok: false, assurance: 'none', code: 'JOURNAL_CORRUPT' });
  });
});
