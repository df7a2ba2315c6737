import { closeSync, copyFileSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { median } from '../measure.js';
import type { Workload } from '../report.js';
import { auditLine, incompressibleBuffers, MIB, scratchDirectory } from '../support.js';

/**
 * Compaction throughput (issue 14): a cartridge whose files were each written three times
 * (two thirds of its content is dead history) is compacted, and the rate is MiB of live data
 * per second. The baseline is a raw sequential copy of the same live bytes in the same run
 * (read a file holding them, write them to a new file, fsync), as compaction reads the live
 * records and writes them to a new, synced file. The figure is compaction MiB/s over copy
 * MiB/s; the issue sets no target, so it is reported without one. Each round compacts a fresh
 * copy of the same cartridge (the copy and the open are not timed), rounds interleaved with
 * the copy's.
 */

interface CompactionSettings {
  readonly fileCount: number;
  readonly fileSizeBytes: number;
  readonly rounds: number;
}

/** Log-like content, every fourth file incompressible (recordings, archives). */
function fileContent(index: number, version: number, sizeBytes: number): Buffer {
  if (index % 4 === 3) {
    return incompressibleBuffers(1, sizeBytes, `compaction-${index}-${version}`)[0] as Buffer;
  }
  const lines: string[] = [];
  let length = 0;
  for (let line = 0; length < sizeBytes; line++) {
    const text = auditLine(version * 10_000_000 + index * 100_000 + line);
    lines.push(text);
    length += text.length;
  }
  return Buffer.from(lines.join('').slice(0, sizeBytes));
}

export const workload: Workload<CompactionSettings> = {
  name: 'compaction',
  description: 'compact (2/3 of the content dead) vs a raw sequential copy of the live bytes',
  sizes: {
    small: { fileCount: 16, fileSizeBytes: 512 * 1024, rounds: 3 },
    medium: { fileCount: 64, fileSizeBytes: MIB, rounds: 5 },
    large: { fileCount: 128, fileSizeBytes: 2 * MIB, rounds: 7 },
  },
  budgetMs: { small: 60_000, medium: 300_000, large: 600_000 },
  figures: [],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('compaction');
    try {
      const sourcePath = join(scratch.path, 'source.cart');
      const workPath = join(scratch.path, 'work.cart');
      const rawPath = join(scratch.path, 'live.raw');
      const copyPath = join(scratch.path, 'live.copy');
      const source = Cartridge.create(sourcePath, { durability: 'off' });
      const live: Buffer[] = [];
      for (let version = 0; version < 3; version++) {
        for (let index = 0; index < settings.fileCount; index++) {
          deadline.check();
          const path = `/calls/${String(index).padStart(4, '0')}.log`;
          const content = fileContent(index, version, settings.fileSizeBytes);
          if (version === 0) source.createFile(path, content);
          else source.writeFile(path, content);
          if (version === 2) live.push(content);
        }
      }
      source.close();
      const liveBytes = live.reduce((sum, content) => sum + content.length, 0);
      const rawFile = openSync(rawPath, 'w');
      for (const content of live) writeSync(rawFile, content);
      fsyncSync(rawFile);
      closeSync(rawFile);

      const compactNs: number[] = [];
      const copyNs: number[] = [];
      let bytesBefore = 0;
      let bytesAfter = 0;
      for (let round = 0; round < settings.rounds; round++) {
        deadline.check();
        copyFileSync(sourcePath, workPath);
        const cartridge = Cartridge.open(workPath, { durability: 'off' });
        let started = process.hrtime.bigint();
        const result = cartridge.compact();
        compactNs.push(Number(process.hrtime.bigint() - started));
        cartridge.close();
        bytesBefore = result.bytesBefore;
        bytesAfter = result.bytesAfter;
        checksum.add(result.recordsDropped);

        started = process.hrtime.bigint();
        const bytes = readFileSync(rawPath);
        const copy = openSync(copyPath, 'w');
        writeSync(copy, bytes);
        fsyncSync(copy);
        closeSync(copy);
        copyNs.push(Number(process.hrtime.bigint() - started));
        checksum.add(bytes.length);
      }
      const mibPerSecond = (ns: number): number => liveBytes / MIB / (ns / 1e9);
      const compactRate = mibPerSecond(median(compactNs));
      const copyRate = mibPerSecond(median(copyNs));
      report.line('compaction_vs_copy_ratio', compactRate / copyRate, 3);
      report.line('compaction_live_mib_s', compactRate, 1);
      report.line('compaction_raw_copy_mib_s', copyRate, 1);
      report.line('compaction_live_mib', liveBytes / MIB, 1);
      report.line('compaction_file_mib_before', bytesBefore / MIB, 2);
      report.line('compaction_file_mib_after', bytesAfter / MIB, 2);
    } finally {
      scratch.remove();
    }
  },
};
