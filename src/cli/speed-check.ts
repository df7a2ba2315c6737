import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../engine/cartridge.js';
import { HASH_IMPLEMENTATION, hashBytes } from '../journal/hashing.js';
import { type EngineLoad, engineLoad } from '../engine-load.js';

/**
 * `cartridge bench`: a quick self-check of this machine's speed. In a scratch directory it
 * measures what the machine can do at best (sequential writes, `fdatasync`, BLAKE3, page-cache
 * reads) and what Cartridge does on the same machine in the same run (64 KiB writes, durable
 * 4 KiB commits, 4 KiB reads), and gives each Cartridge figure as a ratio of the limit that
 * bounds it, against a target. Ratios, not absolute figures, are what can be judged: a
 * Raspberry Pi's SD card and a laptop's NVMe drive differ a hundredfold, the ratios should not.
 */

/** What the machine can do at best, measured in this run. */
export interface MachineLimits {
  readonly sequentialWriteMiBPerSecond: number;
  readonly fdatasyncPerSecond: number;
  readonly blake3MiBPerSecond: number;
  /** Which BLAKE3 the engine uses here: the native binding or the portable fallback. */
  readonly blake3Implementation: string;
  readonly pageCacheReadsPerSecond: number;
}

/** One figure of Cartridge as a ratio of the machine limit that bounds it. */
export interface SpeedFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The machine limit it is compared with, and that limit's value (in the same unit). */
  readonly limit: string;
  readonly limitValue: number;
  readonly ratio: number;
  readonly target: number;
  readonly met: boolean;
}

export interface SpeedReport {
  readonly directory: string;
  /**
   * How this process loaded the engine (`engineLoad()`): a `cartridge` whose code cache was
   * refused or is stale starts slower than it could (see docs/API.md).
   */
  readonly engine: EngineLoad;
  readonly machine: MachineLimits;
  readonly figures: readonly SpeedFigure[];
  /** True when every figure met its target. */
  readonly ok: boolean;
  readonly verdict: string;
}

export interface SpeedCheckOptions {
  /** Where the scratch directory is made: the disk being judged. */
  readonly directory: string;
  /** How long each measurement runs, at least. */
  readonly budgetMs: number;
}

/**
 * The targets: how close to the machine's limit each figure comes on the machines of
 * `bench/README.md`, with a margin, so that a missed one says something is off here (a slow
 * disk's fdatasync is still a limit, not a miss). Writes pay the record frame, a CRC32C and
 * BLAKE3 of every byte on top of the write itself (0.24 to 0.29 there); a durable commit costs
 * about one `fdatasync` and a little (0.75 to 0.83); a read from the buffer pool walks the
 * index and the gate where a raw `pread` from the page cache only copies.
 */
const TARGETS = { writes: 0.15, durableCommits: 0.6, reads: 0.05 } as const;

const MIB = 1024 * 1024;
const CHUNK_BYTES = MIB;
const SMALL_BYTES = 4096;
const WRITE_BYTES = 64 * 1024;
/** The most a sequential write measurement writes: the check must stay small on a Pi. */
const SEQUENTIAL_MAX_BYTES = 64 * MIB;
const READ_FILE_COUNT = 256;

/**
 * Runs `body` until `budgetMs` has passed and it ran `minimum` times, and returns the calls per
 * second. With `warmupMs`, it runs that long first, uncounted: the compiler's warm-up of a hot
 * path costs more than a thousand calls, which would otherwise be the figure.
 */
