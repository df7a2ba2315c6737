import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Cartridge,
  CartridgeError,
  type CartridgeErrorCode,
  type CartridgeOptions,
  type CipherName,
  type CompressionName,
  type Content,
  type Durability,
  MemoryStorage,
} from '../../src/index.js';

/**
 * Model-based test of the public Cartridge API. Every random operation runs against the
 * engine and against a reference model (a map of canonical path -> entry) and every observable
 * result must agree: returned bytes, thrown error codes, listings, metadata and block counts.
 * Close + reopen, checkpoints (manual and automatic) and transactions (aborted, committed,
 * nested with savepoints) are interleaved, and the journal must verify at the end. Half the
 * runs encrypt the cartridge (either cipher) and rotate its key now and then, reopening with
 * the current key and the older ones in the keyring.
 *
 * `PROPERTY_RUNS` sets the number of runs, `PROPERTY_SEED` (and `PROPERTY_PATH`) replay one.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '80', 10) || 80;
const SEED = process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);
const REPLAY_PATH = process.env['PROPERTY_PATH'];

const BLOCK_BYTES = 4096;
/** Where the journal starts, after the two 4 KiB header slots. */
const JOURNAL_START_OFFSET = 8192;
const MIB = 1024 * 1024;

// ---- the reference model ------------------------------------------------------------------

type ModelNode = { readonly type: 'file'; readonly bytes: Buffer } | { readonly type: 'directory' };

type Outcome =
  | { readonly ok: unknown }
  | { readonly code: CartridgeErrorCode }
  | { readonly aborted: string };

/** What a model operation predicts, and whether it stages a record (changes the journal). */
interface Prediction {
  readonly outcome: Outcome;
  readonly mutated: boolean;
}

