import { Cartridge, CartridgeError } from '../../../src/index.js';
import { HEADER_SLOT_BYTES, JOURNAL_START_OFFSET } from '../../../src/journal/file-header.js';
import { FRAME_HEADER_BYTES } from '../../../src/journal/record-frame.js';
import {
  BUILT_PATH,
  type BuildSpec,
  type BuiltCartridge,
  buildCartridge,
  lastCommitAtOrBefore,
  logTextOf,
  plant,
  randomBytesOf,
  recordsOf,
  seededRandom,
  tortureSeed,
} from '../built-cartridge.js';
import { bySize, type Campaign, type Figures, type TortureSize } from '../figures.js';
import type { ModelState, Operation } from '../model.js';

/**
 * Damage campaign: cartridges built with mixed workloads are damaged in planted copies (cut
 * at many offsets, single bits flipped across a stratified sample of the file, whole 4 KiB
 * blocks zeroed or overwritten with an earlier block), reopened and read in full. Every
 * outcome must be one of: a typed error (at open or at read), a documented recovery to an
 * earlier commit, or the final state untouched (with verify() reporting any journal damage).
 * Serving bytes no commit ever held, or any untyped exception, fails the run.
 */

const PAGE_BYTES = 4096;
const MIB = 1024 * 1024;
/** The codes that report damage; any other code at open is unexpected. */
const DETECTED_CODES: readonly string[] = [
  'JOURNAL_CORRUPT',
  'NOT_A_CARTRIDGE',
  'UNSUPPORTED_VERSION',
];

// ---- workloads ---------------------------------------------------------------------------------

const create = (path: string, bytes: Buffer | string): Operation => ({
  kind: 'create',
  path,
  bytes: Buffer.from(bytes),
});
const write = (path: string, bytes: Buffer | string): Operation => ({
  kind: 'write',
  path,
  bytes: Buffer.from(bytes),
});
const append = (path: string, bytes: Buffer | string): Operation => ({
  kind: 'append',
  path,
  bytes: Buffer.from(bytes),
});
const remove = (path: string): Operation => ({ kind: 'delete', path });
const transaction = (...operations: Operation[]): Operation => ({
  kind: 'transaction',
  operations,
});

/**
 * Each workload flushes before its last two commits, so that a crashed copy has a durable
 * prefix (damage there is corruption) and an unsynced tail (damage there is a torn write).
 */
const WORKLOADS: readonly Omit<BuildSpec, 'close'>[] = [
  {
    name: 'zstd-mixed',
    options: { compression: 'zstd' },
    operations: [
      create('/a.txt', 'hello world'),
      { kind: 'mkdir', path: '/docs/guides' },
      // Over 1 MiB: one data record and the operation's own record, both compressed.
      create('/docs/big.log', logTextOf(MIB + MIB / 2, 1)),
      create('/bin/random.dat', randomBytesOf(6000, 2)),
      transaction(
        create('/t/x', 'x'),
        create('/t/y', logTextOf(3000, 3)),
        write('/a.txt', 'rewritten'),
        append('/docs/big.log', 'more\n'),
        remove('/bin/random.dat'),
      ),
      { kind: 'checkpoint' },
      create('/old/gone.txt', 'soon deleted'),
      remove('/old/gone.txt'),
      { kind: 'transaction', abort: true, operations: [create('/never', 'x')] },
      { kind: 'flush' },
      transaction(
        create('/u/one', randomBytesOf(700, 4)),
        append('/a.txt', ' again'),
        write('/t/y', logTextOf(2000, 5)),
      ),
      create('/z.txt', 'the final word'),
    ],
  },
  {
    name: 'lz4-large',
    options: { compression: 'lz4' },
    operations: [
      // Incompressible and over 1 MiB: a raw data record that spans hundreds of blocks.
      create('/media/clip.bin', randomBytesOf(MIB + 10_000, 6)),
      create('/logs/app.log', logTextOf(40_000, 7)),
      transaction(
        append('/logs/app.log', logTextOf(5000, 8)),
        create('/media/thumb.bin', randomBytesOf(3000, 9)),
        { kind: 'mkdir', path: '/empty-dir' },
      ),
      { kind: 'checkpoint' },
      write('/logs/app.log', logTextOf(20_000, 10)),
      remove('/media/thumb.bin'),
      { kind: 'flush' },
      append('/media/clip.bin', randomBytesOf(500, 11)),
      create('/last.txt', 'last'),
    ],
  },
  {
    name: 'none-small',
    options: { compression: 'none' },
    operations: [
      create('/a', 'alpha'),
      { kind: 'mkdir', path: '/d/e' },
      create('/d/e/f', randomBytesOf(3000, 12)),
      transaction(create('/d/g', 'g'), append('/a', ' beta'), remove('/d/e/f')),
      { kind: 'checkpoint' },
      create('/d/e/h', logTextOf(5000, 13)),
      write('/a', 'gamma'),
      { kind: 'flush' },
      transaction(create('/x/1', '1'), create('/x/2', randomBytesOf(300, 14)), remove('/d/g')),
      remove('/d/e/h'),
    ],
  },
];

