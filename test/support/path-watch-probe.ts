import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchPath } from '../../src/journal/io/path-watch.js';

/**
 * Whether this machine gives path watches for files in its temporary directory (Linux, the
 * addon built, a local file system): the tests of watched writers skip themselves otherwise.
 */
export function pathWatchAvailable(): boolean {
  const directory = mkdtempSync(join(tmpdir(), 'path-watch-probe-'));
  try {
    const probe = join(directory, 'probe.bin');
    writeFileSync(probe, '');
    const watch = watchPath(probe);
    watch?.close();
    return watch !== undefined;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
