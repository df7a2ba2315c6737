import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { Cartridge, MemoryStorage } from '../../src/index.js';
import { resolveOptions } from '../../src/engine/options.js';
import type { JournalEvent } from '../../src/journal/journal-event.js';
import type { JournalWriter } from '../../src/journal/journal-writer.js';
import { CheckpointDecoder, projectionSink } from '../../src/engine/checkpoint.js';
import { freshProjections, openJournal } from '../../src/engine/open-journal.js';
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
 *
 * Found by the fuzz campaign (forged journals, whose checksums, hashes and chain all hold):
 * lone surrogates in paths, forged file sizes, forged checkpoint spans, forged extent lengths.
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
    const values = [
      [1, 3, 2, 0],
      ['/', 1, 1, 0o755, 0, 0, 0, []],
      ['/a', 0, 2, 0o644, 0, 0, 5, [99_999, 7, 0, 5]],
    ];
    expectCode(() => loadCheckpointValues(values), 'JOURNAL_CORRUPT');
  });

  it('refuses a path with a lone surrogate (it came back under another name after a reopen)', () => {
    const cartridge = Cartridge.memory();
    expectCode(() => cartridge.createFile('/a\uD800', 'one'), 'EINVAL');
    expectCode(() => cartridge.createFile('/a\uDC00', 'two'), 'EINVAL');
    cartridge.createFile('/a\uD83D\uDE00', 'a whole pair is fine');
    expect(cartridge.listDir('/')).toEqual(['a\uD83D\uDE00']);
  });

  it('refuses a forged file size at read time with JOURNAL_CORRUPT, not a RangeError', () => {
    const storage = forgedCartridge(() => ({
      type: 'file.created',
      path: '/huge',
      inode: 9,
      mode: 0o644,
      atMs: 1,
      sizeBytes: 2 ** 53 - 1,
      extents: [],
    }));
    const cartridge = Cartridge.open(FORGED_PATH, { storage });
    expectCode(() => cartridge.readFile('/huge'), 'JOURNAL_CORRUPT');
    cartridge.close();
  });

  it('refuses a forged extent length at open with JOURNAL_CORRUPT, not an assertion', () => {
    const storage = forgedCartridge(
      (writer) => ({
        type: 'file.created',
        path: '/long',
        inode: 9,
        mode: 0o644,
        atMs: 1,
        sizeBytes: 4,
        extents: [
          {
            recordOffset: writer.nextOffset(),
            recordSequence: writer.nextSequence(),
            blobOffset: 0,
            lengthBytes: 2 ** 53 - 1,
          },
        ],
      }),
      Buffer.from('data'),
    );
    expectCode(() => Cartridge.open(FORGED_PATH, { storage }), 'JOURNAL_CORRUPT');
  });

  it('refuses a checkpoint span beyond the checkpoint itself (it sized the page map by it)', () => {
    expectCode(
      () =>
        loadCheckpointValues([
          [1, 2, 1, 1],
          ['spans', [2 ** 40, 10]],
        ]),
      'JOURNAL_CORRUPT',
    );
  });
});

/** Feeds checkpoint values, packed as one part at offset 8192, into fresh projections. */
function loadCheckpointValues(values: readonly unknown[]): void {
  const projections = freshProjections(null);
  const sink = projectionSink(projections.catalog, projections.allocator);
  const packer = new Packr({ useRecords: false });
  new CheckpointDecoder(sink, 8192).addPart(
    Buffer.concat(values.map((value) => packer.pack(value))),
  );
}

const FORGED_PATH = '/forged.cart';

/**
 * A cartridge with one extra commit written straight through the journal writer: every
 * checksum, hash and chain link is valid, only the meaning is hostile.
 */
function forgedCartridge(
  eventOf: (writer: JournalWriter) => JournalEvent,
  blob?: Buffer,
): MemoryStorage {
  const storage = new MemoryStorage();
  Cartridge.create(FORGED_PATH, { storage }).close();
  const journal = openJournal(storage, FORGED_PATH, resolveOptions({}));
  journal.writer.stage(eventOf(journal.writer), blob);
  journal.writer.commit(true);
  journal.file.close();
  return storage;
}