// ---- one damaged copy --------------------------------------------------------------------------

type Sweep = 'cut' | 'flip' | 'block';

interface Damage {
  readonly built: BuiltCartridge;
  readonly sweep: Sweep;
  /** Where and what, enough to plant the same damage again. */
  readonly where: string;
  readonly bytes: Buffer;
  /** The damaged byte range of the original file (a cut damages everything after it). */
  readonly start: number;
  readonly end: number;
}

function describe(damage: Damage): string {
  return `cartridge=${damage.built.name} ${damage.sweep} ${damage.where}`;
}

/** A cut of the unsynced tail must reopen at the last commit before the cut, never refuse. */
function mustRecover(damage: Damage): boolean {
  return damage.sweep === 'cut' && damage.start >= damage.built.syncedLength;
}

function failWith(figures: Figures, error: unknown, description: string): void {
  figures.fail(
    error instanceof CartridgeError ? 'unexpected_errors' : 'untyped_errors',
    description,
  );
}

/** Counts an acceptable outcome, in total and per sweep. */
function outcome(
  figures: Figures,
  damage: Damage,
  name: 'detected_typed_error' | 'recovered_as_documented' | 'harmless',
): void {
  figures.add(`outcome_${name}`);
  figures.add(`corruption_${damage.sweep}_${name}`);
}

function judge(damage: Damage, figures: Figures): void {
  let cartridge: Cartridge;
  try {
    cartridge = Cartridge.open(BUILT_PATH, { storage: plant(damage.bytes) });
  } catch (error) {
    judgeRefusal(damage, error, figures);
    return;
  }
  try {
    judgeOpened(damage, cartridge, figures);
  } catch (error) {
    failWith(figures, error, `${describe(damage)}: ${String(error)}`);
  } finally {
    try {
      cartridge.close();
    } catch (error) {
      failWith(figures, error, `${describe(damage)}: close ${String(error)}`);
    }
  }
}

function judgeRefusal(damage: Damage, error: unknown, figures: Figures): void {
  if (!(error instanceof CartridgeError)) {
    figures.fail('untyped_errors', `${describe(damage)}: open threw ${String(error)}`);
  } else if (!DETECTED_CODES.includes(error.code)) {
    figures.fail('unexpected_errors', `${describe(damage)}: open threw ${error.message}`);
  } else if (mustRecover(damage)) {
    figures.fail(
      'unexpected_errors',
      `${describe(damage)}: a cut of the unsynced tail was refused: ${error.message}`,
    );
  } else {
    outcome(figures, damage, 'detected_typed_error');
    figures.add('corruption_detected_at_open');
  }
}

