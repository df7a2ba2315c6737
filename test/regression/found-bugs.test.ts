import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { CheckpointDecoder, projectionSink } from '../../src/engine/checkpoint.js';
import { freshProjections } from '../../src/engine/open-journal.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Bugs found by the torture campaigns, the benchmarks and review, each kept as a named test.
 * Bugs whose natural home is another suite live there (named in the comments below).
 *
 * - stale block read as a live record: test/crash/recovery.crash.test.ts ("a stale block…");
 * - a failed header fsync did not poison: test/crash/fault.crash.test.ts ("a failed header…");
 * - create threw an untyped error when closing after a crash: test/crash/fault.crash.test.ts;
 * - close on a poisoned cartridge returned as if all were durable: fault.crash.test.ts;
 * - ENOSPC reported before ENOTDIR by createFile: test/api/cartridge.api.test.ts.
 */

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

function temporaryPath(): string {
  const directory = mkdtempSync(join(tmpdir(), 'cartridge-regression-'));
  directories.push(directory);
  return join(directory, 'regression.cart');
}

describe('regressions', () => {
  it('publishes the checkpoint close writes, also with durability off (open replayed everything)', () => {
    const path = temporaryPath();
    const cartridge = Cartridge.create(path, { durability: 'off' });
    // Incompressible content, so that the journal passes the 1 MiB close-checkpoint threshold.
    for (let index = 0; index < 300; index++)
      cartridge.createFile(`/logs/${index}.log`, randomBytes(8192));
    cartridge.close();
    const reopened = Cartridge.open(path);
    const stats = reopened.stats();
    expect(stats.checkpointOffset).toBeGreaterThan(0);
    expect(stats.syncedLength).toBe(stats.head);
    expect(reopened.readFile('/logs/299.log').length).toBe(8192);
    reopened.close();
  });

  it('refuses a checkpoint whose extent names no record with JOURNAL_CORRUPT, not an assertion', () => {
    const projections = freshProjections(null);
    const decoder = new CheckpointDecoder(
      projectionSink(projections.catalog, projections.allocator),
      8192,
    );
    const packer = new Packr({ useRecords: false });
    const stream = Buffer.concat([
      packer.pack([1, 3, 2, 0]),
      packer.pack(['/', 1, 1, 0o755, 0, 0, 0, []]),
      packer.pack(['/a', 0, 2, 0o644, 0, 0, 5, [99_999, 7, 0, 5]]),
    ]);
    expectCode(() => decoder.addPart(stream), 'JOURNAL_CORRUPT');
  });
});
