import { median } from '../measure.js';
import { atMost, type Workload } from '../report.js';
import { MIB } from '../support.js';
import { OPEN_BUDGET_MS, OPEN_SIZES, openSamples, type OpenSettings } from './open-samples.js';

/**
 * Open of a cartridge with a million small files, then 100 random `readFile`s, in a fresh
 * child process, against a fresh child process in which better-sqlite3 opens a database of
 * the same rows (`path TEXT PRIMARY KEY, content BLOB`, WAL) and looks up the same 100 paths.
 * Both files were just written, so both sides read from the page cache. Both children open
 * read-write with their defaults (Cartridge durability 'normal'; SQLite WAL,
 * `synchronous=NORMAL` as stored in the file).
 */
export const workload: Workload<OpenSettings> = {
  name: 'open-1m-vs-sqlite',
  description:
    'open of a 1 000 000-file cartridge + 100 random reads vs better-sqlite3 open + 100 lookups',
  sizes: OPEN_SIZES,
  budgetMs: OPEN_BUDGET_MS,
  figures: [{ name: 'open_1m_vs_sqlite_ratio', target: atMost(5) }],
  run: (settings, { report, checksum, deadline }) => {
    const samples = openSamples(settings, deadline);
    for (const child of [...samples.cartridge, ...samples.sqlite]) checksum.add(child.bytes);
    const cartridgeMs = median(samples.cartridge.map((child) => child.ms));
    const sqliteMs = median(samples.sqlite.map((child) => child.ms));
    report.figure('open_1m_vs_sqlite_ratio', cartridgeMs / sqliteMs);
    report.line('open_1m_files', settings.fileCount, 0);
    report.line('open_1m_cartridge_ms', cartridgeMs, 1);
    report.line('open_1m_sqlite_ms', sqliteMs, 2);
    report.line(
      'open_1m_cartridge_open_only_ms',
      median(samples.cartridge.map((child) => child.openMs)),
      1,
    );
    report.line(
      'open_1m_sqlite_open_only_ms',
      median(samples.sqlite.map((child) => child.openMs)),
      2,
    );
    report.line('open_1m_cartridge_file_mib', samples.large.cartridgeBytes / MIB, 1);
    report.line('open_1m_sqlite_file_mib', samples.large.sqliteBytes / MIB, 1);
    report.line('open_1m_cartridge_setup_ms', samples.large.cartridgeSetupMs, 0);
    report.line('open_1m_sqlite_setup_ms', samples.large.sqliteSetupMs, 0);
    report.line('open_1m_runs', samples.cartridge.length, 0);
  },
};