function blocksFor(sizeBytes: number): number {
  return Math.ceil(sizeBytes / BLOCK_BYTES);
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Ancestors from the root down, excluding the root and the path itself. */
function ancestorsOf(path: string): string[] {
  const segments = path.split('/').filter((segment) => segment !== '');
  return segments.slice(0, -1).map((_, index) => `/${segments.slice(0, index + 1).join('/')}`);
}

const ok = (value: unknown = undefined): Outcome => ({ ok: value });
const fail = (code: CartridgeErrorCode): Prediction => ({ outcome: { code }, mutated: false });
const done = (value: unknown = undefined, mutated = true): Prediction => ({ outcome: ok(value), mutated });

class Model {
  /** Every entry but the root, which always exists and is a directory. */
  private readonly entries: Map<string, ModelNode>;

  constructor(
    readonly capacityBlocks: number | null,
    entries: Map<string, ModelNode> = new Map(),
  ) {
    this.entries = entries;
  }

  clone(): Model {
    // Nodes are immutable (bytes are replaced, never edited), so a shallow copy is enough.
    return new Model(this.capacityBlocks, new Map(this.entries));
  }

  get(path: string): ModelNode | undefined {
    return path === '/' ? { type: 'directory' } : this.entries.get(path);
  }

  get usedBlocks(): number {
    let used = 0;
    for (const node of this.entries.values()) if (node.type === 'file') used += blocksFor(node.bytes.length);
    return used;
  }

  get fileCount(): number {
    return [...this.entries.values()].filter((node) => node.type === 'file').length;
  }

  /** Directories including the root. */
  get directoryCount(): number {
    return this.entries.size - this.fileCount + 1;
  }

  childrenOf(path: string): string[] {
    const names: string[] = [];
    for (const key of this.entries.keys()) if (key !== '/' && parentOf(key) === path) names.push(nameOf(key));
    return names.sort();
  }

  private fits(addedBlocks: number, releasedBlocks: number): boolean {
    if (this.capacityBlocks === null) return true;
    return this.usedBlocks - releasedBlocks + addedBlocks <= this.capacityBlocks;
  }

  /** Why a missing path is missing: a file on the way (ENOTDIR) or a missing directory. */
  private lookup(path: string): ModelNode | CartridgeErrorCode {
    const node = this.get(path);
    if (node !== undefined) return node;
    for (const ancestor of ancestorsOf(path)) {
      const above = this.get(ancestor);
      if (above === undefined) break;
      if (above.type === 'file') return 'ENOTDIR';
    }
    return 'ENOENT';
  }

  createFile(path: string, bytes: Buffer): Prediction {
    if (this.get(path) !== undefined) return fail('EEXIST');
    // Path errors come before space errors, as in writeFile.
    if (ancestorsOf(path).some((ancestor) => this.get(ancestor)?.type === 'file')) return fail('ENOTDIR');
    if (!this.fits(blocksFor(bytes.length), 0)) return fail('ENOSPC');
    for (const ancestor of ancestorsOf(path)) {
      if (this.get(ancestor) === undefined) this.entries.set(ancestor, { type: 'directory' });
    }
    this.entries.set(path, { type: 'file', bytes });
    return done();
  }

  writeFile(path: string, bytes: Buffer): Prediction {
    const node = this.lookup(path);
    if (typeof node === 'string') return fail(node);
    if (node.type === 'directory') return fail('EISDIR');
    if (!this.fits(blocksFor(bytes.length), blocksFor(node.bytes.length))) return fail('ENOSPC');
    this.entries.set(path, { type: 'file', bytes });
    return done();
  }

  appendFile(path: string, bytes: Buffer): Prediction {
    const node = this.lookup(path);
    if (typeof node === 'string') return fail(node);
    if (node.type === 'directory') return fail('EISDIR');
    // Appending nothing writes no record.
    if (bytes.length === 0) return done(undefined, false);
    const grown = node.bytes.length + bytes.length;
    if (!this.fits(blocksFor(grown), blocksFor(node.bytes.length))) return fail('ENOSPC');
    this.entries.set(path, { type: 'file', bytes: Buffer.concat([node.bytes, bytes]) });
    return done();
  }

  deleteFile(path: string): Prediction {
    if (path === '/') return fail('EINVAL');
    const node = this.lookup(path);
    if (typeof node === 'string') return fail(node);
    if (node.type === 'directory' && this.childrenOf(path).length > 0) return fail('ENOTEMPTY');
    this.entries.delete(path);
    return done();
  }

  createDir(path: string, recursive: boolean): Prediction {
    const existing = this.get(path);
    if (existing !== undefined) {
      return recursive && existing.type === 'directory' ? done(undefined, false) : fail('EEXIST');
    }
    if (recursive) {
      if (ancestorsOf(path).some((ancestor) => this.get(ancestor)?.type === 'file')) return fail('ENOTDIR');
      for (const ancestor of ancestorsOf(path)) {
        if (this.get(ancestor) === undefined) this.entries.set(ancestor, { type: 'directory' });
      }
    } else {
      const parent = this.lookup(parentOf(path));
      if (typeof parent === 'string') return fail(parent);
      if (parent.type === 'file') return fail('ENOTDIR');
    }
    this.entries.set(path, { type: 'directory' });
    return done();
  }

  /** A move: the entry and every entry below it change path; nothing else changes. */
  rename(from: string, to: string): Prediction {
    if (from === '/') return fail('EINVAL');
    if (to === '/') return fail('EEXIST');
    if (to.startsWith(`${from}/`)) return fail('EINVAL');
    const node = this.lookup(from);
    if (typeof node === 'string') return fail(node);
    if (from === to) return done(undefined, false);
    if (this.get(to) !== undefined) return fail('EEXIST');
    const parent = this.lookup(parentOf(to));
    if (typeof parent === 'string') return fail(parent);
    if (parent.type === 'file') return fail('ENOTDIR');
    for (const [path, moved] of [...this.entries]) {
      if (path !== from && !path.startsWith(`${from}/`)) continue;
      this.entries.delete(path);
      this.entries.set(to + path.slice(from.length), moved);
    }
    return done();
  }

  readFile(path: string): Prediction {
    const node = this.lookup(path);
    if (typeof node === 'string') return fail(node);
    if (node.type === 'directory') return fail('EISDIR');
    return done(node.bytes, false);
  }

  listDir(path: string): Prediction {
    const node = this.lookup(path);
    if (typeof node === 'string') return fail(node);
    if (node.type === 'file') return fail('ENOTDIR');
    return done(this.childrenOf(path), false);
  }

  exists(path: string): Prediction {
    return done(this.get(path) !== undefined, false);
  }

  metadata(path: string): Prediction {
    const node = this.lookup(path);
    if (typeof node === 'string') return fail(node);
    const sizeBytes = node.type === 'file' ? node.bytes.length : 0;
    return done({ type: node.type, path, sizeBytes, blockCount: blocksFor(sizeBytes) }, false);
  }
}

// ---- operations ---------------------------------------------------------------------------

/** A canonical path and one of several spellings of it that canonicalise to the same key. */
interface PathSpec {
  readonly canonical: string;
  readonly spelling: number;
}

const SPELLING_COUNT = 6;

/**
 * Spells a canonical path another way: relative, with `.`, doubled slashes, `..` detours. No
 * spelling ends in `/`: a trailing slash names a directory only (test/api/path-rules.api.test.ts).
 */
function spell({ canonical, spelling }: PathSpec): string {
  const segments = canonical.split('/').filter((segment) => segment !== '');
  const last = segments.length - 1;
  switch (spelling) {
    case 1:
      return segments.length === 0 ? '.' : segments.join('/');
    case 2:
      return `/${[...segments.slice(0, last), '.', ...segments.slice(last)].join('/')}`;
    case 3:
      return `//${segments.join('//')}`;
    case 4:
      return `/${[...segments.slice(0, last), 'zz', '..', ...segments.slice(last)].join('/')}`;
    case 5:
      return `/../${segments.join('/')}`;
    default:
      return canonical;
  }
}

type ContentSpec =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly padding: number }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'sized'; readonly length: number; readonly seed: number; readonly compressible: boolean };

