import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge, type CompressionName } from '../../src/index.js';
import { incompressibleBuffers, KIB, type PreparedPair, scratchDirectory } from '../support.js';

/**
 * 64 KiB file writes with durability 'off': `writeFile` of incompressible 64 KiB buffers to a
 * small set of paths in a cartridge on a real file, against plain sequential `fs.writeSync` of
 * the same buffers appended to a plain file in the same directory. Neither side syncs.
 */

export const WRITE_BYTES = 64 * KIB;
const PATH_COUNT = 8;
const BUFFER_COUNT = 32;

export function setup(compression: CompressionName): PreparedPair {
  const scratch = scratchDirectory(`write-${compression}`);
  const buffers = incompressibleBuffers(BUFFER_COUNT, WRITE_BYTES, 'write-64k');
  const cartridge = Cartridge.create(join(scratch.path, 'bench.cart'), { durability: 'off', compression });
  const paths = Array.from({ length: PATH_COUNT }, (_, index) => `/files/file-${index}.bin`);
  for (const path of paths) cartridge.createFile(path, buffers[0] as Buffer);
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
