import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';

/**
 * The catalog index at a size where it has several levels: random file operations (appends
 * that trigger consolidation among them), checkpoints, trickled pages, aborted transactions and
 * reopens, compared with a reference model after every reopen. At the end, `verify()` replays
 * the journal from the genesis into a fresh in-memory index, which must equal the one the
 * incremental checkpoints wrote, page for page (`stateMatches`): the same keys in the same
 * pages, whatever was flushed when. `PROPERTY_RUNS` / `PROPERTY_SEED` as elsewhere.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '60', 10) || 60;
const RUNS = Math.max(3, Math.round(NUM_RUNS / 10));
const SEED = process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

const directory = mkdtempSync(join(tmpdir(), 'cartridge-index-replay-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** Every other one is created first: enough dirty index pages that commits trickle some. */
const PREFILL_FILES = 6000;

type Op =
  | { kind: 'create' | 'write' | 'append'; file: number; bytes: number }
  | { kind: 'delete'; file: number }
  | { kind: 'appendMany'; file: number; count: number }
  | { kind: 'abortedTransaction'; files: number[] }
  | { kind: 'checkpoint' | 'reopen' };

const file = fc.nat({ max: PREFILL_FILES + 300 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('create' as const, 'write' as const, 'append' as const), file, bytes: fc.nat({ max: 3000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), file }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('appendMany' as const), file, count: fc.integer({ min: 50, max: 1200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abortedTransaction' as const), files: fc.array(file, { maxLength: 20 }) }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'checkpoint' as const }, { kind: 'reopen' as const }) },
);

function pathOf(index: number): string {
  return `/dir${index % 37}/file-${index.toString().padStart(5, '0')}`;
}

function contentOf(index: number, bytes: number, salt: number): Buffer {
  const content = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at++) content[at] = (index * 31 + at * 7 + salt) & 0xff;
  return content;
}

function run(cart: Cartridge, model: Map<string, Buffer>, step: Op, salt: number): void {
  switch (step.kind) {
    case 'create': {
      const path = pathOf(step.file);
      if (model.has(path)) return;
      const content = contentOf(step.file, step.bytes, salt);
      cart.createFile(path, content);
      model.set(path, content);
      return;
    }
    case 'write': {
      const path = pathOf(step.file);
      if (!model.has(path)) return;
      const content = contentOf(step.file, step.bytes, salt);
      cart.writeFile(path, content);
      model.set(path, content);
      return;
    }
    case 'append': {
      const path = pathOf(step.file);
      const before = model.get(path);
      if (before === undefined) return;
      const content = contentOf(step.file, step.bytes, salt);
      cart.appendFile(path, content);
      model.set(path, Buffer.concat([before, content]));
      return;
    }
    case 'appendMany': {
      // Small appends, some alone and some batched: enough of them to be consolidated.
      const path = pathOf(step.file);
      let content = model.get(path);
      if (content === undefined) return;
      for (let line = 0; line < step.count; line++) {
        const text = Buffer.from(`line ${line} of ${path} at ${salt}\n`);
        if (line % 3 === 0) {
          cart.transaction(() => {
            cart.appendFile(path, text);
            cart.appendFile(path, text);
          });
          content = Buffer.concat([content, text, text]);
        } else {
          cart.appendFile(path, text);
          content = Buffer.concat([content, text]);
        }
      }
      model.set(path, content);
      return;
    }
    case 'delete': {
      const path = pathOf(step.file);
      if (!model.has(path)) return;
      cart.deleteFile(path);
      model.delete(path);
      return;
    }
    case 'abortedTransaction': {
      expect(() =>
        cart.transaction(() => {
          for (const index of step.files) {
            const path = pathOf(index);
            if (cart.exists(path)) cart.deleteFile(path);
            else cart.createFile(path, contentOf(index, 100, salt));
          }
          throw new Error('abort');
        }),
      ).toThrow('abort');
      return;
    }
    case 'checkpoint':
      cart.checkpoint();
      return;
    case 'reopen':
      return;
  }
}

function compare(cart: Cartridge, model: Map<string, Buffer>): void {
  expect(cart.stats().fileCount).toBe(model.size);
  for (const [path, content] of model) expect(cart.readFile(path).equals(content), path).toBe(true);
  const listed: string[] = [];
  for (const name of cart.listDir('/')) for (const child of cart.listDir(`/${name}`)) listed.push(`/${name}/${child}`);
  expect(listed.sort()).toEqual([...model.keys()].sort());
}

describe('catalog index replay', () => {
  it('gives the pages the incremental checkpoints wrote when replayed from the genesis', () => {
    let runIndex = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 60 }), (ops) => {
        const path = join(directory, `run-${runIndex++}.cart`);
        const options = { durability: 'off' as const, checkpointIntervalBytes: 512 * 1024, indexCacheBytes: 64 * 1024 };
        let cart = Cartridge.create(path, options);
        const model = new Map<string, Buffer>();
        try {
          cart.transaction(() => {
            for (let index = 0; index < PREFILL_FILES; index += 2) {
              const content = contentOf(index, 40, 0);
              cart.createFile(pathOf(index), content);
              model.set(pathOf(index), content);
            }
          });
          ops.forEach((step, salt) => {
            run(cart, model, step, salt + 1);
            if (step.kind === 'reopen') {
              cart.close();
              cart = Cartridge.open(path, options);
              compare(cart, model);
            }
          });
          compare(cart, model);
          const report = cart.verify();
          expect(report.ok).toBe(true);
          expect(report.stateMatches).toBe(true);
          cart.close();
          cart = Cartridge.open(path, options);
          expect(cart.verify().stateMatches).toBe(true);
          compare(cart, model);
        } finally {
          cart.close();
          rmSync(path, { force: true });
        }
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
