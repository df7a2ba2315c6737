import { expectCode } from '../support/expect-code.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/engine/cartridge.js';
import type { CartridgeOptions } from '../../src/engine/options.js';
import { CartridgeError } from '../../src/errors.js';
import { encodeEvent } from '../../src/journal/event-codec.js';
import { HEADER_SLOT_BYTES, JOURNAL_START_OFFSET } from '../../src/journal/file-header.js';
import { FaultStorage } from '../support/fault-storage.js';
import { NodeStorage } from '../../src/journal/io/node-storage.js';
import { RecordScanner } from '../../src/journal/journal-reader.js';
import { FRAME_HEADER_BYTES } from '../../src/journal/record-frame.js';
import { ModelBuilder, describeCartridge, describeModel, randomContent, seededRandom, type Model } from '../support/crash-model.js';

/**
 * Recovery against damaged bytes planted directly: a tail cut at every byte, single bit
 * flips all over the file, and whole 4 KiB blocks zeroed or replaced by stale copies. The
 * rule checked everywhere: open either refuses with a typed JOURNAL_CORRUPT, or serves
 * exactly the bytes of a committed state; it never serves different bytes without an error.
 */

const PATH = '/crash/recovery.cart';
const PAGE = 4096;

// ---- deterministic inputs --------------------------------------------------------------------

/** Log-like text: compresses well, so the record holding it is stored compressed. */
function logText(lineCount: number): Buffer {
  const lines: string[] = [];
  for (let line = 0; line < lineCount; line++) {
    lines.push(`2024-05-0${line % 9} 12:${String(line % 60).padStart(2, '0')} INFO served /api/items/${line % 31} in ${line % 17} ms\n`);
  }
  return Buffer.from(lines.join(''));
}

// ---- building a cartridge --------------------------------------------------------------------

interface Built {
  readonly bytes: Buffer;
  /** `heads[i]` is the journal head after commit i (commit 0 is the genesis). */
  readonly heads: readonly number[];
  /** `models[i]` is the state after commit i. */
  readonly models: readonly Model[];
}

type Step = (cartridge: Cartridge, model: ModelBuilder) => void;

/** Runs each step as one commit, checking the cartridge against the model after each. */
/**
 * Runs the steps and returns the file's bytes. With `crash`, the cartridge is not closed: the
 * bytes are what a machine that died right after the last write would hold, with the header
 * still naming only what the last sync made durable (durability 'normal', no flush).
 */
function build(steps: readonly Step[], options: CartridgeOptions = {}, crash = false): Built {
  const storage = new FaultStorage(1);
  const cartridge = Cartridge.create(PATH, { syncIntervalMs: 3_600_000, ...options, storage });
  const model = new ModelBuilder();
  const heads = [cartridge.head];
  const models = [model.snapshot()];
  for (const step of steps) {
    const before = cartridge.head;
    step(cartridge, model);
    expect(cartridge.head).toBeGreaterThan(before);
    expect(describeCartridge(cartridge)).toBe(describeModel(model.snapshot()));
    heads.push(cartridge.head);
    models.push(model.snapshot());
  }
  if (!crash) cartridge.close();
  const bytes = storage.snapshot(PATH);
  // Close may write a checkpoint: a commit of its own that changes no state, so it is one more
  // head with the last model.
  if (bytes.length > (heads[heads.length - 1] as number)) {
    heads.push(bytes.length);
    models.push(models[models.length - 1] as Model);
  }
  expect(bytes.length).toBe(heads[heads.length - 1]);
  return { bytes, heads, models };
}

