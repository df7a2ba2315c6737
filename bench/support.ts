import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Shared pieces of the workloads: deterministic test data and scratch directories. */

export const KIB = 1024;
export const MIB = 1024 * 1024;

/**
 * `count` buffers of `sizeBytes` incompressible bytes (an AES-CTR keystream), the same for the
 * same seed on every run, so the checksum of a run does not depend on chance. Each buffer has
 * its own memory.
 */
export function incompressibleBuffers(count: number, sizeBytes: number, seed: string): Buffer[] {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const buffers: Buffer[] = [];
  for (let index = 0; index < count; index++) buffers.push(Buffer.from(cipher.update(Buffer.alloc(sizeBytes))));
  return buffers;
}

/** A fresh directory under the OS temp directory; `remove` deletes it with everything inside. */
export function scratchDirectory(label: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `cartridge-bench-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** What every workload's setup returns: the two hot closures and how to clean up. */
export interface PreparedPair {
  /** One Cartridge operation. */
  readonly subject: () => number;
  /** The same work done the plain way, measured in the same run. */
  readonly baseline: () => number;
  /** Closes and deletes everything setup made; may throw when a sanity check failed. */
  readonly teardown: () => void;
}

/**
 * A deterministic stream of pseudo-random integers in `[0, limit)` (mulberry32), so that the
 * Cartridge side and its baseline visit the same entries in the same order on every run.
 */
export function seededIndexes(count: number, limit: number, seed: number): number[] {
  let state = seed >>> 0;
  const indexes: number[] = [];
  for (let index = 0; index < count; index++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    const unit = ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
    indexes.push(Math.floor(unit * limit));
  }
  return indexes;
}

/** Files per directory in the many-small-files cartridges (the open and large-catalog figures). */
export const FILES_PER_DIRECTORY = 100;

/** The path of small file number `index`: 100 files per directory, names sorted by number. */
export function smallFilePath(index: number): string {
  const directory = Math.floor(index / FILES_PER_DIRECTORY);
  const directoryName = `d${String(directory).padStart(4, '0')}`;
  return `/calls/${directoryName}/call-${String(index).padStart(7, '0')}.json`;
}

/** About 100 bytes of JSON text for small file number `index`, different for every file. */
export function smallFileContent(index: number): string {
  const text = JSON.stringify({
    call: index,
    agent: `agent-${index % 97}`,
    status: 'done',
    tokens: (index * 7) % 4093,
  });
  return text.padEnd(100, ' ');
}

/**
 * Line number `index` of a call-centre audit log: about 120 bytes of JSON ending in a newline,
 * different for every line (so that neither side can deduplicate or compress it away cheaply).
 */
export function auditLine(index: number): string {
  const atMs = Date.UTC(2026, 10, 30) + index * 1237;
  const text = JSON.stringify({
    at: new Date(atMs).toISOString(),
    call: index,
    agent: `agent-${(index * 31) % 211}`,
    event: index % 5 === 0 ? 'transfer' : 'note',
    queue: `q${index % 13}`,
  });
  return `${text.padEnd(119, ' ')}\n`;
}

/** The error code to print for a failed figure: an engine code when there is one. */
export function errorCodeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
  }
  return error instanceof Error ? error.name : 'UNKNOWN_ERROR';
}

/**
 * Results computed once per process and shared by the figures that need them (a fixture, a
 * set of samples). A failure is remembered too, so that every figure built on it reports the
 * same error instead of paying for another attempt.
 */
type Outcome<T> = { readonly value: T } | { readonly error: unknown };

export class OnceCache<T> {
  private readonly outcomes = new Map<string, Outcome<T>>();

  get(key: string, compute: () => T): T {
    let outcome = this.outcomes.get(key);
    if (outcome === undefined) {
      try {
        outcome = { value: compute() };
      } catch (error) {
        outcome = { error };
      }
      this.outcomes.set(key, outcome);
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }

  clear(): void {
    this.outcomes.clear();
  }
}