/** The commit an open claims to be at, or undefined (a failure is counted) when no rule allows it. */
function claimedCommit(damage: Damage, cartridge: Cartridge, figures: Figures): number | undefined {
  const { built } = damage;
  const index = built.heads.indexOf(cartridge.head);
  const label = `${describe(damage)}: opened at ${cartridge.head} (${cartridge.recovery.label})`;
  if (index < 0) {
    figures.fail('silent_wrong_data', `${label}, not a commit boundary`);
  } else if (index < built.durableIndex) {
    figures.fail('acknowledged_durable_lost', `${label}, commit ${index} < ${built.durableIndex}`);
  } else if (mustRecover(damage) && index !== lastCommitAtOrBefore(built.heads, damage.start)) {
    figures.fail('prefix_rule_violations', `${label}, commit ${index} is not the last whole one`);
  } else {
    return index;
  }
  return undefined;
}

/** Judges an open that succeeded: which commit it claims, what reads return, what verify says. */
function judgeOpened(damage: Damage, cartridge: Cartridge, figures: Figures): void {
  const index = claimedCommit(damage, cartridge, figures);
  if (index === undefined) return;
  const label = `${describe(damage)}: opened at commit ${index} (${cartridge.recovery.label})`;
  const reading = readAll(cartridge);
  const wrong = compare(reading, damage.built.models[index] as ModelState);
  if (wrong !== undefined) return figures.fail('silent_wrong_data', `${label}: ${wrong}`);
  const verified = cartridge.verify().ok;
  if (reading.corruptCount === 0) return judgeIntact(damage, cartridge, index, verified, figures);
  if (verified)
    return figures.fail('verify_failures', `${label}: verify() passed damage a read found`);
  outcome(figures, damage, 'detected_typed_error');
  figures.add('corruption_detected_at_read');
}

/** Every read succeeded with the bytes of commit `index`: harmless, or a documented recovery. */
function judgeIntact(
  damage: Damage,
  cartridge: Cartridge,
  index: number,
  verified: boolean,
  figures: Figures,
): void {
  const label = `${describe(damage)}: opened at commit ${index} (${cartridge.recovery.label})`;
  const whole = index === damage.built.heads.length - 1 && cartridge.recovery.decision === 'accept';
  if (whole) {
    // The damaged file was taken whole: only damage outside the journal may pass verify().
    const inJournal = damage.end > JOURNAL_START_OFFSET;
    if (verified && inJournal)
      return figures.fail('verify_failures', `${label}: journal damage went unnoticed`);
    outcome(figures, damage, 'harmless');
    return;
  }
  if (!verified) return figures.fail('verify_failures', `${label}: verify() failed after recovery`);
  outcome(figures, damage, 'recovered_as_documented');
}

// ---- reading everything ------------------------------------------------------------------------

interface Reading {
  /** Every entry the cartridge lists; a file whose read was refused as corrupt is 'corrupt'. */
  readonly entries: Map<string, Buffer | 'directory' | 'corrupt'>;
  readonly corruptCount: number;
}

/** Walks the whole tree and reads every file; only JOURNAL_CORRUPT on a read is absorbed. */
function readAll(cartridge: Cartridge): Reading {
  const entries = new Map<string, Buffer | 'directory' | 'corrupt'>();
  let corruptCount = 0;
  const stack = ['/'];
  const stats = cartridge.stats();
  const limit = stats.fileCount + stats.directoryCount + 1;
  for (let visited = 0; stack.length > 0; visited++) {
    if (visited > limit) throw new Error('the walk visited more entries than the cartridge holds');
    const directory = stack.pop() as string;
    for (const name of cartridge.listDir(directory)) {
      const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
      if (cartridge.metadata(path).type === 'directory') {
        entries.set(path, 'directory');
        stack.push(path);
        continue;
      }
      try {
        entries.set(path, cartridge.readFile(path));
      } catch (error) {
        if (!(error instanceof CartridgeError) || error.code !== 'JOURNAL_CORRUPT') throw error;
        entries.set(path, 'corrupt');
        corruptCount++;
      }
    }
  }
  return { entries, corruptCount };
}

