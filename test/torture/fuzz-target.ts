import fc from 'fast-check';
import { CartridgeError } from '../../src/index.js';
import type { Figures } from './figures.js';

/**
 * One fuzz target: an arbitrary of untrusted inputs and the decoder it feeds. The only allowed
 * outcomes are a normal return and a `CartridgeError`; anything else is an untyped error that
 * fast-check shrinks to a small counterexample. A target may also return a description of a
 * broken invariant (a decoder that accepted what it must refuse), reported as wrong data.
 */

/** An input slower than this counts as a hang. */
const HANG_MS = 1000;
/** An input that makes buffers grow by more than this is a memory bomb (the largest blob is 8 MiB). */
const BOMB_MIB = 64;
const MIB = 1024 * 1024;

export interface FuzzTarget<T> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Runs one input; returns a description when the result breaks an invariant. */
  readonly execute: (input: T) => string | undefined;
}

export interface FuzzContext {
  readonly figures: Figures;
  readonly seed: number;
  readonly numRuns: number;
}

/** A target with its input type erased, so that targets of every type share one list. */
export interface RunnableTarget {
  readonly name: string;
  run(context: FuzzContext): void;
}

export function defineTarget<T>(target: FuzzTarget<T>): RunnableTarget {
  return { name: target.name, run: (context) => runTarget(target, context) };
}

function runTarget<T>(target: FuzzTarget<T>, context: FuzzContext): void {
  const property = fc.property(target.arbitrary, (input) => executeOnce(target, input, context));
  const details = fc.check(property, { seed: context.seed, numRuns: context.numRuns });
  if (!details.failed) return;
  const input = details.counterexample === null ? 'none' : summarize(details.counterexample[0]);
  context.figures.fail(
    'untyped_errors',
    `${target.name} seed=${context.seed} path=${String(details.counterexamplePath)}: ` +
      `${errorText(details.errorInstance)}; input ${input}`,
  );
}

/** Runs one input and times it; rethrows untyped errors so that fast-check shrinks them. */
function executeOnce<T>(target: FuzzTarget<T>, input: T, context: FuzzContext): void {
  const { figures } = context;
  figures.add('fuzz_executions');
  figures.add(`fuzz_executions_${target.name}`);
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const startedAt = performance.now();
  let violation: string | undefined;
  try {
    violation = target.execute(input);
  } catch (error) {
    if (!(error instanceof CartridgeError)) throw error;
  } finally {
    const elapsedMs = performance.now() - startedAt;
    const grownMib = Math.max(0, process.memoryUsage().arrayBuffers - buffersBefore) / MIB;
    judgeCost(target.name, input, context, elapsedMs, grownMib);
  }
  if (violation !== undefined) {
    figures.fail(
      'silent_wrong_data',
      `${target.name} seed=${context.seed}: ${violation}; input ${summarize(input)}`,
    );
  }
}

/** Records time and buffer growth of one input; a slow one is a hang, a greedy one a bomb. */
function judgeCost<T>(
  name: string,
  input: T,
  context: FuzzContext,
  elapsedMs: number,
  grownMib: number,
): void {
  const { figures } = context;
  figures.max('fuzz_max_ms_per_input', elapsedMs);
  figures.max('fuzz_max_buffer_growth_mib_per_input', grownMib);
  const where = `${name} seed=${context.seed}`;
  if (elapsedMs > HANG_MS)
    figures.fail('hangs', `${where}: ${elapsedMs.toFixed(0)} ms on ${summarize(input)}`);
  if (grownMib > BOMB_MIB) {
    figures.fail(
      'bomb_rejections_too_large',
      `${where}: buffers grew ${grownMib.toFixed(0)} MiB on ${summarize(input)}`,
    );
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message.split('\n')[0] ?? ''}`;
  return String(error);
}

/** A short, printable description of an input (long byte strings are cut). */
export function summarize(value: unknown, depth = 0): string {
  if (value instanceof Uint8Array) {
    const hex = Buffer.from(value.buffer, value.byteOffset, Math.min(value.length, 48)).toString(
      'hex',
    );
    return `${value.length} bytes ${hex}${value.length > 48 ? '...' : ''}`;
  }
  if (typeof value === 'string') {
    return `string(${value.length}) ${JSON.stringify(value.slice(0, 80))}${value.length > 80 ? '...' : ''}`;
  }
  if (Array.isArray(value) && depth < 2) {
    return `[${value
      .slice(0, 8)
      .map((item: unknown) => summarize(item, depth + 1))
      .join(', ')}]`;
  }
  const text = fc.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** A mutation of a byte string, at a position given as a fraction of its length. */
export interface Mutation {
  readonly at: number;
  readonly kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate';
  readonly value: number;
}

export const mutationsArbitrary: fc.Arbitrary<readonly Mutation[]> = fc.array(
  fc.record({
    at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    kind: fc.constantFrom<Mutation['kind']>('flip', 'set', 'insert', 'delete', 'truncate'),
    value: fc.nat(255),
  }),
  { minLength: 1, maxLength: 4 },
);

export function applyMutations(source: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let bytes = Buffer.from(source);
  for (const mutation of mutations) {
    const position = Math.floor(mutation.at * bytes.length);
    if (mutation.kind === 'insert') {
      bytes = Buffer.concat([
        bytes.subarray(0, position),
        Buffer.from([mutation.value]),
        bytes.subarray(position),
      ]);
    } else if (bytes.length === 0) {
      continue;
    } else if (mutation.kind === 'flip') {
      bytes[position] = (bytes[position] as number) ^ (1 << (mutation.value % 8));
    } else if (mutation.kind === 'set') {
      bytes[position] = mutation.value;
    } else if (mutation.kind === 'delete') {
      bytes = Buffer.concat([bytes.subarray(0, position), bytes.subarray(position + 1)]);
    } else {
      bytes = bytes.subarray(0, position);
    }
  }
  return bytes;
}

/** Mutated copies of one of `sources`. */
export function mutatedFrom(sources: readonly Uint8Array[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(...sources), mutationsArbitrary)
    .map(([source, mutations]) => applyMutations(source, mutations));
}
