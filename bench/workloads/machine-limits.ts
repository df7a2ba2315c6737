import { closeSync, fdatasyncSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Compressor } from 'zstd-napi';
import { hashBytes } from '../../src/journal/hashing.js';
import { median } from '../measure.js';
import type { Workload } from '../report.js';
import { auditLine, incompressibleBuffers, KIB, MIB, scratchDirectory } from '../support.js';

/**
 * What the machine itself allows, measured in the same run as the peers so that a figure can
 * be read against the floor under it: sequential `writeSync` of 64 KiB, a 4 KiB append with
 * `fdatasyncSync`, `Buffer.from` of 64 KiB (allocate and copy), a sequential page-cache read of
 * 64 KiB, BLAKE3 of 64 KiB (the engine's content hash) and zstd level 1 of 64 KiB of log text
 * (the default codec alone). Lines only, no targets: these are the ceilings, not goals.
 */

interface LimitSettings {
  readonly rounds: number;
  readonly opsPerRound: number;
  readonly syncs: number;
}

const BLOCK_BYTES = 64 * KIB;

/** Median over rounds of the time of one operation, in nanoseconds. */
function perOperationNs(settings: LimitSettings, operation: (index: number) => number): number {
  const rounds: number[] = [];
  let sink = 0;
  for (let round = 0; round < settings.rounds + 1; round++) {
    const start = process.hrtime.bigint();
    for (let index = 0; index < settings.opsPerRound; index++) sink += operation(index);
    const ns = Number(process.hrtime.bigint() - start) / settings.opsPerRound;
    // The first round warms the JIT and the page cache and is not counted.
    if (round > 0) rounds.push(ns);
  }
  if (sink < 0) throw new Error('unreachable: the sink keeps the work from being dropped');
  return median(rounds);
}

const gibPerS = (bytes: number, ns: number): number => bytes / ns / 1.073741824;
const mibPerS = (bytes: number, ns: number): number => (bytes / MIB) * (1e9 / ns);

export const workload: Workload<LimitSettings> = {
  name: 'machine-limits',
  description: 'the floor: writeSync, fdatasync, Buffer copy, page-cache read, BLAKE3, zstd',
  sizes: {
    small: { rounds: 5, opsPerRound: 200, syncs: 21 },
    medium: { rounds: 11, opsPerRound: 2000, syncs: 101 },
    large: { rounds: 11, opsPerRound: 2000, syncs: 101 },
  },
  budgetMs: { small: 30_000, medium: 120_000, large: 120_000 },
  figures: [],
  run: (settings, { report, checksum }) => {
    const scratch = scratchDirectory('machine-limits');
    const [block] = incompressibleBuffers(1, BLOCK_BYTES, 'machine-limits') as [Buffer];
    const text = Buffer.from(
      Array.from({ length: Math.ceil(BLOCK_BYTES / 120) }, (_, index) => auditLine(index)).join(''),
    ).subarray(0, BLOCK_BYTES);
    const descriptor = openSync(join(scratch.path, 'limits.bin'), 'w+');
    try {
      const writeNs = perOperationNs(settings, () => writeSync(descriptor, block));
      report.line('machine_write_64k_mib_s', mibPerS(BLOCK_BYTES, writeNs), 0);
      const writtenBytes = (settings.rounds + 1) * settings.opsPerRound * BLOCK_BYTES;
      const readBuffer = Buffer.allocUnsafe(BLOCK_BYTES);
      const readNs = perOperationNs(settings, (index) =>
        readSync(descriptor, readBuffer, 0, BLOCK_BYTES, (index * BLOCK_BYTES) % writtenBytes),
      );
      report.line('machine_page_cache_read_64k_gib_s', gibPerS(BLOCK_BYTES, readNs), 2);
      const syncNs: number[] = [];
      const small = block.subarray(0, 4 * KIB);
      for (let sync = 0; sync < settings.syncs; sync++) {
        const start = process.hrtime.bigint();
        writeSync(descriptor, small);
        fdatasyncSync(descriptor);
        syncNs.push(Number(process.hrtime.bigint() - start));
      }
      report.line('machine_fdatasync_4k_us', median(syncNs) / 1000, 1);
    } finally {
      closeSync(descriptor);
      scratch.remove();
    }
    const copyNs = perOperationNs(settings, () => Buffer.from(block).length);
    report.line('machine_buffer_copy_64k_gib_s', gibPerS(BLOCK_BYTES, copyNs), 2);
    const hashNs = perOperationNs(settings, () => hashBytes(block)[0] as number);
    report.line('machine_blake3_64k_gib_s', gibPerS(BLOCK_BYTES, hashNs), 2);
    const compressor = new Compressor();
    compressor.setParameters({ compressionLevel: 1 });
    let compressedBytes = 0;
    const zstdNs = perOperationNs(settings, () => {
      compressedBytes = compressor.compress(text).length;
      return compressedBytes;
    });
    report.line('machine_zstd1_64k_text_mib_s', mibPerS(BLOCK_BYTES, zstdNs), 0);
    report.line('machine_zstd1_64k_text_ratio', BLOCK_BYTES / compressedBytes, 2);
    checksum.add(compressedBytes);
  },
};