/** The first difference between what was read and the model, or undefined when they agree. */
function compare(reading: Reading, model: ModelState): string | undefined {
  for (const [path, expected] of model) {
    const actual = reading.entries.get(path);
    if (actual === undefined) return `${path} is missing`;
    if (expected === 'directory' || actual === 'directory') {
      if (expected !== actual) return `${path} has the wrong kind`;
      continue;
    }
    if (actual !== 'corrupt' && !actual.equals(expected)) {
      return `${path} read ${actual.length} bytes that differ from the model's ${expected.length}`;
    }
  }
  for (const path of reading.entries.keys())
    if (!model.has(path)) return `${path} should not exist`;
  return undefined;
}

// ---- sweeps ------------------------------------------------------------------------------------

interface SweepContext {
  readonly built: BuiltCartridge;
  readonly crashed: boolean;
  readonly size: TortureSize;
  readonly random: () => number;
  readonly figures: Figures;
}

/** Cuts in the last two commits: every byte of a crashed copy, a sample of a closed one. */
function sweepCuts(context: SweepContext): void {
  const { built, figures } = context;
  const lastIndex = built.heads.length - 1;
  const start = built.heads[Math.max(0, lastIndex - 2)] as number;
  const end = built.bytes.length;
  const cuts = new Set<number>();
  const step = context.crashed ? 1 : bySize(context.size, { small: 37, medium: 5, large: 1 });
  for (let cut = start; cut < end; cut += step) cuts.add(cut);
  // Record boundaries and the bytes right around them, where parsers change state.
  for (const record of recordsOf(built.bytes)) {
    for (const delta of [-1, 0, 1, FRAME_HEADER_BYTES - 1, FRAME_HEADER_BYTES]) {
      const cut = record.offset + delta;
      if (cut >= start && cut < end) cuts.add(cut);
    }
  }
  for (const cut of cuts) {
    figures.add('corruption_cuts_tried');
    const bytes = built.bytes.subarray(0, cut);
    judge({ built, sweep: 'cut', where: `at ${cut} of ${end}`, bytes, start: cut, end }, figures);
  }
}

interface Stratum {
  readonly name: string;
  readonly weight: number;
  readonly ranges: readonly (readonly [number, number])[];
}

/** The strata of a file: header fields, header padding, record headers, bodies and blobs. */
function strataOf(bytes: Buffer): Stratum[] {
  const slots = [0, HEADER_SLOT_BYTES];
  const records = recordsOf(bytes);
  const headers = records.map(
    (record) => [record.offset, record.offset + FRAME_HEADER_BYTES] as const,
  );
  const bodies = records
    .filter((record) => record.header.bodyLength > 0)
    .map(
      (record) =>
        [
          record.offset + FRAME_HEADER_BYTES,
          record.offset + FRAME_HEADER_BYTES + record.header.bodyLength,
        ] as const,
    );
  const blobs = records
    .filter((record) => record.header.storedBlobLength > 0)
    .map((record) => {
      const start = record.offset + FRAME_HEADER_BYTES + record.header.bodyLength;
      return [start, start + record.header.storedBlobLength] as const;
    });
  return [
    {
      name: 'slot-fields',
      weight: 0.1,
      ranges: slots.flatMap(
        (base) =>
          [
            [base, base + 81],
            [base + 4092, base + 4096],
          ] as const,
      ),
    },
    {
      name: 'slot-padding',
      weight: 0.05,
      ranges: slots.map((base) => [base + 81, base + 4092] as const),
    },
    { name: 'record-header', weight: 0.35, ranges: headers },
    { name: 'record-body', weight: 0.25, ranges: bodies },
    { name: 'record-blob', weight: 0.25, ranges: blobs },
  ].filter((stratum) => stratum.ranges.length > 0);
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T;
}

