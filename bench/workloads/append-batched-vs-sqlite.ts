import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type MeasureOptions, measurePair } from '../measure.js';
import { atLeast, type Workload } from '../report.js';
import { auditLine, scratchDirectory } from '../support.js';
import { createLog, LOG_DURABILITY, LOG_PATH } from './append-log.js';

/**
 * Batched appends against SQLite: one operation is a transaction of 100 audit lines appended
 * to one file of a cartridge (durability 'normal': written to the OS at each commit, fsynced
 * on a timer), against a better-sqlite3 transaction inserting the same 100 lines as rows
 * (`id INTEGER PRIMARY KEY, line TEXT`) with WAL and `synchronous=NORMAL` (written to the OS
 * at each commit, fsynced at WAL checkpoints): both survive a process crash, neither syncs per
 * commit. Rounds alternate. The figure is `sqlite_time / cartridge_time`. The lines are made
 * before the clock starts (as setup; building a JSON line costs about as much as storing it),
 * and both sides store the same strings.
 */

const LINES_PER_TRANSACTION = 100;

export const workload: Workload<MeasureOptions> = {
  name: 'append-batched-vs-sqlite',
  description:
    'appends to one file, 100 per transaction, vs better-sqlite3 inserts, 100 per transaction',
  sizes: {
    small: { warmupRounds: 3, rounds: 11, opsPerRound: 5, latencySamples: 0 },
    medium: { warmupRounds: 5, rounds: 31, opsPerRound: 10, latencySamples: 0 },
    large: { warmupRounds: 5, rounds: 31, opsPerRound: 10, latencySamples: 0 },
  },
  budgetMs: { small: 30_000, medium: 300_000, large: 300_000 },
  figures: [{ name: 'append_batched_vs_sqlite_ratio', target: atLeast(1) }],
  run: (settings, { report, checksum }) => {
    const scratch = scratchDirectory('append-batched');
    try {
      const cartridge = createLog(join(scratch.path, 'log.cart'));
      const database = new Database(join(scratch.path, 'log.sqlite'));
      try {
        database.pragma('journal_mode = WAL');
        database.pragma('synchronous = NORMAL');
        database.exec('CREATE TABLE log (id INTEGER PRIMARY KEY, line TEXT)');
        const insert = database.prepare('INSERT INTO log (line) VALUES (?)');
        const transactionCount =
          (settings.warmupRounds + settings.rounds) * settings.opsPerRound;
        const lines = Array.from(
          { length: transactionCount * LINES_PER_TRANSACTION },
          (_, index) => auditLine(index),
        );
        const lineAt = (index: number): string => lines[index % lines.length] as string;
        const insertLines = database.transaction((first: number) => {
          let rowId = 0;
          for (let index = first; index < first + LINES_PER_TRANSACTION; index++) {
            rowId = Number(insert.run(lineAt(index)).lastInsertRowid);
          }
          return rowId;
        });
        const appendBatch = (first: number): number => {
          let textBytes = 0;
          cartridge.transaction(() => {
            for (let index = first; index < first + LINES_PER_TRANSACTION; index++) {
              const line = lineAt(index);
              cartridge.appendFile(LOG_PATH, line);
              textBytes += line.length;
            }
          });
          return textBytes;
        };
        let cartridgeLines = 0;
        let sqliteLines = 0;
        const timing = measurePair(
          () => {
            const first = cartridgeLines;
            cartridgeLines += LINES_PER_TRANSACTION;
            return appendBatch(first) + cartridge.head;
          },
          () => {
            const first = sqliteLines;
            sqliteLines += LINES_PER_TRANSACTION;
            return insertLines(first);
          },
          settings,
          checksum,
        );
        const background = cartridge.lastBackgroundError;
        if (background !== undefined) throw background;
        const perLine = (ns: number) => ns / LINES_PER_TRANSACTION / 1000;
        report.figure(
          'append_batched_vs_sqlite_ratio',
          timing.baseline.medianNs / timing.subject.medianNs,
        );
        report.line('append_batched_cartridge_us_per_line', perLine(timing.subject.medianNs), 2);
        report.line('append_batched_sqlite_us_per_line', perLine(timing.baseline.medianNs), 2);
        report.line(
          'append_batched_cpu_ratio',
          timing.baseline.medianCpuNs / timing.subject.medianCpuNs,
        );
        report.line(
          'append_batched_durability',
          `cartridge ${LOG_DURABILITY}, sqlite WAL synchronous=NORMAL`,
        );
      } finally {
        database.close();
        cartridge.close();
      }
    } finally {
      scratch.remove();
    }
  },
};