type LeafOp =
  | {
      readonly kind: 'createFile' | 'writeFile' | 'appendFile';
      readonly path: PathSpec;
      readonly content: ContentSpec;
    }
  | { readonly kind: 'deleteFile' | 'readFile' | 'listDir' | 'exists' | 'metadata'; readonly path: PathSpec }
  | { readonly kind: 'createDir'; readonly path: PathSpec; readonly recursive: boolean | undefined }
  | { readonly kind: 'rename'; readonly path: PathSpec; readonly target: PathSpec };

type TransactionStep =
  | LeafOp
  | { readonly kind: 'nested'; readonly steps: readonly LeafOp[]; readonly fail: boolean }
  | { readonly kind: 'checkpointInside' | 'verifyInside' | 'flushInside' };

type Op =
  | LeafOp
  | {
      readonly kind: 'transaction';
      readonly steps: readonly TransactionStep[];
      /** Where the body throws to abort (before that step, or after the last); null commits. */
      readonly abortAt: number | null;
    }
  | { readonly kind: 'flush' | 'reopen' | 'readOnlyPeek' | 'checkpoint' | 'verify' | 'rotateKey' };

type Backend = 'file' | 'memory-storage' | 'memory';

interface RunConfig {
  readonly backend: Backend;
  readonly compression: CompressionName;
  readonly durability: Durability;
  readonly checkpointIntervalBytes: number | undefined;
  readonly capacityBlocks: number | null;
  readonly bufferPoolBytes: number | undefined;
  /** Encrypted with this cipher, or plain. */
  readonly cipher: CipherName | undefined;
}

const segmentArbitrary = fc.constantFrom('a', 'b', 'c');

const pathArbitrary: fc.Arbitrary<PathSpec> = fc.record({
  canonical: fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .array(segmentArbitrary, { minLength: 1, maxLength: 3 })
        .map((names) => `/${names.join('/')}`),
    },
    { weight: 1, arbitrary: fc.constant('/') },
  ),
  spelling: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: SPELLING_COUNT - 1 }) },
  ),
});

/** Mostly small contents; some span several blocks; a few cross the 1 MiB data record size. */
const contentArbitrary: fc.Arbitrary<ContentSpec> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      bytes: fc.uint8Array({ maxLength: 48 }),
      // A view that does not start at offset 0 of its buffer, as callers' slices do.
      padding: fc.constantFrom(0, 0, 3, 17),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.string({ maxLength: 20 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('sized' as const),
      length: fc.integer({ min: 500, max: 5 * BLOCK_BYTES + 7 }),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
      compressible: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('sized' as const),
      length: fc.constantFrom(MIB - 1, MIB, MIB + 1, 2 * MIB + 5),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
      compressible: fc.boolean(),
    }),
  },
);

/** A directory-like path one or two levels down (where files' parents are). */
const shallowPathArbitrary: fc.Arbitrary<PathSpec> = fc
  .array(segmentArbitrary, { minLength: 1, maxLength: 2 })
  .map((names) => ({ canonical: `/${names.join('/')}`, spelling: 0 }));

/** A rename target under a name only renames use, at the root or one level down. */
const freshTargetArbitrary: fc.Arbitrary<PathSpec> = fc
  .tuple(fc.constantFrom('', '/a', '/b'), fc.constantFrom('moved-1', 'moved-2'))
  .map(([parent, name]) => ({ canonical: `${parent}/${name}`, spelling: 0 }));

const writeKinds = ['createFile', 'writeFile', 'appendFile'] as const;
const pathOnlyKinds = ['deleteFile', 'readFile', 'listDir', 'exists', 'metadata'] as const;

const leafArbitrary: fc.Arbitrary<LeafOp> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constantFrom(...writeKinds),
      path: pathArbitrary,
      content: contentArbitrary,
    }),
  },
  // createFile is the way most entries come to exist, so it gets extra weight.
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('createFile' as const),
      path: pathArbitrary,
      content: contentArbitrary,
    }),
  },
  { weight: 10, arbitrary: fc.record({ kind: fc.constantFrom(...pathOnlyKinds), path: pathArbitrary }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('createDir' as const),
      path: pathArbitrary,
      recursive: fc.constantFrom(true, false, undefined),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('rename' as const), path: pathArbitrary, target: pathArbitrary }),
  },
  // Directories near the root moved to a name the other operations never use, so that moves
  // of whole subtrees succeed often: among a, b and c the target is usually taken.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('rename' as const),
      path: shallowPathArbitrary,
      target: freshTargetArbitrary,
    }),
  },
);

