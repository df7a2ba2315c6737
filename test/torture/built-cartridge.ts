import { Cartridge, type CartridgeOptions } from '../../src/index.js';
import {
  chooseFileHeader,
  HEADER_SLOT_BYTES,
  JOURNAL_START_OFFSET,
} from '../../src/journal/file-header.js';
import { FaultStorage, seededRandom } from '../support/fault-storage.js';
import { type RawRecord, RecordScanner } from '../../src/journal/journal-reader.js';
import { applyToCartridge, applyToModel, type ModelState, type Operation } from './model.js';

/**
 * Cartridges built for damage campaigns: the bytes of a cartridge after a known list of
 * operations, with the model state and the journal head after every commit, so that a damaged
 * copy can be judged against every state the cartridge ever had. Also the helpers those
 * campaigns share: planting bytes on fault storage, listing the records of a file, seeds.
 */

export const BUILT_PATH = '/torture/damaged.cart';

export interface BuiltCartridge {
  readonly name: string;
  readonly bytes: Buffer;
  /** `heads[i]` is the journal head after commit i; commit 0 is the genesis. */
  readonly heads: readonly number[];
  /** `models[i]` is the state after commit i. */
  readonly models: readonly ModelState[];
  /** The journal length the chosen header slot records as durable. */
  readonly syncedLength: number;
  /** The last commit that lies inside `syncedLength`: no recovery may go back before it. */
  readonly durableIndex: number;
}

export interface BuildSpec {
  readonly name: string;
  readonly options: CartridgeOptions;
  readonly operations: readonly Operation[];
  /** True closes the cartridge; false leaves it as a machine that died after the last write. */
  readonly close: boolean;
}

/** Options that keep the build deterministic: no timed sync, no automatic checkpoint. */
const QUIET_OPTIONS: CartridgeOptions = {
  syncIntervalMs: 3_600_000,
  checkpointIntervalBytes: 2 ** 40,
};

/** Runs the operations, recording each commit's head and model; see `BuiltCartridge`. */
export function buildCartridge(spec: BuildSpec): BuiltCartridge {
  const storage = new FaultStorage(1);
  const cartridge = Cartridge.create(BUILT_PATH, { ...QUIET_OPTIONS, ...spec.options, storage });
  const heads = [cartridge.head];
  let model: ModelState = new Map();
  const models = [model];
  for (const operation of spec.operations) {
    applyToCartridge(cartridge, operation);
    model = applyToModel(model, operation);
    if (cartridge.head !== heads[heads.length - 1]) {
      heads.push(cartridge.head);
      models.push(model);
    }
  }
  if (spec.close) cartridge.close();
  const bytes = storage.snapshot(BUILT_PATH);
  // Close may add one commit of its own (a checkpoint), which changes no state.
  if (bytes.length > (heads[heads.length - 1] as number)) {
    heads.push(bytes.length);
    models.push(model);
  }
  const syncedLength = headerOf(bytes).syncedLength;
  const durableIndex = lastCommitAtOrBefore(heads, syncedLength);
  return { name: spec.name, bytes, heads, models, syncedLength, durableIndex };
}

export function headerOf(bytes: Buffer): ReturnType<typeof chooseFileHeader> {
  return chooseFileHeader([
    bytes.subarray(0, HEADER_SLOT_BYTES),
    bytes.subarray(HEADER_SLOT_BYTES, 2 * HEADER_SLOT_BYTES),
  ]);
}

/** The index of the last commit whose head is at or before `offset`. */
export function lastCommitAtOrBefore(heads: readonly number[], offset: number): number {
  let found = 0;
  heads.forEach((head, index) => {
    if (head <= offset) found = index;
  });
  return found;
}

/** Fault storage holding `bytes` at `BUILT_PATH`, durable, as a fresh machine would see it. */
export function plant(bytes: Uint8Array, seed = 2): FaultStorage {
  const storage = new FaultStorage(seed);
  storage.setBytes(BUILT_PATH, bytes);
  return storage;
}

/** Every record of an intact file, with copies of its bytes (the scanner reuses its buffer). */
export function recordsOf(bytes: Buffer): RawRecord[] {
  const file = plant(bytes).open(BUILT_PATH, { create: false, truncate: false, readOnly: true });
  const scanner = new RecordScanner(file, JOURNAL_START_OFFSET, bytes.length);
  const records: RawRecord[] = [];
  for (let step = scanner.next(); step.kind === 'record'; step = scanner.next()) {
    const raw = step.raw;
    records.push({
      ...raw,
      headerBytes: Buffer.from(raw.headerBytes),
      body: Buffer.from(raw.body),
      storedBlob: Buffer.from(raw.storedBlob),
    });
  }
  file.close();
  return records;
}

/** The fault injector's seeded PRNG, so that every run with one seed plants the same damage. */
export { seededRandom };

let runSeed: number | undefined;

/**
 * The run's seed, the same for every campaign of one run: `TORTURE_SEED` when set (to replay
 * a run), otherwise one from the clock.
 */
export function tortureSeed(): number {
  runSeed ??= seedFromEnvironment();
  return runSeed;
}

function seedFromEnvironment(): number {
  const fromEnv = process.env.TORTURE_SEED;
  if (fromEnv === undefined || fromEnv === '') return Date.now() % 2 ** 31;
  const seed = Number(fromEnv);
  if (!Number.isSafeInteger(seed))
    throw new Error(`TORTURE_SEED must be an integer, not ${fromEnv}`);
  return seed;
}

/** Deterministic content: incompressible random bytes. */
export function randomBytesOf(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

/** Deterministic content: log-like text, which every codec compresses well. */
export function logTextOf(length: number, seed: number): Buffer {
  const lines: string[] = [];
  let total = 0;
  for (let line = 0; total < length; line++) {
    const text =
      `2026-11-${String((line % 28) + 1).padStart(2, '0')} ${seed}:${line % 60} INFO ` +
      `served /api/items/${(line * 7 + seed) % 31} in ${line % 17} ms\n`;
    lines.push(text);
    total += text.length;
  }
  return Buffer.from(lines.join('')).subarray(0, length);
}
