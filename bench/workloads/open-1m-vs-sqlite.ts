import { atMost } from '../report.js';
import { MIB } from '../support.js';
import { medianOf, openWorkload } from './open-samples.js';

/**
 * Open of a cartridge with a million small files, then 100 random `readFile`s, in a fresh
 * child process, against a fresh child process in which better-sqlite3 opens a database of
 * the same rows (`path TEXT PRIMARY KEY, content BLOB`, WAL) and looks up the same 100 paths.
 * Both files were just written, so both sides read from the page cache. Both children open
 * read-write with their defaults (Cartridge durability 'normal'; SQLite WAL,
 * `synchronous=NORMAL` as stored in the file).
 */
export const workload = openWorkload({
  name: 'open-1m-vs-sqlite',
  description:
    'open of a 1 000 000-file cartridge + 100 random reads vs better-sqlite3 open + 100 lookups',
  figure: { name: 'open_1m_vs_sqlite_ratio', target: atMost(5) },
  report: (samples, settings, { report, checksum }) => {
    for (const child of [...samples.cartridge, ...samples.sqlite]) checksum.add(child.bytes);
    const cartridgeMs = medianOf(samples.cartridge, (child) => child.ms);
    const sqliteMs = medianOf(samples.sqlite, (child) => child.ms);
    const cartridgeOpenMs = medianOf(samples.cartridge, (child) => child.openMs);
    const sqliteOpenMs = medianOf(samples.sqlite, (child) => child.openMs);
    report.figure('open_1m_vs_sqlite_ratio', cartridgeMs / sqliteMs);
    report.line('open_1m_files', settings.fileCount, 0);
    report.line('open_1m_cartridge_ms', cartridgeMs, 1);
    report.line('open_1m_sqlite_ms', sqliteMs, 2);
    report.line('open_1m_cartridge_open_only_ms', cartridgeOpenMs, 1);
    report.line('open_1m_sqlite_open_only_ms', sqliteOpenMs, 2);
    report.line('open_1m_cartridge_file_mib', samples.large.cartridgeBytes / MIB, 1);
    report.line('open_1m_sqlite_file_mib', samples.large.sqliteBytes / MIB, 1);
    report.line('open_1m_cartridge_setup_ms', samples.large.cartridgeSetupMs, 0);
    report.line('open_1m_sqlite_setup_ms', samples.large.sqliteSetupMs, 0);
    report.line('open_1m_runs', samples.cartridge.length, 0);
    report.line('open_1m_cartridge_engine', samples.cartridge[0]?.engine ?? 'none');
  },
});
