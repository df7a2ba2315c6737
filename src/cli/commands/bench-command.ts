import { tmpdir } from 'node:os';
import { CartridgeError } from '../../errors.js';
import type { CommandRegistrar } from '../program.js';
import { runSpeedCheck, type SpeedFigure } from '../speed-check.js';

/** `bench`: a quick self-check of this machine's speed (see `speed-check.ts`). */

const MEASURE_MS_DEFAULT = 300;
const MEASURE_MS_MAX = 60_000;

function measureMsOf(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > MEASURE_MS_MAX) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      `--measure-ms must be a whole number of milliseconds from 1 to ${MEASURE_MS_MAX}`,
    );
  }
  return value;
}

/** A figure in a few significant digits: enough to judge, not more than is true. */
function rounded(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

export const registerBenchCommand: CommandRegistrar = (program, context) => {
  program
    .command('bench')
    .description("a quick self-check of this machine's speed (a few seconds, in a temp dir)")
    .option('--dir <directory>', 'measure the disk holding this directory', tmpdir())
    .option(
      '--measure-ms <milliseconds>',
      'how long each measurement runs',
      String(MEASURE_MS_DEFAULT),
    )
    .action((options: { dir: string; measureMs: string }) => {
      const { output } = context();
      const budgetMs =
        options.measureMs === undefined ? MEASURE_MS_DEFAULT : measureMsOf(options.measureMs);
      const report = runSpeedCheck({ directory: options.dir, budgetMs });
      output.result(report, () => {
        const { machine } = report;
        output.line(`engine: ${report.engine.form}, code cache ${report.engine.codeCache}`);
        output.line(`machine (${report.directory}):`);
        output.table(
          ['limit', 'value'],
          [
            ['sequential write', `${rounded(machine.sequentialWriteMiBPerSecond)} MiB/s`],
            ['fdatasync', `${rounded(machine.fdatasyncPerSecond)} /s`],
            [
              `BLAKE3 (${machine.blake3Implementation})`,
              `${rounded(machine.blake3MiBPerSecond)} MiB/s`,
            ],
            ['page-cache pread 4 KiB', `${rounded(machine.pageCacheReadsPerSecond)} /s`],
          ],
        );
        output.line('');
        output.line('cartridge:');
        output.table(
          ['figure', 'value', 'of the limit', 'target', ''],
          report.figures.map((entry: SpeedFigure) => [
            entry.name,
            `${rounded(entry.value)} ${entry.unit}`,
            `${rounded(entry.ratio)} of ${entry.limit}`,
            `>= ${entry.target}`,
            entry.met ? 'met' : 'missed',
          ]),
        );
        output.line('');
        output.line(report.verdict);
      });
    });
};
