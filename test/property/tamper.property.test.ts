import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cartridge, type ExportedHead } from '../../src/index.js';
import { type ForgeableRecord, readForgeable, writeForged } from '../support/journal-forger.js';

/**
 * Random rewrites by an attacker who recomputes every CRC and the whole chain (see
 * `journal-forger.ts`): one record before the signed head deleted, duplicated, swapped with
 * another or given a flipped body byte. Whatever the rewrite, `verify` must never reach
 * `'signed'` with the key nor `'anchored'` against the head kept, and a rewrite that changes
 * nothing must pass both. `PROPERTY_RUNS` and `PROPERTY_SEED` as in the other property tests;
 * the seed is printed on failure by fast-check.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '25', 10) || 25;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

let directory: string;
let original: string;
let keys: { privateKey: KeyObject; publicKey: KeyObject };
let finalHead: ExportedHead;
let signedIndex: number;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-tamper-property-'));
  original = join(directory, 'original.cart');
  keys = generateKeyPairSync('ed25519');
  const cart = Cartridge.create(original, { audit: true, checkpointIntervalBytes: 64 << 20 });
  cart.createFile('/calls/1.txt', 'hello');
  for (let index = 0; index < 12; index++) cart.createSnapshot(`s-${index}`);
  cart.signCheckpoint(keys.privateKey);
  cart.createSnapshot('after');
  finalHead = cart.exportHead();
  cart.close();
  signedIndex = readForgeable(original).records.findIndex((record) => record.type === 17);
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

type Rewrite =
  | { readonly kind: 'none' }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'duplicate'; readonly at: number }
  | { readonly kind: 'swap'; readonly at: number; readonly other: number }
  | { readonly kind: 'flip'; readonly at: number; readonly byte: number; readonly bit: number };

function rewriteArbitrary(): fc.Arbitrary<Rewrite> {
  // Record 0 is the genesis; everything from it up to the signed head may be attacked.
  const at = fc.nat({ max: 1_000 });
  return fc.oneof(
    fc.constant({ kind: 'none' as const }),
    fc.record({ kind: fc.constant('delete' as const), at }),
    fc.record({ kind: fc.constant('duplicate' as const), at }),
    fc.record({ kind: fc.constant('swap' as const), at, other: at }),
    fc.record({
      kind: fc.constant('flip' as const),
      at,
      byte: fc.nat({ max: 10_000 }),
      bit: fc.nat({ max: 7 }),
    }),
  );
}

function apply(records: ForgeableRecord[], rewrite: Rewrite): void {
  if (rewrite.kind === 'none') return;
  const at = rewrite.at % signedIndex;
  const record = records[at] as ForgeableRecord;
  if (rewrite.kind === 'delete') records.splice(at, 1);
  if (rewrite.kind === 'duplicate') records.splice(at, 0, record);
  if (rewrite.kind === 'swap') {
    const other = rewrite.other % signedIndex;
    records[at] = records[other] as ForgeableRecord;
    records[other] = record;
  }
  if (rewrite.kind === 'flip' && record.body.length > 0) {
    const body = Buffer.from(record.body);
    const byte = rewrite.byte % body.length;
    body[byte] = (body[byte] as number) ^ (1 << rewrite.bit);
    records[at] = { ...record, body };
  }
}

function sameRecords(left: readonly ForgeableRecord[], right: readonly ForgeableRecord[]): boolean {
  return (
    left.length === right.length &&
    left.every((record, index) => {
      const other = right[index] as ForgeableRecord;
      return (
        record.type === other.type &&
        record.flags === other.flags &&
        record.body.equals(other.body) &&
        record.storedBlob.equals(other.storedBlob)
      );
    })
  );
}

describe('tamper evidence (property)', () => {
  it('never reaches signed or anchored after a rewrite, and always does without one', () => {
    let run = 0;
    fc.assert(
      fc.property(rewriteArbitrary(), (rewrite) => {
        const path = join(directory, `forged-${run++}.cart`);
        copyFileSync(original, path);
        const file = readForgeable(path);
        const records = [...file.records];
        apply(records, rewrite);
        writeForged(path, file, records);
        const signed = Cartridge.verifyFile(path, { publicKey: keys.publicKey });
        const anchored = Cartridge.verifyFile(path, { anchor: finalHead });
        if (sameRecords(records, file.records)) {
          expect(signed.assurance).toBe('signed');
          expect(anchored.assurance).toBe('anchored');
        } else {
          expect(signed.ok).toBe(false);
          expect(signed.assurance === 'none' || signed.assurance === 'chain').toBe(true);
          expect(anchored.ok).toBe(false);
          expect(anchored.assurance === 'none' || anchored.assurance === 'chain').toBe(true);
        }
        rmSync(path);
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });
});