function pickStratum(strata: readonly Stratum[], random: () => number): Stratum {
  const total = strata.reduce((sum, stratum) => sum + stratum.weight, 0);
  let roll = random() * total;
  for (const stratum of strata) {
    roll -= stratum.weight;
    if (roll < 0) return stratum;
  }
  return strata[strata.length - 1] as Stratum;
}

function sweepFlips(context: SweepContext, count: number): void {
  const { built, random, figures } = context;
  const strata = strataOf(built.bytes);
  for (let flip = 0; flip < count; flip++) {
    const stratum = pickStratum(strata, random);
    const [start, end] = pick(stratum.ranges, random);
    const offset = start + Math.floor(random() * (end - start));
    const bit = Math.floor(random() * 8);
    const bytes = Buffer.from(built.bytes);
    bytes[offset] = (bytes[offset] as number) ^ (1 << bit);
    figures.add('bit_flips_tried');
    const where = `offset ${offset} bit ${bit} (${stratum.name})`;
    judge({ built, sweep: 'flip', where, bytes, start: offset, end: offset + 1 }, figures);
  }
}

/** Every block zeroed, and every block overwritten with copies of earlier blocks. */
function sweepBlocks(context: SweepContext): void {
  const { built, random, figures } = context;
  const blockCount = Math.ceil(built.bytes.length / PAGE_BYTES);
  const copiesPerBlock = bySize(context.size, { small: 1, medium: 3, large: 8 });
  for (let target = 0; target < blockCount; target++) {
    const start = target * PAGE_BYTES;
    const end = Math.min(built.bytes.length, start + PAGE_BYTES);
    damageBlock(context, Buffer.alloc(end - start), start, `zero block ${target}`);
    const sources = new Set<number>();
    if (target > 0) sources.add(target - 1);
    for (let copy = 1; copy < copiesPerBlock && target > 1; copy++)
      sources.add(Math.floor(random() * target));
    for (const source of sources) {
      const copy = built.bytes.subarray(source * PAGE_BYTES, source * PAGE_BYTES + (end - start));
      damageBlock(context, copy, start, `copy block ${source} over block ${target}`);
    }
  }
  figures.max('corruption_largest_block_count', blockCount);
}

function damageBlock(
  context: SweepContext,
  replacement: Buffer,
  start: number,
  where: string,
): void {
  const { built, figures } = context;
  const end = start + replacement.length;
  // Replacing bytes with themselves is no damage at all.
  if (built.bytes.subarray(start, end).equals(replacement)) return;
  const bytes = Buffer.from(built.bytes);
  replacement.copy(bytes, start);
  figures.add('blocks_damaged_tried');
  judge({ built, sweep: 'block', where, bytes, start, end }, figures);
}

export const corruptionCampaign: Campaign = {
  name: 'corruption',
  run(figures: Figures, size: TortureSize): void {
    const seed = tortureSeed();
    figures.set('corruption_seed', seed);
    const totalFlips = bySize(size, { small: 1000, medium: 10_000, large: 100_000 });
    const flipsPerCartridge = Math.ceil(totalFlips / (WORKLOADS.length * 2));
    WORKLOADS.forEach((workload, workloadIndex) => {
      for (const crashed of [false, true]) {
        const built = buildCartridge({
          ...workload,
          name: `${workload.name}/${crashed ? 'crashed' : 'closed'}`,
          close: !crashed,
        });
        const random = seededRandom(seed + workloadIndex * 2 + (crashed ? 1 : 0));
        const context: SweepContext = { built, crashed, size, random, figures };
        figures.add('corruption_cartridges');
        sweepCuts(context);
        sweepFlips(context, flipsPerCartridge);
        sweepBlocks(context);
      }
    });
  },
};
