import { writeSync } from 'node:fs';
import { Cartridge } from '../../src/index.js';
import { readState } from './model.js';
import {
  ackLine,
  type Change,
  changeOf,
  type Intent,
  intentLine,
  READY_LINE,
  SeededRandom,
  SIGKILL_DIRECTORIES,
} from './sigkill-protocol.js';

/**
 * The child of the SIGKILL campaign: `sigkill-child.ts <cartridge> <seed>`. It opens the
 * cartridge the parent prepared (durability 'full'), says `ready`, then mutates it at random
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

type Files = Map<string, Buffer>;

class AbortTransaction extends Error {}

/** Writes a whole line to stdout synchronously; a non-blocking pipe may ask us to retry. */
function emit(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}

/** Mostly small content, sometimes tens of KiB, rarely more than one data record (1 MiB). */
function sizeFor(random: SeededRandom): number {
  const roll = random.float();
  if (roll < 0.01) return random.int(1024 * 1024 + 1, 1600 * 1024);
  if (roll < 0.08) return random.int(4096, 256 * 1024);
  return random.int(0, 4096);
}

/** Half the content is random (incompressible), half repetitive (so zstd is kept). */
function contentFor(random: SeededRandom, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  if (random.float() < 0.5) {
    for (let index = 0; index < size; index += 4) {
      const word = random.uint32();
      for (let shift = 0; shift < 4 && index + shift < size; shift++) {
        bytes[index + shift] = (word >>> (shift * 8)) & 0xff;
      }
    }
    return bytes;
  }
  const phrase = Buffer.from(`line ${random.uint32()} of cartridge torture\n`);
  for (let index = 0; index < size; index++) bytes[index] = phrase[index % phrase.length] ?? 0;
  return bytes;
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
  const tooLarge = (files.get(path)?.length ?? 0) > APPEND_LIMIT_BYTES;
  if (roll < 0.6) return { kind: tooLarge ? 'write' : 'append', path, bytes };
  if (roll < 0.8) return { kind: 'write', path, bytes };
  return { kind: 'delete', path };
}

function applyStep(files: Files, step: Step): void {
  if (step.kind === 'delete') files.delete(step.path);
  else if (step.kind === 'append') {
    files.set(step.path, Buffer.concat([files.get(step.path) ?? Buffer.alloc(0), step.bytes]));
  } else files.set(step.path, step.bytes);
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
  for (const [path, value] of readState(cartridge)) if (value !== 'directory') files.set(path, value);
  return files;
}

function main(): void {
  const [cartridgePath, seedText] = process.argv.slice(2);
  if (cartridgePath === undefined || seedText === undefined) {
    throw new Error('usage: sigkill-child.ts <cartridge> <seed>');
  }
  const random = new SeededRandom(Number(seedText));
  const cartridge = Cartridge.open(cartridgePath, { durability: 'full' });
  let files = filesOf(cartridge);
  emit(READY_LINE);
  // The loop never yields to the event loop: the only way out is the parent's SIGKILL.
  for (let seq = 0; ; seq++) {
    const plan = planOperation(random, files);
    const { after, changes } = outcomeOf(plan, files);
    const intent: Intent = { seq, op: plan.op, changes };
    emit(intentLine(intent));
    execute(cartridge, plan);
    emit(ackLine(seq));
    files = after;
  }
}

main();
