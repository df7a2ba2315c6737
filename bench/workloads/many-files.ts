import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Cartridge } from '../../src/index.js';
import type { Deadline } from '../measure.js';
import { OnceCache, scratchDirectory, smallFileContent, smallFilePath } from '../support.js';

/**
 * The fixtures of the large-catalog figures: a cartridge holding `fileCount` small files (about
 * 100 bytes each, 100 per directory, written in transactions of 1 000 files and closed), and a
 * better-sqlite3 database holding the same rows (`path TEXT PRIMARY KEY, content BLOB`, WAL,
 * checkpointed into the main file before close). Building a million-file cartridge takes
 * minutes, so a fixture is built once per process and shared by every workload that asks for
 * the same size; `removeManyFilesFixtures` deletes them all at the end of the run.
 */

const FILES_PER_TRANSACTION = 1000;

export interface ManyFilesFixture {
  readonly fileCount: number;
  readonly cartridgePath: string;
  readonly sqlitePath: string;
  readonly cartridgeBytes: number;
  readonly sqliteBytes: number;
  readonly cartridgeSetupMs: number;
  readonly sqliteSetupMs: number;
}

let scratch: ReturnType<typeof scratchDirectory> | undefined;
const fixtures = new OnceCache<ManyFilesFixture>();

function buildCartridge(path: string, fileCount: number, deadline: Deadline): void {
  // Durability 'off' only makes the build faster: the file on disk has the same format, and
  // close syncs it in every mode.
  const cartridge = Cartridge.create(path, { durability: 'off' });
  try {
    for (let first = 0; first < fileCount; first += FILES_PER_TRANSACTION) {
      deadline.check();
      cartridge.transaction(() => {
        const end = Math.min(fileCount, first + FILES_PER_TRANSACTION);
        for (let index = first; index < end; index++) {
          cartridge.createFile(smallFilePath(index), smallFileContent(index));
        }
      });
    }
    const background = cartridge.lastBackgroundError;
    if (background !== undefined) throw background;
  } finally {
    cartridge.close();
  }
}

function buildSqlite(path: string, fileCount: number): void {
  const database = new Database(path);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.exec('CREATE TABLE files (path TEXT PRIMARY KEY, content BLOB)');
    const insert = database.prepare('INSERT INTO files (path, content) VALUES (?, ?)');
    const insertRange = database.transaction((first: number, end: number) => {
      for (let index = first; index < end; index++) {
        insert.run(smallFilePath(index), Buffer.from(smallFileContent(index)));
      }
    });
    for (let first = 0; first < fileCount; first += FILES_PER_TRANSACTION) {
      insertRange(first, Math.min(fileCount, first + FILES_PER_TRANSACTION));
    }
    database.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    database.close();
  }
}

function build(fileCount: number, deadline: Deadline): ManyFilesFixture {
  scratch ??= scratchDirectory('many-files');
  const cartridgePath = join(scratch.path, `files-${fileCount}.cart`);
  const sqlitePath = join(scratch.path, `files-${fileCount}.sqlite`);
  try {
    const cartridgeStart = performance.now();
    buildCartridge(cartridgePath, fileCount, deadline);
    const sqliteStart = performance.now();
    buildSqlite(sqlitePath, fileCount);
    const sqliteEnd = performance.now();
    return {
      fileCount,
      cartridgePath,
      sqlitePath,
      cartridgeBytes: statSync(cartridgePath).size,
      sqliteBytes: statSync(sqlitePath).size,
      cartridgeSetupMs: sqliteStart - cartridgeStart,
      sqliteSetupMs: sqliteEnd - sqliteStart,
    };
  } catch (error) {
    // A half-built fixture is of no use to anyone; free its disk space now.
    for (const path of [cartridgePath, sqlitePath]) rmSync(path, { force: true });
    throw error;
  }
}

/**
 * The fixture with `fileCount` files, built on first use. A failed build (an engine error, or
 * the time budget of the workload that asked first) is remembered (`OnceCache`).
 */
export function manyFilesFixture(fileCount: number, deadline: Deadline): ManyFilesFixture {
  return fixtures.get(String(fileCount), () => build(fileCount, deadline));
}

/** Deletes every fixture of this process. */
export function removeManyFilesFixtures(): void {
  scratch?.remove();
  scratch = undefined;
  fixtures.clear();
}
