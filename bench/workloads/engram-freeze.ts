import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Cartridge, Engram } from '../../src/index.js';
import { type MeasureOptions, measurePair } from '../measure.js';
import { atLeast, type Workload } from '../report.js';
import { auditLine, incompressibleBuffers, MIB, scratchDirectory } from '../support.js';

/**
 * Freeze throughput (issue 12): a cartridge of log-like files (JSON lines, every eighth file
 * incompressible) frozen with Zstd into an Engram archive, against compressing the same bytes
 * with the same codec at the same level (zstd-napi, level 6) and nothing else, rounds
 * interleaved. The figure is freeze MiB/s over codec-alone MiB/s: what reading through the
 * gate, hashing, CRC and writing cost on top of the compression every archive needs. Then
 * open + read-all: open the archive and read (decode, CRC-check) every file. Durability of
 * the cartridge is `'off'` (it is only read); the archive is fsynced once, as freeze does.
 */

interface FreezeSettings {
  readonly fileCount: number;
  readonly fileSizeBytes: number;
  readonly measure: MeasureOptions;
}

interface ZstdBinding {
  CCtx: new () => { compress(target: Uint8Array, source: Uint8Array, level: number): number };
  compressBound(sizeBytes: number): number;
}

const zstd = createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
const ENGRAM_ZSTD_LEVEL = 6;

function fileContent(index: number, sizeBytes: number): Buffer {
  if (index % 8 === 7) return incompressibleBuffers(1, sizeBytes, `engram-${index}`)[0] as Buffer;
  const lines: string[] = [];
  let length = 0;
  for (let line = 0; length < sizeBytes; line++) {
    const text = auditLine(index * 100_000 + line);
    lines.push(text);
    length += text.length;
  }
  return Buffer.from(lines.join('').slice(0, sizeBytes));
}

export const workload: Workload<FreezeSettings> = {
  name: 'engram-freeze',
  description: 'freeze to an Engram archive (zstd) vs zstd alone on the same bytes; open + read-all',
  sizes: {
    small: {
      fileCount: 16,
      fileSizeBytes: MIB,
      measure: { warmupRounds: 1, rounds: 5, opsPerRound: 1, latencySamples: 0 },
    },
    medium: {
      fileCount: 64,
      fileSizeBytes: 2 * MIB,
      measure: { warmupRounds: 1, rounds: 7, opsPerRound: 1, latencySamples: 0 },
    },
    large: {
      fileCount: 128,
      fileSizeBytes: 4 * MIB,
      measure: { warmupRounds: 1, rounds: 7, opsPerRound: 1, latencySamples: 0 },
    },
  },
  budgetMs: { small: 60_000, medium: 300_000, large: 600_000 },
  figures: [{ name: 'engram_freeze_vs_codec_ratio', target: atLeast(0.7) }],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('engram-freeze');
    let cartridge: Cartridge | undefined;
    try {
      const contents: Buffer[] = [];
      cartridge = Cartridge.create(join(scratch.path, 'source.cart'), { durability: 'off' });
      for (let index = 0; index < settings.fileCount; index++) {
        deadline.check();
        const content = fileContent(index, settings.fileSizeBytes);
        contents.push(content);
        cartridge.createFile(`/logs/day-${String(index).padStart(4, '0')}.jsonl`, content);
      }
      const totalBytes = contents.reduce((sum, content) => sum + content.length, 0);
      const archivePath = join(scratch.path, 'frozen.eng');
      const source = cartridge;
      const compressor = new zstd.CCtx();
      const target = Buffer.allocUnsafe(zstd.compressBound(settings.fileSizeBytes));
      let archiveSizeBytes = 0;
      const timing = measurePair(
        () => {
          deadline.check();
          const result = source.freeze(archivePath, {
            name: 'bench',
            version: '1',
            author: 'bench',
            compression: 'zstd',
          });
          archiveSizeBytes = result.archiveSizeBytes;
          return result.archiveSizeBytes;
        },
        () => {
          deadline.check();
          let compressedBytes = 0;
          for (const content of contents) {
            compressedBytes += compressor.compress(target, content, ENGRAM_ZSTD_LEVEL);
          }
          return compressedBytes;
        },
        settings.measure,
        checksum,
      );
      const mibPerSecond = (ns: number): number => totalBytes / MIB / (ns / 1e9);
      const freezeRate = mibPerSecond(timing.subject.medianNs);
      const codecRate = mibPerSecond(timing.baseline.medianNs);
      report.figure('engram_freeze_vs_codec_ratio', freezeRate / codecRate);
      report.line('engram_freeze_mib_s', freezeRate, 1);
      report.line('engram_codec_alone_mib_s', codecRate, 1);
      report.line('engram_freeze_input_mib', totalBytes / MIB, 1);
      report.line('engram_archive_mib', archiveSizeBytes / MIB, 2);

      const readRounds: number[] = [];
      for (let round = 0; round < settings.measure.rounds; round++) {
        deadline.check();
        const started = process.hrtime.bigint();
        const engram = Engram.open(archivePath);
        let readBytes = 0;
        for (const entry of engram.list()) readBytes += engram.readFile(entry.path).length;
        engram.close();
        readRounds.push(Number(process.hrtime.bigint() - started));
        checksum.add(readBytes);
      }
      readRounds.sort((left, right) => left - right);
      const readMedianNs = readRounds[Math.floor(readRounds.length / 2)] as number;
      report.line('engram_open_read_all_ms', readMedianNs / 1e6, 1);
      report.line('engram_open_read_all_mib_s', mibPerSecond(readMedianNs), 1);
    } finally {
      cartridge?.close();
      scratch.remove();
    }
  },
};
