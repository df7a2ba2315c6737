import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, verifyProof } from '../../src/index.js';

/**
 * The Merkle log of an encrypted cartridge folds a sealed record with a placeholder leaf, filled
 * once the record is sealed, and folds again only when a block of leaves was completed while a
 * placeholder was in it (see `MerkleLog.settle`). These commits put the block boundary at every
 * place a commit can have it: inside a commit of several records, at the last record of a
 * single-record commit, at the first record after one, and among a checkpoint's pages. Each
 * time the log must be what a replay of the stored records gives: the signed root, the
 * anchored head, the proofs and the Merkle nodes in the index (`stateMatches`).
 */

const BLOCK_LEAVES = 64;

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-sealed-merkle-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe.each(['aes-256-gcm', 'chacha20-poly1305'] as const)(
  'the Merkle log of sealed records (%s)',
  (cipher) => {
    it('matches a replay whatever record of a commit completes a block', () => {
      const keys = generateKeyPairSync('ed25519');
      const key = randomBytes(32);
      const path = join(directory, 'merkle.cart');
      const cart = Cartridge.create(path, { encryptionKey: key, cipher });
      const put = (file: string, content: string): void => {
        if (cart.exists(file)) cart.writeFile(file, content);
        else cart.createFile(file, content);
      };
      const check = (label: string): void => {
        const head = cart.signCheckpoint(keys.privateKey);
        const report = cart.verify({ publicKey: keys.publicKey, anchor: head });
        expect({ label, ...report }).toMatchObject({
          label,
          ok: true,
          assurance: 'anchored',
          stateChecked: true,
          stateMatches: true,
        });
      };
      // Single-record commits over three block boundaries: most settle inside a block, one in
      // every 64 completes its block with its own (placeholder) leaf.
      for (let index = 0; index < 3 * BLOCK_LEAVES + 5; index++) {
        put(`/single-${index % 9}.txt`, `single ${index}`);
      }
      check('single-record commits');
      // Commits of three records: some straddle a boundary, with the block completed by their
      // first or second record and a placeholder leaf after it.
      for (let round = 0; round < 50; round++) {
        cart.transaction(() => {
          for (let index = 0; index < 3; index++) {
            put(`/triple-${round % 5}-${index}.txt`, `triple ${round} ${index}`);
          }
        });
        if (round % 7 === 0) cart.checkpoint();
      }
      check('three-record commits and checkpoints');
      const positions = cart.history('/single-0.txt').map((version) => version.position);
      const head = cart.signCheckpoint(keys.privateKey);
      for (const position of positions) {
        const proven = verifyProof(cart.proveRecord(position), keys.publicKey);
        expect(proven.offset).toBe(position.offset);
        expect(proven.head).toEqual(head);
      }
      cart.close();
      const reopened = Cartridge.open(path, { encryptionKey: key });
      expect(reopened.verify({ publicKey: keys.publicKey, anchor: head })).toMatchObject({
        ok: true,
        stateMatches: true,
      });
      reopened.close();
    });
  },
);
