import { writeSync } from 'node:fs';

/**
 * Writes one line to stdout synchronously, retrying on EAGAIN (a non-blocking pipe that is
 * full): child processes of the tests report what they did this way, so a line printed is a
 * thing done, and a line is never lost or split when the parent reads slowly.
 */
export function emitLine(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}