const transactionStepArbitrary: fc.Arbitrary<TransactionStep> = fc.oneof(
  { weight: 8, arbitrary: leafArbitrary },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('nested' as const),
      steps: fc.array(leafArbitrary, { maxLength: 4 }),
      fail: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constantFrom('checkpointInside', 'verifyInside', 'flushInside') }),
  },
);

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 30, arbitrary: leafArbitrary },
  {
    weight: 6,
    arbitrary: fc
      .array(transactionStepArbitrary, { maxLength: 6 })
      .chain((steps) =>
        fc.record({
          kind: fc.constant('transaction' as const),
          steps: fc.constant(steps),
          abortAt: fc.option(fc.integer({ min: 0, max: steps.length }), { freq: 3 }),
        }),
      ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('flush', 'checkpoint', 'verify') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('readOnlyPeek' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rotateKey' as const) }) },
);

const configArbitrary: fc.Arbitrary<RunConfig> = fc.record({
  backend: fc.constantFrom<Backend>('file', 'memory-storage', 'memory'),
  compression: fc.constantFrom<CompressionName>('zstd', 'lz4', 'none'),
  durability: fc.constantFrom<Durability>('full', 'normal', 'off'),
  checkpointIntervalBytes: fc.constantFrom(undefined, 4096, 4096),
  // Tiny capacities refuse most multi-block contents; middling ones refuse some large files.
  capacityBlocks: fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 16 }) },
    { weight: 1, arbitrary: fc.integer({ min: 300, max: 800 }) },
  ),
  // A pool of zero bytes sends every read to the journal instead of the cache.
  bufferPoolBytes: fc.constantFrom(undefined, 0, 64 * 1024),
  cipher: fc.constantFrom<CipherName | undefined>(undefined, undefined, 'aes-256-gcm', 'chacha20-poly1305'),
});

// ---- contents -----------------------------------------------------------------------------

/** Deterministic bytes: a short repeating pattern, or xorshift noise no codec can shrink. */
function sizedBytes(length: number, seed: number, compressible: boolean): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  if (compressible) {
    for (let index = 0; index < length; index++) bytes[index] = (index % 61) ^ (seed & 0xff);
    return bytes;
  }
  let state = seed | 1;
  const words = Math.floor(length / 4);
  for (let index = 0; index < words; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes.writeInt32LE(state | 0, index * 4);
  }
  for (let index = words * 4; index < length; index++) bytes[index] = index & 0xff;
  return bytes;
}

/** The content handed to the engine, and an independent copy of its bytes for the model. */
function materialise(spec: ContentSpec): { content: Content; bytes: Buffer } {
  switch (spec.kind) {
    case 'text':
      return { content: spec.text, bytes: Buffer.from(spec.text, 'utf8') };
    case 'bytes': {
      const backing = new Uint8Array(spec.padding + spec.bytes.length + 5).fill(0xee);
      backing.set(spec.bytes, spec.padding);
      const content = backing.subarray(spec.padding, spec.padding + spec.bytes.length);
      return { content, bytes: Buffer.from(spec.bytes) };
    }
    case 'sized': {
      const bytes = sizedBytes(spec.length, spec.seed, spec.compressible);
      return { content: bytes, bytes: Buffer.from(bytes) };
    }
  }
}