function timed(
  budgetMs: number,
  minimum: number,
  body: (index: number) => void,
  warmupMs = 0,
): number {
  const warmupStart = process.hrtime.bigint();
  const warmupNs = BigInt(Math.round(warmupMs * 1e6));
  for (let index = 0; process.hrtime.bigint() - warmupStart < warmupNs; index++) body(index);
  const start = process.hrtime.bigint();
  const budgetNs = BigInt(Math.round(budgetMs * 1e6));
  let count = 0;
  while (count < minimum || process.hrtime.bigint() - start < budgetNs) {
    body(count);
    count++;
  }
  return count / secondsSince(start);
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function sequentialWrite(directory: string, budgetMs: number): number {
  const path = join(directory, 'sequential.bin');
  const chunk = randomBytes(CHUNK_BYTES);
  const descriptor = openSync(path, 'w');
  try {
    const start = process.hrtime.bigint();
    const budgetNs = BigInt(Math.round(budgetMs * 1e6));
    let written = 0;
    do {
      writeSync(descriptor, chunk);
      written += chunk.length;
    } while (process.hrtime.bigint() - start < budgetNs && written < SEQUENTIAL_MAX_BYTES);
    // The bytes count once they are on the disk: the sync is part of the write.
    fsyncSync(descriptor);
    return written / MIB / secondsSince(start);
  } finally {
    closeSync(descriptor);
    rmSync(path, { force: true });
  }
}

function blake3Rate(budgetMs: number): number {
  const chunk = randomBytes(CHUNK_BYTES);
  return timed(budgetMs, 2, () => hashBytes(chunk));
}

/** The index-th of a fixed scattered visit of READ_FILE_COUNT places (a multiplicative walk). */
function scatter(index: number): number {
  return (index * 617) % READ_FILE_COUNT;
}

function cartridgeWrites(directory: string, budgetMs: number): number {
  const path = join(directory, 'writes.cart');
  const content = randomBytes(WRITE_BYTES);
  const cartridge = Cartridge.create(path, { durability: 'off', compression: 'none' });
  try {
    // A few writes first, so that the figure is not the compiler's warm-up.
    for (let index = 0; index < 16; index++) cartridge.createFile(`/warm/${index}`, content);
    const start = process.hrtime.bigint();
    const budgetNs = BigInt(Math.round(budgetMs * 1e6));
    let written = 0;
    do {
      cartridge.createFile(`/w/${written / WRITE_BYTES}`, content);
      written += WRITE_BYTES;
    } while (process.hrtime.bigint() - start < budgetNs && written < SEQUENTIAL_MAX_BYTES);
    cartridge.flush();
    return written / MIB / secondsSince(start);
  } finally {
    cartridge.close();
    rmSync(path, { force: true });
  }
}

/** An operation to time, and how to release what it holds. */
interface Operation {
  run(index: number): void;
  close(): void;
}

/**
 * The rates (calls per second) of a machine limit and of the Cartridge operation it bounds,
 * timed in alternating rounds (the limit first in even rounds): a neighbour that slows the
 * machine for a while slows both sides alike, where two measurements one after the other would
 * each meet another machine. Each side's rate is the median of its rounds.
 */
function paired(
  limit: Operation,
  subject: Operation,
  budgetMs: number,
  warmupMs: number,
): { limit: number; subject: number } {
  const rounds = 4;
  const roundMs = budgetMs / (rounds / 2);
  const rates = { limit: [] as number[], subject: [] as number[] };
  try {
    timed(0, 1, (index) => limit.run(index), warmupMs);
    timed(0, 1, (index) => subject.run(index), warmupMs);
    for (let round = 0; round < rounds; round++) {
      const order =
        round % 2 === 0 ? (['limit', 'subject'] as const) : (['subject', 'limit'] as const);
      for (const side of order) {
        const operation = side === 'limit' ? limit : subject;
        rates[side].push(timed(roundMs / 2, 3, (index) => operation.run(index)));
      }
    }
  } finally {
    limit.close();
    subject.close();
  }
  return { limit: median(rates.limit), subject: median(rates.subject) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** A 4 KiB append and an `fdatasync`: what a durable commit cannot beat. */
function fdatasyncAppends(directory: string): Operation {
  const path = join(directory, 'sync.bin');
  const block = randomBytes(SMALL_BYTES);
  const descriptor = openSync(path, 'w');
  return {
    run: (index) => {
      writeSync(descriptor, block, 0, block.length, index * SMALL_BYTES);
      fdatasyncSync(descriptor);
    },
    close: () => {
      closeSync(descriptor);
      rmSync(path, { force: true });
    },
  };
}

/** A 4 KiB `writeFile` in durability 'full': it returns once the commit is on the disk. */
function durableCommits(directory: string): Operation {
  const path = join(directory, 'commits.cart');
  const content = randomBytes(SMALL_BYTES);
  const cartridge = Cartridge.create(path, { durability: 'full', compression: 'none' });
  cartridge.createFile('/c', content);
  return {
    run: () => cartridge.writeFile('/c', content),
    close: () => {
      cartridge.close();
      rmSync(path, { force: true });
    },
  };
}

/** A 4 KiB `readSync` of a file in the page cache: a read that only copies. */
function pageCacheReads(directory: string): Operation {
  const path = join(directory, 'reads.bin');
  const descriptor = openSync(path, 'w+');
  const buffer = Buffer.alloc(SMALL_BYTES);
  writeSync(descriptor, randomBytes(READ_FILE_COUNT * SMALL_BYTES));
  return {
    run: (index) => {
      readSync(descriptor, buffer, 0, SMALL_BYTES, scatter(index) * SMALL_BYTES);
    },
    close: () => {
      closeSync(descriptor);
      rmSync(path, { force: true });
    },
  };
}

/**
 * A 4 KiB `readFile` of one of READ_FILE_COUNT files, in a cartridge reopened after they were
 * written, so that reads go through the index and the buffer pool as a later process's would.
 */
function cartridgeReads(directory: string): Operation {
  const path = join(directory, 'reads.cart');
  const created = Cartridge.create(path, { durability: 'off', compression: 'none' });
  try {
    created.transaction(() => {
      for (let index = 0; index < READ_FILE_COUNT; index++) {
        created.createFile(`/r/${index}`, randomBytes(SMALL_BYTES));
      }
    });
  } finally {
    created.close();
  }
  const cartridge = Cartridge.open(path);
  return {
    run: (index) => {
      cartridge.readFile(`/r/${scatter(index)}`);
    },
    close: () => {
      cartridge.close();
      rmSync(path, { force: true });
    },
  };
}

function figure(
  name: string,
  value: number,
  unit: string,
  limit: string,
  limitValue: number,
  target: number,
): SpeedFigure {
  const ratio = limitValue > 0 ? value / limitValue : 0;
  return { name, value, unit, limit, limitValue, ratio, target, met: ratio >= target };
}

/** Measures the machine, then Cartridge, in a scratch directory that it removes afterwards. */
export function runSpeedCheck(options: SpeedCheckOptions): SpeedReport {
  const directory = mkdtempSync(join(options.directory, 'cartridge-bench-'));
  const budgetMs = options.budgetMs;
  try {
    const sequentialWriteMiBPerSecond = sequentialWrite(directory, budgetMs);
    const blake3MiBPerSecond = blake3Rate(budgetMs);
    const writes = cartridgeWrites(directory, budgetMs);
    // A sync's cost does not warm up; the compiler's warm-up of the read path takes thousands
    // of calls, and is what a process that has been running no longer pays.
    const syncs = paired(fdatasyncAppends(directory), durableCommits(directory), budgetMs, 0);
    const reads = paired(pageCacheReads(directory), cartridgeReads(directory), budgetMs, budgetMs);
    const machine: MachineLimits = {
      sequentialWriteMiBPerSecond,
      fdatasyncPerSecond: syncs.limit,
      blake3MiBPerSecond,
      blake3Implementation: HASH_IMPLEMENTATION,
      pageCacheReadsPerSecond: reads.limit,
    };
    const figures = [
      figure(
        '64 KiB writes',
        writes,
        'MiB/s',
        'sequential write or BLAKE3 (the slower)',
        // Every byte written is also hashed: the slower of the two bounds the writes.
        Math.min(sequentialWriteMiBPerSecond, blake3MiBPerSecond),
        TARGETS.writes,
      ),
      figure(
        'durable 4 KiB commits',
        syncs.subject,
        'commits/s',
        'fdatasync',
        syncs.limit,
        TARGETS.durableCommits,
      ),
      figure(
        '4 KiB reads',
        reads.subject,
        'reads/s',
        'page-cache pread',
        reads.limit,
        TARGETS.reads,
      ),
    ];
    const missed = figures.filter((entry) => !entry.met).map((entry) => entry.name);
    const verdict =
      missed.length === 0
        ? 'Cartridge runs at the speed expected of it on this machine.'
        : `Slower than expected on this machine: ${missed.join(', ')} missed the target.`;
    return {
      directory: options.directory,
      engine: engineLoad(),
      machine,
      figures,
      ok: missed.length === 0,
      verdict,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
