import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { incompressibleBuffers, KIB, type PreparedPair, scratchDirectory } from '../support.js';

/**
 * One durable 4 KiB commit: `writeFile` of 4 KiB with durability 'full' (the commit returns
 * only after fdatasync), against `fs.writeSync` of the same 4 KiB appended to a plain file
 * followed by `fs.fdatasyncSync`. Both files live in the same directory, so on the same disk.
 */

export const COMMIT_BYTES = 4 * KIB;
const PATH_COUNT = 8;
const BUFFER_COUNT = 64;

export function setup(): PreparedPair {
  const scratch = scratchDirectory('durable');
  const buffers = incompressibleBuffers(BUFFER_COUNT, COMMIT_BYTES, 'durable-commit-4k');
  const cartridge = Cartridge.create(join(scratch.path, 'bench.cart'), { durability: 'full' });
  const paths = Array.from({ length: PATH_COUNT }, (_, index) => `/log/entry-${index}.bin`);
  cartridge.transaction(() => {
    for (const path of paths) cartridge.createFile(path, buffers[0] as Buffer);
  });
  const descriptor = openSync(join(scratch.path, 'plain.bin'), 'w');
  let subjectCount = 0;
  let baselineCount = 0;
  let baselinePosition = 0;
  return {
    subject: () => {
      const index = subjectCount++;
      cartridge.writeFile(paths[index % PATH_COUNT] as string, buffers[index % BUFFER_COUNT] as Buffer);
      return cartridge.head;
    },
    baseline: () => {
      const index = baselineCount++;
      baselinePosition += writeSync(descriptor, buffers[index % BUFFER_COUNT] as Buffer);
      fdatasyncSync(descriptor);
      return baselinePosition;
    },
    teardown: () => {
      try {
        cartridge.close();
        closeSync(descriptor);
      } finally {
        scratch.remove();
      }
    },
  };
}