function digest(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** Outcomes in a form `toEqual` compares cheaply: buffers become their length and digest. */
function comparable(outcome: Outcome): unknown {
  if ('ok' in outcome && outcome.ok instanceof Uint8Array) {
    return { ok: { bytes: outcome.ok.length, sha1: digest(outcome.ok) } };
  }
  return outcome;
}

function describeOp(op: Op | TransactionStep): string {
  return JSON.stringify(op, (key, value: unknown) => {
    if (key === 'content' && typeof value === 'object' && value !== null && 'kind' in value) {
      const spec = value as ContentSpec;
      if (spec.kind === 'text') return spec;
      return `${spec.kind}:${spec.kind === 'sized' ? spec.length : spec.bytes.length}B`;
    }
    return value;
  });
}

// ---- running the engine and the model side by side ------------------------------------------

/** The sentinel a transaction body throws to abort; never a CartridgeError. */
class AbortTransaction extends Error {
  constructor(readonly label: string) {
    super(`abort ${label}`);
  }
}

/** Runs an engine call; Cartridge errors and aborts become outcomes, anything else propagates. */
function capture(run: () => unknown): Outcome {
  try {
    return { ok: run() };
  } catch (error) {
    if (error instanceof CartridgeError) return { code: error.code };
    if (error instanceof AbortTransaction) return { aborted: error.label };
    throw error;
  }
}

/**
 * What the random operations reached across all runs (error codes of random calls, and the
 * situations worth reaching), so that a change to the generators cannot quietly stop testing.
 */
const observedCodes = new Set<CartridgeErrorCode>();
let propertyHeld = false;
const reached = {
  reopenWithFiles: 0, automaticCheckpoint: 0, largeWritten: 0,
  abortedWithChanges: 0, savepointUndone: 0, savepointKept: 0, keyRotatedWithFiles: 0,
  directoryMoved: 0,
};

interface Harness {
  cart: Cartridge;
  model: Model;
  readonly config: RunConfig;
  readonly location: string;
  readonly storage: MemoryStorage | undefined;
  /** The encryption keys so far, the current one last. */
  readonly keys: Buffer[];
}

/** The n-th key of a run: deterministic, so that a failing run replays. */
function keyNumber(n: number): Buffer {
  return createHash('sha256').update(`model key ${n}`).digest();
}

function encryptionOptions(config: RunConfig, keys: readonly Buffer[]): CartridgeOptions {
  if (config.cipher === undefined) return {};
  return {
    cipher: config.cipher,
    encryptionKey: keys[keys.length - 1] as Buffer,
    keyring: keys.slice(0, -1),
  };
}

function engineOptions(
  config: RunConfig,
  storage: MemoryStorage | undefined,
  keys: readonly Buffer[],
): CartridgeOptions {
  return {
    ...encryptionOptions(config, keys),
    compression: config.compression,
    durability: config.durability,
    ...(config.checkpointIntervalBytes === undefined
      ? {}
      : { checkpointIntervalBytes: config.checkpointIntervalBytes }),
    ...(config.bufferPoolBytes === undefined ? {} : { bufferPoolBytes: config.bufferPoolBytes }),
    ...(storage === undefined ? {} : { storage }),
  };
}

/** Runs one leaf operation on the engine and on `model`, and compares what they return. */
function runLeaf(cart: Cartridge, model: Model, op: LeafOp, label: string): Prediction {
  const path = spell(op.path);
  let predicted: Prediction;
  let actual: Outcome;
  switch (op.kind) {
    case 'createFile':
    case 'writeFile':
    case 'appendFile': {
      const { content, bytes } = materialise(op.content);
      actual = capture(() => cart[op.kind](path, content));
      predicted = model[op.kind](op.path.canonical, bytes);
      if (predicted.mutated && bytes.length > MIB) reached.largeWritten++;
      // The engine must own its copy once the call returns (and in a transaction, until commit).
      if (content instanceof Uint8Array) content.fill(0x5a);
      break;
    }
    case 'createDir': {
      // Leaving the options out must mean the same as recursive: false.
      const options = op.recursive === undefined ? undefined : { recursive: op.recursive };
      actual = capture(() => cart.createDir(path, options));
      predicted = model.createDir(op.path.canonical, op.recursive === true);
      break;
    }
    case 'rename': {
      actual = capture(() => cart.rename(path, spell(op.target)));
      predicted = model.rename(op.path.canonical, op.target.canonical);
      if (predicted.mutated && model.get(op.target.canonical)?.type === 'directory') reached.directoryMoved++;
      break;
    }
    case 'metadata': {
      actual = capture(() => {
        const { type, path: canonical, sizeBytes, blockCount } = cart.metadata(path);
        return { type, path: canonical, sizeBytes, blockCount };
      });
      predicted = model.metadata(op.path.canonical);
      break;
    }
    default:
      actual = capture(() => cart[op.kind](path));
      predicted = model[op.kind](op.path.canonical);
  }
  if ('code' in actual && !label.includes('[full compare]')) observedCodes.add(actual.code);
  expect(comparable(actual), `${label}: ${describeOp(op)}`).toEqual(comparable(predicted.outcome));
  return predicted;
}

/** Checks the counters of stats() against the model, and the invariants between them. */
function checkStats(harness: Harness, label: string): void {
  const stats = harness.cart.stats();
  const { model } = harness;
  const used = model.usedBlocks;
  const total = model.capacityBlocks ?? used;
  expect(
    {
      usedBlocks: stats.usedBlocks, totalBlocks: stats.totalBlocks, freeBlocks: stats.freeBlocks,
      capacityBlocks: stats.capacityBlocks, fileCount: stats.fileCount, directoryCount: stats.directoryCount,
    },
    `${label}: stats`,
  ).toEqual({
    usedBlocks: used, totalBlocks: total, freeBlocks: total - used, capacityBlocks: model.capacityBlocks,
    fileCount: model.fileCount, directoryCount: model.directoryCount,
  });
  expect(stats.head).toBe(harness.cart.head);
  expect(stats.fragmentation).toBeGreaterThanOrEqual(0);
  expect(stats.fragmentation).toBeLessThanOrEqual(1);
  expect(stats.liveBytes).toBeGreaterThanOrEqual(0);
  expect(stats.deadBytes).toBe(stats.journalBytes - stats.liveBytes);
  expect(stats.syncedLength).toBeLessThanOrEqual(stats.head);
}

/** Every path of the small alphabet, so a full comparison covers every possible entry. */
const UNIVERSE: readonly string[] = (() => {
  const paths = ['/'];
  const grow = (prefix: string, depth: number): void => {
    if (depth === 0) return;
    for (const segment of ['a', 'b', 'c']) {
      const path = `${prefix}/${segment}`;
      paths.push(path);
      grow(path, depth - 1);
    }
  };
  grow('', 3);
  return paths;
})();

/** Compares every observable of every possible path (after reopen, and at the end). */
function compareEverything(harness: Harness, label: string): void {
  for (const canonical of UNIVERSE) {
    const path: PathSpec = { canonical, spelling: 0 };
    for (const kind of ['exists', 'metadata', 'readFile', 'listDir'] as const) {
      runLeaf(harness.cart, harness.model, { kind, path }, `${label} [full compare]`);
    }
  }
  checkStats(harness, label);
}

function reopen(harness: Harness, readOnly: boolean): void {
  harness.cart.close();
  expectClosed(harness.cart);
  const options = { ...engineOptions(harness.config, harness.storage, harness.keys), readOnly };
  harness.cart = Cartridge.open(harness.location, options);
  // A clean close leaves nothing for recovery to repair.
  expect(harness.cart.recovery.decision).toBe('accept');
  expect(harness.cart.readOnly).toBe(readOnly);
}

function expectClosed(cart: Cartridge): void {
  expect(capture(() => cart.readFile('/a'))).toEqual({ code: 'CARTRIDGE_CLOSED' });
  expect(capture(() => cart.createFile('/a', 'x'))).toEqual({ code: 'CARTRIDGE_CLOSED' });
}

function runTransaction(harness: Harness, op: Extract<Op, { kind: 'transaction' }>, label: string): void {
  const { cart } = harness;
  const headBefore = cart.head;
  const recordsBefore = cart.stats().recordCount;
  const scratch = { model: harness.model.clone(), mutated: false };
  const outcome = capture(() =>
    cart.transaction(() => {
      op.steps.forEach((step, index) => {
        if (op.abortAt === index) throw new AbortTransaction('outer');
        const stepLabel = `${label} step ${index}`;
        runTransactionStep(harness, scratch, step, stepLabel);
        // Nothing is committed before the transaction ends: one commit, at the end.
        expect(cart.head, `${stepLabel}: head inside a transaction`).toBe(headBefore);
        expect(cart.stats().recordCount).toBe(recordsBefore);
      });
      if (op.abortAt !== null && op.abortAt >= op.steps.length) throw new AbortTransaction('outer');
      return 'committed';
    }),
  );
  if (op.abortAt !== null) {
    if (scratch.mutated) reached.abortedWithChanges++;
    expect(outcome, label).toEqual({ aborted: 'outer' });
    expect(cart.head, `${label}: an aborted transaction leaves the head`).toBe(headBefore);
    expect(cart.stats().recordCount).toBe(recordsBefore);
    return;
  }
  expect(outcome, label).toEqual({ ok: 'committed' });
  harness.model = scratch.model;
  expectHeadAfterCommit(cart, headBefore, scratch.mutated, label);
}

function runTransactionStep(
  harness: Harness,
  scratch: { model: Model; mutated: boolean },
  step: TransactionStep,
  label: string,
): void {
  const { cart } = harness;
  switch (step.kind) {
    case 'checkpointInside':
      expect(capture(() => cart.checkpoint()), label).toEqual({ code: 'INVALID_ARGUMENT' });
      return;
    case 'verifyInside':
      expect(capture(() => cart.verify()), label).toEqual({ code: 'INVALID_ARGUMENT' });
      return;
    case 'flushInside':
      expect(capture(() => cart.flush()), label).toEqual({ ok: undefined });
      return;
    case 'nested': {
      const inner = { model: scratch.model.clone(), mutated: false };
      const outcome = capture(() =>
        cart.transaction(() => {
          step.steps.forEach((leaf, index) => {
            const predicted = runLeaf(cart, inner.model, leaf, `${label} inner ${index}`);
            inner.mutated ||= predicted.mutated;
          });
          if (step.fail) throw new AbortTransaction('inner');
          return 'savepoint';
        }),
      );
      if (inner.mutated) reached[step.fail ? 'savepointUndone' : 'savepointKept']++;
      if (step.fail) {
        // The savepoint is undone; the outer transaction goes on with the state before it.
        expect(outcome, label).toEqual({ aborted: 'inner' });
        return;
      }
      expect(outcome, label).toEqual({ ok: 'savepoint' });
      scratch.model = inner.model;
      scratch.mutated ||= inner.mutated;
      return;
    }
    default: {
      const predicted = runLeaf(cart, scratch.model, step, label);
      scratch.mutated ||= predicted.mutated;
    }
  }
}

/**
 * After a successful call the head moves forward exactly when records were staged: a call or
 * transaction that changes nothing writes nothing (not even an automatic checkpoint).
 */
function expectHeadAfterCommit(cart: Cartridge, headBefore: number, mutated: boolean, label: string): void {
  if (!mutated) {
    expect(cart.head, `${label}: nothing changed, nothing written`).toBe(headBefore);
    return;
  }
  expect(cart.head, `${label}: head after a commit`).toBeGreaterThan(headBefore);
  if (cart.stats().checkpointOffset >= headBefore) reached.automaticCheckpoint++;
}

function runOp(harness: Harness, op: Op, label: string): void {
  const headBefore = harness.cart.head;
  switch (op.kind) {
    case 'transaction':
      runTransaction(harness, op, label);
      break;
    case 'flush':
      harness.cart.flush();
      expect(harness.cart.stats().syncedLength, `${label}: flush syncs to the head`).toBe(harness.cart.head);
      break;
    case 'checkpoint':
      harness.cart.checkpoint();
      // The changed index pages come first, then the root the header will name.
      expect(harness.cart.stats().checkpointOffset, `${label}: checkpoint root after the old head`).toBeGreaterThanOrEqual(headBefore);
      expect(harness.cart.head).toBeGreaterThan(harness.cart.stats().checkpointOffset);
      expect(harness.cart.stats().dirtyIndexPages, `${label}: nothing left dirty`).toBe(0);
      break;
    case 'verify':
      expectVerified(harness.cart, label);
      break;
    case 'reopen':
      if (harness.config.backend === 'memory') break;
      reopen(harness, false);
      if (harness.model.fileCount > 0) reached.reopenWithFiles++;
      if (harness.cart.head !== headBefore) {
        // Close writes a checkpoint when much journal follows the last one (the changed index
        // pages, then the root), and nothing else; it syncs in every durability mode, so the
        // header names that root, the last record.
        const named = harness.cart.stats().checkpointOffset;
        expect(named, `${label}: reopen starts at the close's checkpoint`).toBeGreaterThanOrEqual(headBefore);
        expect(harness.cart.recovery.checkpointOffset, `${label}: open used it`).toBe(named);
        expect(harness.cart.head, `${label}: the root is the last record`).toBeGreaterThan(named);
      }
      compareEverything(harness, label);
      break;
    case 'rotateKey': {
      const key = keyNumber(harness.keys.length);
      if (harness.config.cipher === undefined) {
        expect(capture(() => harness.cart.rotateKey(key))).toEqual({ code: 'INVALID_ARGUMENT' });
        break;
      }
      const keyId = harness.cart.rotateKey(key);
      harness.keys.push(key);
      expect(harness.cart.encryption).toEqual({ cipher: harness.config.cipher, keyId });
      expect(harness.cart.head, `${label}: a rotation is a record`).toBeGreaterThan(headBefore);
      expect(harness.cart.stats().syncedLength, `${label}: a rotation is durable`).toBe(harness.cart.head);
      if (harness.model.fileCount > 0) reached.keyRotatedWithFiles++;
      break;
    }
    case 'readOnlyPeek':
      if (harness.config.backend === 'memory') break;
      reopen(harness, true);
      compareEverything(harness, `${label} (read-only)`);
      expect(capture(() => harness.cart.createFile('/z', 'x'))).toEqual({ code: 'READ_ONLY' });
      expect(capture(() => harness.cart.checkpoint())).toEqual({ code: 'READ_ONLY' });
      expect(capture(() => harness.cart.transaction(() => 1))).toEqual({ code: 'READ_ONLY' });
      reopen(harness, false);
      break;
    default: {
      const predicted = runLeaf(harness.cart, harness.model, op, label);
      if ('code' in predicted.outcome) {
        expect(harness.cart.head, `${label}: a failed call leaves the head`).toBe(headBefore);
      } else {
        expectHeadAfterCommit(harness.cart, headBefore, predicted.mutated, label);
      }
    }
  }
  expect(harness.cart.head, `${label}: the head never moves back`).toBeGreaterThanOrEqual(headBefore);
  checkStats(harness, label);
}

function expectVerified(cart: Cartridge, label: string): void {
  const report = cart.verify();
  const stats = cart.stats();
  expect(
    { ok: report.ok, stateMatches: report.stateMatches, damageOffset: report.damageOffset },
    `${label}: verify`,
  ).toEqual({ ok: true, stateMatches: true, damageOffset: null });
  expect(report.recordsChecked).toBe(stats.recordCount);
  expect(report.bytesChecked).toBe(cart.head - JOURNAL_START_OFFSET);
}

function runScenario(config: RunConfig, ops: readonly Op[]): void {
  const directory = config.backend === 'file' ? mkdtempSync(join(tmpdir(), 'cartridge-model-')) : undefined;
  const storage = config.backend === 'memory-storage' ? new MemoryStorage() : undefined;
  const location = directory === undefined ? '/virtual/model.cart' : join(directory, 'model.cart');
  const keys = [keyNumber(0)];
  const options: CartridgeOptions = {
    ...engineOptions(config, storage, keys),
    capacityBlocks: config.capacityBlocks,
  };
  const cart = config.backend === 'memory' ? Cartridge.memory(options) : Cartridge.create(location, options);
  const harness: Harness = { cart, model: new Model(config.capacityBlocks), config, location, storage, keys };
  let finished = false;
  try {
    ops.forEach((op, index) => runOp(harness, op, `op ${index}`));
    expectVerified(harness.cart, 'end');
    compareEverything(harness, 'end');
    harness.cart.close();
    expectClosed(harness.cart);
    if (config.backend !== 'memory') {
      // What was committed survives a final close and open, whatever the durability mode.
      harness.cart = Cartridge.open(location, engineOptions(config, storage, harness.keys));
      compareEverything(harness, 'after final reopen');
      expectVerified(harness.cart, 'after final reopen');
      harness.cart.close();
    }
    finished = true;
  } finally {
    if (!finished) closeAfterFailure(harness.cart);
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  }
}

/** Releases the file after a failed run; the original failure is what gets reported. */
function closeAfterFailure(cart: Cartridge): void {
  try {
    cart.close();
  } catch {
    // A second error here would hide the assertion that failed first.
  }
}

// ---- the properties -------------------------------------------------------------------------

describe('Cartridge model-based property', () => {
  it('agrees with the reference model on every observable result', () => {
    fc.assert(
      fc.property(
        configArbitrary,
        fc.array(opArbitrary, { minLength: 1, maxLength: 50, size: 'max' }),
        runScenario,
      ),
      {
        numRuns: NUM_RUNS,
        ...(SEED === undefined ? {} : { seed: SEED }),
        ...(REPLAY_PATH === undefined ? {} : { path: REPLAY_PATH }),
      },
    );
    propertyHeld = true;
  });

  it('reaches every collision and every situation it is meant to test', (context) => {
    if (process.env['PROPERTY_DEBUG'] !== undefined) {
      console.log(JSON.stringify({ ...reached, codes: [...observedCodes] }));
    }
    // Only meaningful after a complete random run long enough to reach everything.
    if (!propertyHeld || NUM_RUNS < 40 || SEED !== undefined || REPLAY_PATH !== undefined) context.skip();
    const expected: CartridgeErrorCode[] = [
      'ENOENT', 'EEXIST', 'EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'ENOSPC', 'EINVAL',
    ];
    expect([...observedCodes].filter((code) => expected.includes(code)).sort()).toEqual([...expected].sort());
    for (const [situation, count] of Object.entries(reached)) expect(count, situation).toBeGreaterThan(0);
  });

  it('writes automatic checkpoints with a 4096-byte interval and reopens from them', () => {
    const directory = mkdtempSync(join(tmpdir(), 'cartridge-model-'));
    try {
      const location = join(directory, 'auto.cart');
      const cart = Cartridge.create(location, { checkpointIntervalBytes: 4096, compression: 'none' });
      const before = cart.stats().checkpointOffset;
      for (let index = 0; index < 8; index++) cart.createFile(`/f${index}`, sizedBytes(1500, index + 1, false));
      expect(cart.stats().checkpointOffset).toBeGreaterThan(before);
      cart.close();
      const reopened = Cartridge.open(location);
      expect(reopened.listDir('/')).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7']);
      expect(reopened.readFile('/f5').equals(sizedBytes(1500, 6, false))).toBe(true);
      expect(reopened.verify().ok).toBe(true);
      reopened.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
