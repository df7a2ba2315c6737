import { createHash } from 'node:crypto';
import type { ModelState } from './model.js';

/**
 * What the SIGKILL child tells the parent, one line at a time. Before an operation starts the
 * child writes its intent (the final digest of every path the operation touches); after the
 * operation returned it writes `ack <seq>`. A complete intent without its ack is the one
 * operation in flight when the kill landed: its effect may or may not be on disk.
 */

/** The final state of one touched path: content digest and size, or gone. */
export type Change =
  | { readonly path: string; readonly sha256: string; readonly size: number }
  | { readonly path: string; readonly deleted: true };

export interface Intent {
  readonly seq: number;
  /** A label for failure descriptions: single, transaction, aborted, checkpoint. */
  readonly op: string;
  readonly changes: readonly Change[];
}

export type ProtocolLine =
  | { readonly kind: 'ready' }
  | { readonly kind: 'intent'; readonly intent: Intent }
  | { readonly kind: 'ack'; readonly seq: number };

export const READY_LINE = 'ready';

/** Directories the parent creates up front, so that no operation creates one implicitly. */
export const SIGKILL_DIRECTORIES: readonly string[] = ['/d0', '/d1', '/d2', '/d0/deep', '/d0/deep/er'];

export function intentLine(intent: Intent): string {
  return JSON.stringify(intent);
}

export function ackLine(seq: number): string {
  return `ack ${seq}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function parseChange(value: unknown): Change {
  if (!isRecord(value) || typeof value.path !== 'string') throw new Error('bad change');
  if (value.deleted === true) return { path: value.path, deleted: true };
  if (typeof value.sha256 !== 'string' || typeof value.size !== 'number') {
    throw new Error(`bad change for ${value.path}`);
  }
  return { path: value.path, sha256: value.sha256, size: value.size };
}

function parseIntent(text: string): Intent {
  const value: unknown = JSON.parse(text);
  if (!isRecord(value) || typeof value.seq !== 'number' || typeof value.op !== 'string') {
    throw new Error(`bad intent line: ${text.slice(0, 200)}`);
  }
  if (!Array.isArray(value.changes)) throw new Error(`intent without changes: ${text.slice(0, 200)}`);
  return { seq: value.seq, op: value.op, changes: value.changes.map(parseChange) };
}

/** Parses one complete line; a malformed line is a harness bug and throws. */
export function parseLine(line: string): ProtocolLine {
  if (line === READY_LINE) return { kind: 'ready' };
  if (line.startsWith('ack ')) return { kind: 'ack', seq: Number(line.slice(4)) };
  return { kind: 'intent', intent: parseIntent(line) };
}

/** The parent's model: path to `directory` or `<sha256>:<size>`, cheap to copy and compare. */
export type DigestModel = Map<string, string>;

export const DIRECTORY_MARK = 'directory';

export function contentMark(bytes: Uint8Array): string {
  return `${createHash('sha256').update(bytes).digest('hex')}:${bytes.length}`;
}

export function applyIntent(model: DigestModel, intent: Intent): DigestModel {
  const next = new Map(model);
  for (const change of intent.changes) {
    if ('deleted' in change) next.delete(change.path);
    else next.set(change.path, `${change.sha256}:${change.size}`);
  }
  return next;
}

export function digestModelOf(state: ModelState): DigestModel {
  const model: DigestModel = new Map();
  for (const [path, value] of state) {
    model.set(path, value === 'directory' ? DIRECTORY_MARK : contentMark(value));
  }
  return model;
}

/** One digest of a whole model, independent of insertion order. */
export function digestOf(model: DigestModel): string {
  const rows = [...model.entries()].map(([path, mark]) => `${path}\u0000${mark}`).sort();
  return createHash('sha256').update(rows.join('\n')).digest('hex');
}

/** A small seeded generator (mulberry32): both processes derive everything from a seed. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return (value ^ (value >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.uint32() / 2 ** 32;
  }

  /** An integer in [low, high]. */
  int(low: number, high: number): number {
    return low + Math.floor(this.float() * (high - low + 1));
  }

  pick<T>(values: readonly T[]): T {
    const value = values[Math.floor(this.float() * values.length)];
    if (value === undefined) throw new Error('pick from an empty list');
    return value;
  }
}
