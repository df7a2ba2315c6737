import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';

/**
 * `patchFile`: byte ranges replaced in place as one `file.patched` record. A model Buffer gets
 * the same patches; the file must equal it before and after reopening (replay of the record),
 * and the version chain, history and a checkout must see the patch as a write.
 */

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-patch-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

function applyModel(
  model: Buffer,
  patches: { offsetBytes: number; content: Buffer }[],
  sizeBytes: number,
): Buffer {
  const next = Buffer.alloc(sizeBytes);
  model.copy(next, 0, 0, Math.min(model.length, sizeBytes));
  for (const patch of patches) patch.content.copy(next, patch.offsetBytes);
  return next;
}

describe('patchFile', () => {
  it('replaces pages in place, survives reopen, and only writes the bytes given', () => {
    const path = join(directory, 'a.cart');
    const cart = Cartridge.create(path);
    const base = Buffer.alloc(4096 * 8, 1);
    cart.createFile('/db', base);
    const journalBefore = cart.stats().journalBytes;
    const page = Buffer.alloc(4096, 7);
    cart.patchFile('/db', [{ offsetBytes: 4096 * 3, content: page }]);
    expect(cart.stats().journalBytes - journalBefore).toBeLessThan(4096 * 2);
    const expected = Buffer.from(base);
    page.copy(expected, 4096 * 3);
    expect(cart.readFile('/db').equals(expected)).toBe(true);
    expect(cart.readFile('/db', { start: 4096 * 3, end: 4096 * 4 }).equals(page)).toBe(true);
    expect(cart.history('/db').map((version) => version.change)).toEqual(['written', 'created']);
    cart.close();
    const reopened = Cartridge.open(path);
    expect(reopened.readFile('/db').equals(expected)).toBe(true);
    reopened.close();
  });

  it('refuses holes and overlapping patches with EINVAL', () => {
    const cart = Cartridge.create(join(directory, 'b.cart'));
    cart.createFile('/db', Buffer.alloc(4096));
    expect(() =>
      cart.patchFile('/db', [{ offsetBytes: 8192, content: Buffer.alloc(4096) }]),
    ).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() =>
      cart.patchFile('/db', [
        { offsetBytes: 0, content: Buffer.alloc(100) },
        { offsetBytes: 50, content: Buffer.alloc(100) },
      ]),
    ).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    cart.close();
  });

  it('matches a model under random patches, cuts and growth, across reopen', () => {
    const run = fc.record({
      initialBytes: fc.integer({ min: 0, max: 20_000 }),
      steps: fc.array(
        fc.record({
          sizeDelta: fc.integer({ min: -6000, max: 9000 }),
          patches: fc.array(
            fc.record({
              gap: fc.nat(5000),
              lengthBytes: fc.integer({ min: 1, max: 5000 }),
              fill: fc.nat(255),
            }),
            {
              maxLength: 5,
            },
          ),
          reopen: fc.boolean(),
        }),
        { maxLength: 12 },
      ),
    });
    let round = 0;
    fc.assert(
      fc.property(run, ({ initialBytes, steps }) => {
        const path = join(directory, `m${round++}.cart`);
        let cart = Cartridge.create(path);
        let model: Buffer = Buffer.alloc(initialBytes, 3);
        cart.createFile('/f', model);
        for (const step of steps) {
          const sizeBytes = Math.max(0, model.length + step.sizeDelta);
          const patches: { offsetBytes: number; content: Buffer }[] = [];
          let position = 0;
          for (const piece of step.patches) {
            const offsetBytes = Math.min(
              position + piece.gap,
              Math.min(model.length, sizeBytes),
              sizeBytes,
            );
            const lengthBytes = Math.min(piece.lengthBytes, sizeBytes - offsetBytes);
            if (offsetBytes < position || lengthBytes <= 0) break;
            patches.push({ offsetBytes, content: Buffer.alloc(lengthBytes, piece.fill) });
            position = offsetBytes + lengthBytes;
          }
          // Growth beyond the old size must be covered: the last patch reaches the new size.
          const covered = Math.max(Math.min(model.length, sizeBytes), position);
          if (covered < sizeBytes) {
            patches.push({ offsetBytes: covered, content: Buffer.alloc(sizeBytes - covered, 9) });
          }
          cart.patchFile('/f', patches, { sizeBytes });
          model = applyModel(model, patches, sizeBytes);
          expect(cart.readFile('/f').equals(model)).toBe(true);
          if (step.reopen) {
            cart.close();
            cart = Cartridge.open(path);
            expect(cart.readFile('/f').equals(model)).toBe(true);
          }
        }
        expect(cart.verify().ok).toBe(true);
        cart.close();
      }),
      { numRuns: 40 },
    );
  });
});
