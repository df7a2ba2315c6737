import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { Cartridge } from '../../src/index.js';
import { readState } from './model.js';
import {
  ackLine,
  type Change,
  type Intent,
  intentLine,
  READY_LINE,
  SeededRandom,
  SIGKILL_DIRECTORIES,
} from './sigkill-protocol.js';
import { emitLine } from '../support/emit-line.js';

/**
 * The child of the SIGKILL campaign: `sigkill-child.ts <cartridge> <seed> [full|off]`. It opens
 * the cartridge the parent prepared (durability 'full' unless told 'off'), says `ready`, then mutates it at random
 * until it is killed. Every operation is announced before it starts and acknowledged after it
 * returned, with synchronous writes to fd 1, so an acknowledgement never precedes its commit.
 */

/** The file names operations choose from; a fixed pool keeps the live state bounded. */
const FILE_PATHS: readonly string[] = [
  ...Array.from({ length: 6 }, (_, index) => `/f${index}`),
  ...SIGKILL_DIRECTORIES.flatMap((dir) => Array.from({ length: 8 }, (_, index) => `${dir}/f${index}`)),
];

/** A bulk transaction rewrites this many files of about 1.4 MiB: more than one write batch. */
const BULK_FILES = 7;
const BULK_PROBABILITY = 0.005;

/** Appends stop growing a file past this; it is rewritten instead. */
const APPEND_LIMIT_BYTES = 3 * 1024 * 1024;

type Step =
  | { readonly kind: 'create' | 'write' | 'append'; readonly path: string; readonly bytes: Buffer }
  | { readonly kind: 'delete'; readonly path: string };

interface Plan {
  readonly op: 'single' | 'transaction' | 'bulk' | 'aborted' | 'checkpoint';
  readonly steps: readonly Step[];
}

/**
 * What the child knows of a file: a running SHA-256 (never finalized; copied before each use)
 * and the size. Appends then cost only the appended bytes, so time outside commits stays short
 * and most kills land inside an operation.
 */
interface FileDigest {
  readonly hash: Hash;
  readonly size: number;
}

type Files = Map<string, FileDigest>;

class AbortTransaction extends Error {}

/** Writes a whole line to stdout synchronously; a non-blocking pipe may ask us to retry. */

/** Mostly small content, sometimes tens of KiB, rarely more than one data record (1 MiB). */
function sizeFor(random: SeededRandom): number {
  const roll = random.float();
  if (roll < 0.01) return random.int(1024 * 1024 + 1, 1600 * 1024);
  if (roll < 0.08) return random.int(4096, 256 * 1024);
  return random.int(0, 4096);
}

/** Half the content is random (incompressible), half repetitive (so zstd is kept). */
function contentFor(random: SeededRandom, size: number): Buffer {
  if (random.float() < 0.5) {
    // AES-CTR over zeros: seeded, and far faster than filling megabytes from JavaScript.
    const key = Buffer.alloc(16);
    for (let word = 0; word < 4; word++) key.writeUInt32LE(random.uint32(), word * 4);
    return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
  }
  return Buffer.alloc(size, `line ${random.uint32()} of cartridge torture\n`);
}

function planStep(random: SeededRandom, files: Files): Step {
  const existing = [...files.keys()];
  const free = FILE_PATHS.filter((path) => !files.has(path));
  const roll = random.float();
  const bytes = contentFor(random, sizeFor(random));
  if (existing.length === 0 || (roll < 0.3 && free.length > 0)) {
    return { kind: 'create', path: random.pick(free), bytes };
  }
  const path = random.pick(existing);
  const tooLarge = (files.get(path)?.size ?? 0) > APPEND_LIMIT_BYTES;
  if (roll < 0.6) return { kind: tooLarge ? 'write' : 'append', path, bytes };
  if (roll < 0.8) return { kind: 'write', path, bytes };
  return { kind: 'delete', path };
}

function digestOfBytes(bytes: Uint8Array): FileDigest {
  return { hash: createHash('sha256').update(bytes), size: bytes.length };
}

function applyStep(files: Files, step: Step): void {
  if (step.kind === 'delete') {
    files.delete(step.path);
    return;
  }
  const before = files.get(step.path);
  if (step.kind !== 'append' || before === undefined) {
    files.set(step.path, digestOfBytes(step.bytes));
    return;
  }
  // The stored hash may be shared with an earlier map, so it is copied, never updated.
  const hash = before.hash.copy().update(step.bytes);
  files.set(step.path, { hash, size: before.size + step.bytes.length });
}