/** Small files, a directory, a multi-record transaction, a checkpoint, a compressed file. */
const STEPS: readonly Step[] = [
  (cartridge, model) => {
    cartridge.createFile('/a.txt', 'hello world');
    model.file('/a.txt', Buffer.from('hello world'));
  },
  (cartridge, model) => {
    cartridge.createFile('/docs/readme.md', '# Readme\n');
    model.file('/docs/readme.md', Buffer.from('# Readme\n'));
  },
  (cartridge, model) => {
    const random = randomContent(6000, 11);
    cartridge.createFile('/bin/random.dat', random);
    model.file('/bin/random.dat', random);
  },
  (cartridge, model) => {
    cartridge.createFile('/old/gone.txt', 'soon deleted');
    model.file('/old/gone.txt', Buffer.from('soon deleted'));
  },
  (cartridge) => {
    // A checkpoint is a commit that changes no state; open starts from it.
    cartridge.checkpoint();
  },
  (cartridge, model) => {
    cartridge.transaction(() => {
      cartridge.createDir('/t');
      cartridge.createFile('/t/x', 'x');
      cartridge.createFile('/t/y', 'y'.repeat(100));
      cartridge.writeFile('/a.txt', 'rewritten');
      cartridge.appendFile('/docs/readme.md', 'more\n');
      cartridge.deleteFile('/old/gone.txt');
    });
    model.dir('/t');
    model.file('/t/x', Buffer.from('x'));
    model.file('/t/y', Buffer.from('y'.repeat(100)));
    model.file('/a.txt', Buffer.from('rewritten'));
    model.append('/docs/readme.md', Buffer.from('more\n'));
    model.remove('/old/gone.txt');
  },
  (cartridge, model) => {
    const log = logText(200);
    const tail = randomContent(700, 12);
    cartridge.transaction(() => {
      cartridge.createFile('/logs/app.log', log);
      cartridge.appendFile('/t/x', tail);
      cartridge.createFile('/empty', '');
    });
    model.file('/logs/app.log', log);
    model.append('/t/x', tail);
    model.file('/empty', Buffer.alloc(0));
  },
];

// ---- opening damaged bytes -------------------------------------------------------------------

function plant(bytes: Buffer): FaultStorage {
  const storage = new FaultStorage(2);
  storage.setBytes(PATH, bytes);
  return storage;
}

/** The index of the last commit whose head is at or before `offset`. */
function lastCommitAtOrBefore(heads: readonly number[], offset: number): number {
  let found = 0;
  heads.forEach((head, index) => {
    if (head <= offset) found = index;
  });
  return found;
}

/** Checks a cut file opens to the last whole commit, accepts a write, and keeps it. */
function checkCut(built: Built, cut: number, storage: FaultStorage): void {
  const options: CartridgeOptions = { storage };
  const expectedIndex = lastCommitAtOrBefore(built.heads, cut);
  const expectedHead = built.heads[expectedIndex] as number;
  const expectedModel = built.models[expectedIndex] as Model;
  const cartridge = Cartridge.open(PATH, options);
  try {
    expect(cartridge.recovery.decision, `cut ${cut}`).toBe(cut === expectedHead ? 'accept' : 'truncate-tail');
    expect(cartridge.recovery.validEndOffset).toBe(expectedHead);
    expect(cartridge.recovery.droppedBytes).toBe(cut - expectedHead);
    expect(cartridge.head).toBe(expectedHead);
    expect(cartridge.readOnly).toBe(false);
    // The repair cut the file back to the last whole commit, and made the cut durable.
    expect(storage.snapshot(PATH).length, `cut ${cut}`).toBe(expectedHead);
    expect(storage.durableSnapshot(PATH).length, `cut ${cut}`).toBe(expectedHead);
    expect(describeCartridge(cartridge), `cut ${cut}`).toBe(describeModel(expectedModel));
    expect(cartridge.verify().ok, `cut ${cut}`).toBe(true);
    cartridge.createFile('/after-cut.txt', `cut at ${cut}`);
  } finally {
    cartridge.close();
  }
  const afterWrite = new Map(expectedModel);
  afterWrite.set('/after-cut.txt', Buffer.from(`cut at ${cut}`));
  const reopened = Cartridge.open(PATH, options);
  try {
    expect(reopened.recovery.decision).toBe('accept');
    expect(describeCartridge(reopened), `cut ${cut}, reopened`).toBe(describeModel(afterWrite));
    expect(reopened.verify().ok).toBe(true);
  } finally {
    reopened.close();
  }
}

