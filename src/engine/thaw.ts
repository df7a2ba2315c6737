import { createHash } from 'node:crypto';
import type { Engram } from '../engram/reader.js';
import { engramCorrupt } from '../engram/layout.js';
import { MANIFEST_PATH } from '../engram/manifest.js';
import { parentOf, ROOT_PATH } from '../path/canonical-path.js';
import { PROVENANCE_PATH } from './freeze.js';

/**
 * Thaw: an archive's files written into a new cartridge, the inverse of freeze. The archive's
 * own `manifest.json` and the `cartridge.json` freeze adds are not files of the cartridge:
 * they are left out, and the empty directories `cartridge.json` lists are made again. When
 * the manifest lists a file, its SHA-256 and size must match what is written.
 */

/** What thaw needs of the new cartridge. */
export interface ThawTarget {
  exists(path: string): boolean;
  createDir(path: string, options: { recursive: boolean }): void;
  createFile(path: string, content: Buffer): void;
  transaction<T>(body: () => T): T;
}

/** Files are written in transactions of about this many bytes. */
const TRANSACTION_BYTES = 64 * 1024 * 1024;

/**
 * The empty directories of the provenance entry freeze wrote, or undefined when there is no
 * such entry: a `cartridge.json` freeze did not write is an ordinary file of the archive.
 */
function emptyDirectoriesOf(engram: Engram): string[] | undefined {
  if (engram.entry(PROVENANCE_PATH) === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(engram.readFile(PROVENANCE_PATH).toString('utf8'));
  } catch {
    return undefined;
  }
  const provenance = value as { cartridge_id?: unknown; empty_directories?: unknown } | null;
  if (typeof provenance?.cartridge_id !== 'string') return undefined;
  const directories = provenance.empty_directories;
  if (!Array.isArray(directories)) return [];
  return directories.filter((path): path is string => typeof path === 'string');
}

export function thawInto(engram: Engram, target: ThawTarget): void {
  const listed = new Map<string, { sha256: string; size: number }>();
  for (const file of engram.manifest()?.files ?? []) listed.set(file.path, file);
  const skipped = new Set([MANIFEST_PATH]);
  const emptyDirectories = emptyDirectoriesOf(engram);
  if (emptyDirectories !== undefined) skipped.add(PROVENANCE_PATH);
  const entries = engram.list().filter((entry) => !skipped.has(entry.path));
  let index = 0;
  while (index < entries.length) {
    target.transaction(() => {
      let batchBytes = 0;
      while (index < entries.length && batchBytes < TRANSACTION_BYTES) {
        const entry = entries[index] as (typeof entries)[number];
        const content = engram.readFile(entry.path);
        const expected = listed.get(entry.path);
        if (
          expected !== undefined &&
          (expected.size !== content.length ||
            expected.sha256.toLowerCase() !== createHash('sha256').update(content).digest('hex'))
        ) {
          throw engramCorrupt('holds a file that does not match its manifest entry', entry.path);
        }
        const path = `/${entry.path}`;
        const parent = parentOf(path);
        if (parent !== ROOT_PATH && !target.exists(parent)) {
          target.createDir(parent, { recursive: true });
        }
        target.createFile(path, content);
        batchBytes += content.length;
        index++;
      }
    });
  }
  target.transaction(() => {
    for (const directory of emptyDirectories ?? []) {
      if (!target.exists(directory)) target.createDir(directory, { recursive: true });
    }
  });
}
