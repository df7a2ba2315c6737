import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * `Cartridge.repair` on real files: a clean file is left alone, a torn tail is cut, and damage
 * inside the durable journal is salvaged into a new file while the original stays byte for
 * byte as it was.
 */

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-repair-'));
});

afterEach(() => rmSync(directory, { recursive: true, force: true }));

/** A cartridge with three commits of files; returns the offset each commit ended at. */
function build(path: string): number[] {
  const cartridge = Cartridge.create(path, { durability: 'full' });
  const heads: number[] = [];
  cartridge.createFile('/first/a.txt', 'a'.repeat(3000));
  heads.push(cartridge.head);
  cartridge.createFile('/second/b.txt', 'b'.repeat(3000));
  heads.push(cartridge.head);
  cartridge.createFile('/third/c.txt', 'c'.repeat(3000));
  heads.push(cartridge.head);
  cartridge.close();
  return heads;
}

describe('Cartridge.repair', () => {
  it('leaves a clean file alone', () => {
    const path = join(directory, 'clean.cart');
    build(path);
    const before = readFileSync(path);
    expect(Cartridge.repair(path)).toMatchObject({
      action: 'none',
      outputPath: null,
      droppedBytes: 0,
    });
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('cuts a torn tail', () => {
    const path = join(directory, 'torn.cart');
    build(path);
    const sizeBytes = statSync(path).size;
    appendFileSync(path, Buffer.from('a half-written record that never committed'));
    const report = Cartridge.repair(path);
    expect(report.action).toBe('tail-cut');
    expect(report.droppedBytes).toBeGreaterThan(0);
    expect(statSync(path).size).toBe(sizeBytes);
    const reopened = Cartridge.open(path);
    expect(reopened.recovery.decision).toBe('accept');
    expect(reopened.readFile('/third/c.txt').length).toBe(3000);
    reopened.close();
  });

  it('salvages the valid prefix of a file damaged inside, never changing the original', () => {
    const path = join(directory, 'damaged.cart');
    const heads = build(path);
    const bytes = readFileSync(path);
    // A byte inside the second commit's content: durable data, not a torn tail.
    const damageAt = (heads[0] as number) + 100;
    bytes[damageAt] = (bytes[damageAt] as number) ^ 0x55;
    writeFileSync(path, bytes);
    expectCode(() => Cartridge.open(path), 'JOURNAL_CORRUPT');
    const report = Cartridge.repair(path);
    expect(report).toMatchObject({
      action: 'salvaged',
      outputPath: `${path}.repaired.cart`,
      validEndOffset: heads[0],
      filesSalvaged: 1,
      directoriesSalvaged: 1,
      bytesSalvaged: 3000,
    });
    expect(report.damageOffset).toBeGreaterThanOrEqual(heads[0] as number);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    const salvaged = Cartridge.open(report.outputPath as string);
    expect(salvaged.readFile('/first/a.txt').toString()).toBe('a'.repeat(3000));
    expect(salvaged.exists('/second')).toBe(false);
    expect(salvaged.verify().ok).toBe(true);
    salvaged.close();
    // A second repair refuses to write over the first salvage.
    expectCode(() => Cartridge.repair(path), 'EEXIST');
    expectCode(() => Cartridge.repair(path, { outputPath: path }), 'INVALID_ARGUMENT');
  });
});