function changeOf(path: string, file: FileDigest | undefined): Change {
  if (file === undefined) return { path, deleted: true };
  return { path, sha256: file.hash.copy().digest('hex'), size: file.size };
}

/**
 * A transaction larger than the writer's 8 MiB write batch, so that it reaches the file in
 * several writes and a kill between (or inside) them leaves a torn tail for recovery to cut.
 */
function planBulk(random: SeededRandom, files: Files): Plan {
  const steps: Step[] = [];
  const candidates = [...FILE_PATHS];
  for (let count = 0; count < BULK_FILES; count++) {
    const [path] = candidates.splice(random.int(0, candidates.length - 1), 1);
    if (path === undefined) break;
    const bytes = contentFor(random, random.int(1200 * 1024, 1600 * 1024));
    steps.push({ kind: files.has(path) ? 'write' : 'create', path, bytes });
  }
  return { op: 'bulk', steps };
}

function planOperation(random: SeededRandom, files: Files): Plan {
  const roll = random.float();
  if (roll < BULK_PROBABILITY) return planBulk(random, files);
  if (roll < 0.03) return { op: 'checkpoint', steps: [] };
  if (roll >= 0.18) return { op: 'single', steps: [planStep(random, files)] };
  // Steps are planned against a scratch copy so that each is valid after the ones before it.
  const scratch = new Map(files);
  const steps: Step[] = [];
  for (let count = random.int(2, 5); count > 0; count--) {
    const step = planStep(random, scratch);
    applyStep(scratch, step);
    steps.push(step);
  }
  return { op: random.float() < 0.1 ? 'aborted' : 'transaction', steps };
}

/** The files after the plan (a copy), and the final state of every path it touches. */
function outcomeOf(plan: Plan, files: Files): { after: Files; changes: Change[] } {
  const after = new Map(files);
  if (plan.op === 'aborted' || plan.op === 'checkpoint') return { after, changes: [] };
  for (const step of plan.steps) applyStep(after, step);
  const touched = new Set(plan.steps.map((step) => step.path));
  return { after, changes: [...touched].map((path) => changeOf(path, after.get(path))) };
}

function runStep(cartridge: Cartridge, step: Step): void {
  if (step.kind === 'create') cartridge.createFile(step.path, step.bytes);
  else if (step.kind === 'write') cartridge.writeFile(step.path, step.bytes);
  else if (step.kind === 'append') cartridge.appendFile(step.path, step.bytes);
  else cartridge.deleteFile(step.path);
}

function execute(cartridge: Cartridge, plan: Plan): void {
  if (plan.op === 'checkpoint') return cartridge.checkpoint();
  if (plan.op === 'single') return runStep(cartridge, plan.steps[0] as Step);
  try {
    cartridge.transaction(() => {
      for (const step of plan.steps) runStep(cartridge, step);
      if (plan.op === 'aborted') throw new AbortTransaction();
    });
  } catch (error) {
    if (!(error instanceof AbortTransaction)) throw error;
  }
}

function filesOf(cartridge: Cartridge): Files {
  const files: Files = new Map();
  for (const [path, value] of readState(cartridge)) {
    if (value !== 'directory') files.set(path, digestOfBytes(value));
  }
  return files;
}

function main(): void {
  const [cartridgePath, seedText, durabilityText] = process.argv.slice(2);
  if (cartridgePath === undefined || seedText === undefined) {
    throw new Error('usage: sigkill-child.ts <cartridge> <seed> [full|off]');
  }
  const random = new SeededRandom(Number(seedText));
  const durability = durabilityText === 'off' ? 'off' : 'full';
  const cartridge = Cartridge.open(cartridgePath, { durability });
  let files = filesOf(cartridge);
  emitLine(READY_LINE);
  // The loop never yields to the event loop: the only way out is the parent's SIGKILL.
  for (let seq = 0; ; seq++) {
    const plan = planOperation(random, files);
    const { after, changes } = outcomeOf(plan, files);
    const intent: Intent = { seq, op: plan.op, changes };
    emitLine(intentLine(intent));
    execute(cartridge, plan);
    emitLine(ackLine(seq));
    files = after;
  }
}

main();