/** Builds once, on first use inside a test (not while vitest collects the tests). */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

describe('torn tail at every byte', () => {
  const layout = once(() => {
    const built = build(STEPS, {}, true);
    const lastCommit = built.heads.length - 1;
    return {
      built,
      lastStart: built.heads[lastCommit - 1] as number,
      previousStart: built.heads[lastCommit - 2] as number,
      end: built.bytes.length,
    };
  });

  it('opens every cut of the last commit at the state of the last whole commit before the cut', () => {
    const { built, lastStart, previousStart, end } = layout();
    const started = performance.now();
    let cuts = 0;
    for (let cut = lastStart; cut <= end; cut++) {
      checkCut(built, cut, plant(built.bytes.subarray(0, cut)));
      cuts++;
    }
    // A sample of the commit before it (a transaction of several records): every 7th byte
    // plus every record boundary, so that cuts between records of one commit are included.
    const boundaries = recordBoundaries(built.bytes).filter((offset) => offset >= previousStart && offset < lastStart);
    expect(boundaries.length).toBeGreaterThan(3);
    const sample = new Set<number>(boundaries);
    for (let cut = previousStart; cut < lastStart; cut += 7) sample.add(cut);
    for (const cut of sample) {
      checkCut(built, cut, plant(built.bytes.subarray(0, cut)));
      cuts++;
    }
    console.log(
      `torn tail: ${cuts} cuts tested (${end - lastStart + 1} every-byte in the last commit of ` +
        `${end - lastStart} bytes, ${sample.size} sampled in the commit before) in ${Math.round(performance.now() - started)} ms`,
    );
  });

  it('does the same on real files', () => {
    const { built, lastStart, previousStart, end } = layout();
    const directory = mkdtempSync(join(tmpdir(), 'cartridge-torn-'));
    try {
      const path = join(directory, 'torn.cart');
      const random = seededRandom(99);
      const cuts = [lastStart, end, previousStart + 1, lastStart + FRAME_HEADER_BYTES, end - 1];
      for (let index = 0; index < 15; index++) cuts.push(previousStart + Math.floor(random() * (end - previousStart)));
      for (const cut of cuts) {
        writeFileSync(path, built.bytes.subarray(0, cut));
        const expectedHead = built.heads[lastCommitAtOrBefore(built.heads, cut)] as number;
        const cartridge = Cartridge.open(path, { storage: new NodeStorage() });
        try {
          expect(describeCartridge(cartridge)).toBe(describeModel(built.models[lastCommitAtOrBefore(built.heads, cut)] as Model));
          expect(cartridge.verify().ok).toBe(true);
        } finally {
          cartridge.close();
        }
        // The repair is an ftruncate of the real file, down to the last whole commit.
        expect(readFileSync(path).length).toBe(expectedHead);
      }
      console.log(`torn tail on real files: ${cuts.length} cuts tested`);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

// ---- damage classification -------------------------------------------------------------------

/** Offsets where records start, found by scanning the intact bytes. */
function recordBoundaries(bytes: Buffer): number[] {
  const storage = plant(bytes);
  const file = storage.open(PATH, { create: false, truncate: false, readOnly: true });
  const scanner = new RecordScanner(file, JOURNAL_START_OFFSET, bytes.length);
  const offsets: number[] = [];
  for (;;) {
    const step = scanner.next();
    if (step.kind !== 'record') break;
    offsets.push(step.raw.offset);
  }
  offsets.push(bytes.length);
  file.close();
  return offsets;
}

interface RecordLayout {
  readonly offset: number;
  readonly bodyLength: number;
  readonly blobLength: number;
}

function recordLayouts(bytes: Buffer): RecordLayout[] {
  const storage = plant(bytes);
  const file = storage.open(PATH, { create: false, truncate: false, readOnly: true });
  const scanner = new RecordScanner(file, JOURNAL_START_OFFSET, bytes.length);
  const layouts: RecordLayout[] = [];
  for (;;) {
    const step = scanner.next();
    if (step.kind !== 'record') break;
    layouts.push({ offset: step.raw.offset, bodyLength: step.raw.header.bodyLength, blobLength: step.raw.header.storedBlobLength });
  }
  file.close();
  return layouts;
}

/**
 * The outcomes a damaged file may have. `silent-wrong` (a read returns other bytes than the
 * state open claims, without an error), `undetected` (damage inside the journal that neither
 * open, a read nor verify() notices) and `untyped` (an exception that is not a CartridgeError)
 * are failures; the others are acceptable.
 */
type Outcome =
  | 'corrupt-at-open'
  | 'corrupt-at-read'
  | 'detected-by-verify'
  | 'no-effect'
  | 'reported-tail-cut'
  | 'silent-wrong'
  | 'undetected'
  | 'inconsistent'
  | 'untyped';

const FAILURES: readonly Outcome[] = ['silent-wrong', 'undetected', 'inconsistent', 'untyped'];

interface Classified {
  readonly outcome: Outcome;
  readonly detail: string;
}

function isCorrupt(error: unknown): boolean {
  return error instanceof CartridgeError && error.code === 'JOURNAL_CORRUPT';
}

/**
 * Reads every entry of `model` from `cartridge`: 'ok', 'corrupt' (a JOURNAL_CORRUPT on some
 * read) or 'wrong' (a read returned other bytes, or the tree differs, without such an error).
 */
function readAgainst(cartridge: Cartridge, model: Model): 'ok' | 'corrupt' | 'wrong' {
  let corrupt = false;
  for (const [path, expected] of model) {
    try {
      if (expected === null) {
        if (cartridge.metadata(path).type !== 'directory') return 'wrong';
        continue;
      }
      if (!cartridge.readFile(path).equals(expected)) return 'wrong';
    } catch (error) {
      if (isCorrupt(error)) corrupt = true;
      else if (error instanceof CartridgeError) return 'wrong';
      else throw error;
    }
  }
  if (corrupt) return 'corrupt';
  // Nothing extra may appear either: the whole tree must be the model's.
  return describeCartridge(cartridge) === describeModel(model) ? 'ok' : 'wrong';
}

/**
 * Checks `recovery: 'read-only-prefix'` opens the damaged bytes read-only at the state of a
 * commit that ends before the first damaged byte.
 */
function checkReadOnlyPrefix(built: Built, damaged: Buffer, damageStart: number): boolean {
  const cartridge = Cartridge.open(PATH, { storage: plant(damaged), recovery: 'read-only-prefix' });
  try {
    expect(cartridge.readOnly).toBe(true);
    expect(cartridge.recovery.validEndOffset).toBeLessThanOrEqual(damageStart);
    const index = built.heads.indexOf(cartridge.recovery.validEndOffset);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(readAgainst(cartridge, built.models[index] as Model)).toBe('ok');
    let refused: unknown;
    try {
      cartridge.createFile('/not-allowed', 'x');
    } catch (error) {
      refused = error;
    }
    expect(refused instanceof CartridgeError && refused.code).toBe('READ_ONLY');
    return true;
  } finally {
    cartridge.close();
  }
}

/** How many damaged files were also opened with `recovery: 'read-only-prefix'`, for the log. */
let readOnlyPrefixOpens = 0;

/** Opens damaged bytes and sorts the result into one `Outcome`. */
function classify(built: Built, damaged: Buffer, damageStart: number): Classified {
  const inJournal = damageStart >= JOURNAL_START_OFFSET;
  let cartridge: Cartridge;
  try {
    cartridge = Cartridge.open(PATH, { storage: plant(damaged) });
  } catch (error) {
    if (!(error instanceof CartridgeError)) return { outcome: 'untyped', detail: String(error) };
    if (error.code !== 'JOURNAL_CORRUPT') return { outcome: 'untyped', detail: `code ${error.code}` };
    checkReadOnlyPrefix(built, damaged, damageStart);
    readOnlyPrefixOpens++;
    return { outcome: 'corrupt-at-open', detail: `offset ${String(error.offset)}` };
  }
  try {
    const recovery = cartridge.recovery;
    let model = built.models[built.models.length - 1] as Model;
    if (recovery.decision !== 'accept') {
      // A cut is acceptable only at a commit boundary, reported, with that commit's state.
      const index = built.heads.indexOf(recovery.validEndOffset);
      if (index < 0) return { outcome: 'silent-wrong', detail: `cut at ${recovery.validEndOffset}, not a commit` };
      model = built.models[index] as Model;
    }
    const read = readAgainst(cartridge, model);
    if (read === 'wrong') return { outcome: 'silent-wrong', detail: `decision ${recovery.decision}` };
    if (read === 'corrupt') {
      // Damage a read found, verify() must find too.
      if (cartridge.verify().ok) return { outcome: 'inconsistent', detail: 'a read failed but verify passed' };
      return { outcome: 'corrupt-at-read', detail: '' };
    }
    if (recovery.decision !== 'accept') {
      // What is left after the cut is a clean journal of that commit, and verify() says so.
      if (!cartridge.verify().ok) return { outcome: 'inconsistent', detail: 'verify failed after a tail cut' };
      return { outcome: 'reported-tail-cut', detail: `${recovery.label} at ${recovery.validEndOffset}` };
    }
    const verified = cartridge.verify().ok;
    if (inJournal) return verified ? { outcome: 'undetected', detail: '' } : { outcome: 'detected-by-verify', detail: '' };
    return verified ? { outcome: 'no-effect', detail: '' } : { outcome: 'inconsistent', detail: 'verify failed after header damage' };
  } catch (error) {
    return { outcome: 'untyped', detail: String(error) };
  } finally {
    cartridge.close();
  }
}

function tally(results: readonly (Classified & { readonly where: string })[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of results) counts[result.outcome] = (counts[result.outcome] ?? 0) + 1;
  return counts;
}

function expectNoFailures(results: readonly (Classified & { readonly where: string })[]): void {
  const failures = results.filter((result) => FAILURES.includes(result.outcome));
  expect(failures.map((failure) => `${failure.where}: ${failure.outcome} ${failure.detail}`)).toEqual([]);
}

// ---- bit flips -------------------------------------------------------------------------------

/** Byte offsets to flip: every stratum of the file, sampled. */
function flipOffsets(bytes: Buffer, random: () => number): { offset: number; stratum: string }[] {
  const chosen: { offset: number; stratum: string }[] = [];
  const add = (offset: number, stratum: string): void => {
    if (offset < bytes.length) chosen.push({ offset, stratum });
  };
  for (const slot of [0, 1]) {
    const base = slot * HEADER_SLOT_BYTES;
    // Fields (magic, version, generation, id, lengths, codec), a sample of the zero area, the CRC.
    for (const field of [0, 7, 8, 10, 12, 16, 24, 40, 48, 56, 64, 72, 80]) add(base + field, `header slot ${slot} fields`);
    for (let index = 0; index < 6; index++) add(base + 81 + Math.floor(random() * 4011), `header slot ${slot} zero area`);
    for (let byte = 4092; byte < 4096; byte++) add(base + byte, `header slot ${slot} checksum`);
  }
  for (const layout of recordLayouts(bytes)) {
    for (const field of [0, 1, 2, 3, 4, 5, 6, 8, 12, 16, 20, 24, 32, 63, 64, 95, 96, 100, 103]) {
      add(layout.offset + field, 'record header');
    }
    const bodyStart = layout.offset + FRAME_HEADER_BYTES;
    for (let index = 0; index < Math.min(4, layout.bodyLength); index++) {
      add(bodyStart + Math.floor(random() * layout.bodyLength), 'record body');
    }
    const blobStart = bodyStart + layout.bodyLength;
    for (let index = 0; index < Math.min(6, layout.blobLength); index++) {
      add(blobStart + Math.floor(random() * layout.blobLength), 'record blob');
    }
  }
  return chosen;
}

describe('a cut below the length the header records as durable', () => {
  it('is truncation: JOURNAL_CORRUPT, or a read-only open of the prefix on request', () => {
    const built = build(STEPS);
    const lastStart = built.heads[built.heads.length - 2] as number;
    for (const cut of [lastStart, lastStart + 1, built.bytes.length - 1]) {
      expectCode(() => Cartridge.open(PATH, { storage: plant(built.bytes.subarray(0, cut)) }), 'JOURNAL_CORRUPT');
      const prefix = Cartridge.open(PATH, { storage: plant(built.bytes.subarray(0, cut)), recovery: 'read-only-prefix' });
      try {
        expect(prefix.readOnly).toBe(true);
        expect(prefix.recovery.decision).toBe('fail-corrupt');
        expect(describeCartridge(prefix)).toBe(describeModel(built.models[built.heads.length - 2] as Model));
      } finally {
        prefix.close();
      }
    }
  });
});

describe('single bit flips', () => {
  it('never give silent wrong data or untyped errors, and damage in records is always detected', () => {
    const built = build(STEPS);
    const started = performance.now();
    const random = seededRandom(2024);
    const results: (Classified & { where: string })[] = [];
    const byStratum = new Map<string, Record<string, number>>();
    for (const { offset, stratum } of flipOffsets(built.bytes, random)) {
      const damaged = Buffer.from(built.bytes);
      const bit = Math.floor(random() * 8);
      damaged[offset] = (damaged[offset] as number) ^ (1 << bit);
      const result = { ...classify(built, damaged, offset), where: `offset ${offset} bit ${bit} (${stratum})` };
      results.push(result);
      const counts = byStratum.get(stratum) ?? {};
      counts[result.outcome] = (counts[result.outcome] ?? 0) + 1;
      byStratum.set(stratum, counts);
    }
    expectNoFailures(results);
    // A flip is taken for a torn write (cut and reported, not an error) only inside the last
    // commit: with nothing of a later commit after it, recovery cannot tell the two apart.
    const lastCommitStart = built.heads[built.heads.length - 2] as number;
    const cutsOutsideLastCommit = results.filter(
      (result) => result.outcome === 'reported-tail-cut' && Number(/offset (\d+)/.exec(result.where)?.[1]) < lastCommitStart,
    );
    expect(cutsOutsideLastCommit.map((result) => result.where)).toEqual([]);
    expect(results.length).toBeGreaterThan(300);
    console.log(
      `bit flips: ${results.length} flips in ${Math.round(performance.now() - started)} ms ` +
        `(${readOnlyPrefixOpens} read-only-prefix opens so far)`,
      tally(results),
    );
    for (const [stratum, counts] of byStratum) console.log(`  ${stratum}:`, counts);
  });
});

// ---- whole blocks ----------------------------------------------------------------------------

describe('zeroed and duplicated 4 KiB blocks', () => {
  const blockBuild = once(() => build([
    ...STEPS,
    // More content, so that the journal spans enough blocks to copy between.
    (cartridge, model) => {
      const random = randomContent(9000, 21);
      cartridge.createFile('/bin/more.dat', random);
      model.file('/bin/more.dat', random);
    },
    (cartridge, model) => {
      const random = randomContent(14_000, 22);
      cartridge.transaction(() => {
        cartridge.createFile('/bin/third.dat', random);
        cartridge.appendFile('/logs/app.log', 'one more line\n');
      });
      model.file('/bin/third.dat', random);
      model.append('/logs/app.log', Buffer.from('one more line\n'));
    },
    (cartridge) => cartridge.checkpoint(),
    (cartridge, model) => {
      const random = randomContent(5000, 23);
      cartridge.writeFile('/bin/random.dat', random);
      model.file('/bin/random.dat', random);
    },
    (cartridge, model) => {
      cartridge.writeFile('/a.txt', 'the final word');
      model.file('/a.txt', Buffer.from('the final word'));
    },
  ]));

  it('never give silent wrong data: a typed error, or the data of a committed state', () => {
    const built = blockBuild();
    const blockCount = Math.ceil(built.bytes.length / PAGE);
    const started = performance.now();
    const results: (Classified & { where: string })[] = [];
    for (let target = 0; target < blockCount; target++) {
      const targetEnd = Math.min(built.bytes.length, (target + 1) * PAGE);
      const zeroed = Buffer.from(built.bytes);
      zeroed.fill(0, target * PAGE, targetEnd);
      results.push({ ...classify(built, zeroed, target * PAGE), where: `zero block ${target}` });
      for (let source = 0; source < target; source++) {
        const copied = Buffer.from(built.bytes);
        built.bytes.copy(copied, target * PAGE, source * PAGE, source * PAGE + (targetEnd - target * PAGE));
        results.push({ ...classify(built, copied, target * PAGE), where: `copy block ${source} over ${target}` });
      }
    }
    expectNoFailures(results);
    console.log(
      `blocks: ${results.length} damaged files (${blockCount} blocks) in ${Math.round(performance.now() - started)} ms`,
      tally(results),
    );
  });
});

// ---- a stale block that lines up with a live record ----------------------------------------

/**
 * Appends one file whose record ends exactly at `target`, with `compression: 'none'` so the
 * record's length is known before it is written: header + msgpack body + content.
 */
function fillTo(cartridge: Cartridge, model: ModelBuilder, path: string, target: number): void {
  const head = cartridge.head;
  const room = target - head - FRAME_HEADER_BYTES;
  for (let contentBytes = room; contentBytes > 0; contentBytes--) {
    // The record's own blob is the file's only extent, implied: the body lists no extents.
    const body = encodeEvent({
      type: 'file.created', path, inode: 5, mode: 0o644, atMs: Date.now(), sizeBytes: contentBytes,
      extents: [], previous: null,
    });
    if (body.length + contentBytes === room) {
      const content = randomContent(contentBytes, contentBytes);
      cartridge.createFile(path, content);
      model.file(path, content);
      expect(cartridge.head).toBe(target);
      return;
    }
  }
  throw new Error(`no content length makes ${path} end at ${target}`);
}

describe('a stale block whose record lines up with a live record', () => {
  it('is never read as the live record (typed error or correct data)', () => {
    // Record A starts block 3 and record B starts block 4; both are content records of the
    // same length, and both lie before a checkpoint, so open does not scan them. Copying
    // block 3 over block 4 (a stale or misdirected block write) puts a valid, checksummed
    // content record exactly where B's extent points. Only the record's identity (its
    // position or sequence), not its checksums, can tell the two apart.
    const contentA = Buffer.from('A'.repeat(300));
    const contentB = Buffer.from('B'.repeat(300));
    const built = build(
      [
        (cartridge, model) => fillTo(cartridge, model, '/pad-1', 3 * PAGE),
        (cartridge, model) => {
          cartridge.createFile('/a', contentA);
          model.file('/a', contentA);
        },
        (cartridge, model) => fillTo(cartridge, model, '/pad-2', 4 * PAGE),
        (cartridge, model) => {
          cartridge.createFile('/b', contentB);
          model.file('/b', contentB);
        },
        (cartridge, model) => fillTo(cartridge, model, '/pad-3', 5 * PAGE),
        (cartridge) => cartridge.checkpoint(),
        (cartridge, model) => {
          cartridge.createFile('/after-checkpoint', 'tail');
          model.file('/after-checkpoint', Buffer.from('tail'));
        },
      ],
      { compression: 'none' },
    );
    const damaged = Buffer.from(built.bytes);
    built.bytes.copy(damaged, 4 * PAGE, 3 * PAGE, 4 * PAGE);
    const result = classify(built, damaged, 4 * PAGE);
    // What a reader of /b sees, for the record.
    const cartridge = Cartridge.open(PATH, { storage: plant(damaged) });
    let seenB: string;
    try {
      seenB = cartridge.readFile('/b').subarray(0, 8).toString();
    } catch (error) {
      seenB = error instanceof CartridgeError ? error.code : String(error);
    } finally {
      cartridge.close();
    }
    console.log(`stale aligned block: ${result.outcome} ${result.detail}; readFile('/b') starts with ${seenB}`);
    expect(FAILURES).not.toContain(result.outcome);
  });
});
