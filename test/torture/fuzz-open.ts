import fc from 'fast-check';
import { Cartridge, CartridgeError } from '../../src/index.js';
import { HEADER_SLOT_BYTES, JOURNAL_START_OFFSET } from '../../src/journal/file-header.js';
import {
  BUILT_PATH,
  type BuiltCartridge,
  buildCartridge,
  headerOf,
  logTextOf,
  plant,
  randomBytesOf,
} from './built-cartridge.js';
import {
  type ForgedJournal,
  forgedRecordArbitrary,
  forgeFile,
  headerSlots,
} from './forged-journal.js';
import { defineTarget, type RunnableTarget } from './fuzz-target.js';
import type { ModelState } from './model.js';

/**
 * Whole-file fuzz targets: `Cartridge.open` on planted files, then every file read and the
 * journal verified. Three sources of files: random journal bytes behind a valid header, a
 * real cartridge with a few bytes changed, and forged journals whose records carry valid
 * checksums, hashes and chain links but arbitrary content (what a hostile file can do).
 */

/** A small real cartridge: files, a directory, a checkpoint, a transaction, a delete. */
export function baseCartridge(): BuiltCartridge {
  return buildCartridge({
    name: 'fuzz-base',
    options: { compression: 'zstd' },
    close: true,
    operations: [
      { kind: 'create', path: '/a', bytes: Buffer.from('alpha') },
      { kind: 'mkdir', path: '/d' },
      { kind: 'create', path: '/d/log', bytes: logTextOf(5000, 21) },
      { kind: 'create', path: '/d/r', bytes: randomBytesOf(800, 22) },
      { kind: 'checkpoint' },
      { kind: 'append', path: '/a', bytes: Buffer.from(' beta') },
      {
        kind: 'transaction',
        operations: [
          { kind: 'create', path: '/t/1', bytes: Buffer.from('1') },
          { kind: 'delete', path: '/d/r' },
        ],
      },
    ],
  });
}

// ---- opening and reading -----------------------------------------------------------------------

/**
 * Reads every file it can reach; typed errors on single entries are allowed and skipped. The
 * walk stops after as many entries as the catalog holds (a forged catalog may alias paths).
 */
const WALK_ENTRIES_MAX = 50_000;

function readEverything(cartridge: Cartridge): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const stats = cartridge.stats();
  // The counters come from the (forged) checkpoint root too: the walk is also capped, in
  // entries visited, so that a forged count cannot make it endless.
  let budget = Math.min(stats.fileCount + stats.directoryCount + 1, WALK_ENTRIES_MAX);
  const stack = ['/'];
  while (stack.length > 0 && budget-- > 0) {
    const directory = stack.pop() as string;
    for (const name of allowTyped(() => cartridge.listDir(directory)) ?? []) {
      if (budget-- <= 0) break;
      const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
      const kind = allowTyped(() => cartridge.metadata(path).type);
      if (kind === 'directory') stack.push(path);
      if (kind !== 'file') continue;
      const content = allowTyped(() => cartridge.readFile(path));
      if (content !== undefined) files.set(path, content);
    }
  }
  return files;
}

function allowTyped<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (error instanceof CartridgeError) return undefined;
    throw error;
  }
}

/** Opens, reads everything, verifies and closes; returns what `judge` says of the reads. */
function openAndRead(
  bytes: Buffer,
  judge?: (files: Map<string, Buffer>) => string | undefined,
): string | undefined {
  const cartridge = Cartridge.open(BUILT_PATH, { storage: plant(bytes) });
  try {
    const files = readEverything(cartridge);
    cartridge.verify();
    return judge?.(files);
  } finally {
    allowTyped(() => cartridge.close());
  }
}

// ---- random journal bytes behind a valid header ------------------------------------------------

interface RandomJournal {
  readonly keep: 'nothing' | 'genesis' | 'all-but-last';
  readonly tail: Uint8Array;
  readonly synced: 'start' | 'kept' | 'end';
  readonly checkpointAt: number | undefined;
}

function randomJournalTarget(base: BuiltCartridge): RunnableTarget {
  const header = headerOf(base.bytes);
  const keptEnds = {
    nothing: JOURNAL_START_OFFSET,
    genesis: base.heads[0] as number,
    'all-but-last': base.heads[base.heads.length - 2] as number,
  };
  const arbitrary: fc.Arbitrary<RandomJournal> = fc.record({
    keep: fc.constantFrom('nothing', 'genesis', 'all-but-last'),
    tail: fc.uint8Array({ maxLength: 8192 }),
    synced: fc.constantFrom('start', 'kept', 'end'),
    checkpointAt: fc.option(fc.nat(base.bytes.length + 8192), { nil: undefined }),
  });
  return defineTarget({
    name: 'open_random_journal',
    arbitrary,
    execute: (input) => {
      const keptEnd = keptEnds[input.keep];
      const total = keptEnd + input.tail.length;
      const syncedLength = { start: JOURNAL_START_OFFSET, kept: keptEnd, end: total }[input.synced];
      const slots = headerSlots({
        ...header,
        syncedLength,
        checkpointOffset: input.checkpointAt ?? 0,
      });
      const journal = base.bytes.subarray(JOURNAL_START_OFFSET, keptEnd);
      return openAndRead(Buffer.concat([slots, journal, input.tail]));
    },
  });
}

// ---- a real cartridge with a few bytes changed -------------------------------------------------

/** Every file read must hold bytes that file held at some commit. */
function unknownContent(
  files: Map<string, Buffer>,
  models: readonly ModelState[],
): string | undefined {
  for (const [path, content] of files) {
    const known = models.some((model) => {
      const expected = model.get(path);
      return expected instanceof Buffer && expected.equals(content);
    });
    if (!known) return `${path} read ${content.length} bytes no commit wrote there`;
  }
  return undefined;
}

function mutatedCartridgeTarget(base: BuiltCartridge): RunnableTarget {
  const length = base.bytes.length;
  return defineTarget({
    name: 'open_mutated_cartridge',
    arbitrary: fc.array(fc.tuple(fc.nat(length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }),
    execute: (changes) => {
      const bytes = Buffer.from(base.bytes);
      for (const [offset, value] of changes) bytes[offset] = value;
      return openAndRead(bytes, (files) => unknownContent(files, base.models));
    },
  });
}

// ---- forged journals ---------------------------------------------------------------------------

function forgedJournalTarget(base: BuiltCartridge): RunnableTarget {
  const arbitrary: fc.Arbitrary<ForgedJournal> = fc.record({
    records: fc.array(forgedRecordArbitrary, { minLength: 1, maxLength: 10 }),
    syncedToEnd: fc.boolean(),
    useCheckpoint: fc.boolean(),
  });
  return defineTarget({
    name: 'open_forged_journal',
    arbitrary,
    execute: (journal) => openAndRead(forgeFile(base, journal)),
  });
}

export function openTargets(): RunnableTarget[] {
  const base = baseCartridge();
  if (base.bytes.length < 2 * HEADER_SLOT_BYTES) throw new Error('the base cartridge is too short');
  return [randomJournalTarget(base), mutatedCartridgeTarget(base), forgedJournalTarget(base)];
}
