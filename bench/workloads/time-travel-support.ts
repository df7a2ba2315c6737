import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import type { Deadline } from '../measure.js';
import { manyFilesFixture } from './many-files.js';

/**
 * Pieces shared by the time-travel workloads of issue 9 (`snapshot-create`,
 * `checkout-flatness`, `diff-1m`): working copies of the many-files fixtures, and the size of
 * the small catalog they are compared with.
 */

/** The small catalog every time-travel flatness figure compares against (the 1 000). */
export const REFERENCE_FILE_COUNT = 1000;

/**
 * A cartridge opened on a copy of the many-files fixture of `fileCount` files, in `directory`.
 * The fixture is built once per process and shared (`manyFilesFixture`), so a run that has
 * already built it for the open figures pays only for the copy; the copy keeps the shared file
 * as built, since snapshots and writes append to the journal. Durability `'off'`, so that no
 * timed operation pays for an fsync that the timer of `'normal'` happens to start inside it.
 */
export function openFixtureCopy(
  fileCount: number,
  directory: string,
  deadline: Deadline,
): Cartridge {
  const fixture = manyFilesFixture(fileCount, deadline);
  const path = join(directory, `copy-${fileCount}.cart`);
  copyFileSync(fixture.cartridgePath, path);
  return Cartridge.open(path, { durability: 'off' });
}

/** Closes every cartridge, reporting the first error after trying them all. */
export function closeAll(cartridges: readonly (Cartridge | undefined)[]): void {
  let first: unknown;
  for (const cartridge of cartridges) {
    try {
      cartridge?.close();
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}

/** The lowest and highest of some round times, in microseconds, for a person reading noise. */
export function rangeText(roundNs: readonly number[]): string {
  const lowUs = Math.min(...roundNs) / 1000;
  const highUs = Math.max(...roundNs) / 1000;
  return `${lowUs.toFixed(1)}-${highUs.toFixed(1)}`;
}
