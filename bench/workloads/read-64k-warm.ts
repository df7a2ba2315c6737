import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { incompressibleBuffers, KIB, type PreparedPair, scratchDirectory } from '../support.js';

/**
 * Warm 64 KiB reads: `readFile` of 64 KiB files that were already read once, so that their
 * content is served from the buffer pool (no I/O, no hash check, no decompression), against
 * `Buffer.from` of the same 64 KiB, which is the least any read returning a fresh buffer costs.
 */

export const READ_BYTES = 64 * KIB;
const FILE_COUNT = 8;

export function setup(): PreparedPair {
  const scratch = scratchDirectory('read');
  const sources = incompressibleBuffers(FILE_COUNT, READ_BYTES, 'read-64k');
  const cartridge = Cartridge.create(join(scratch.path, 'bench.cart'), { durability: 'off' });
  const paths = sources.map((_, index) => `/files/file-${index}.bin`);
  cartridge.transaction(() => {
    paths.forEach((path, index) => cartridge.createFile(path, sources[index] as Buffer));
  });
  // Read twice: a blob this large goes to the pool on its second read (content-admission.ts).
  for (let pass = 0; pass < 2; pass++) for (const path of paths) cartridge.readFile(path);
  const missesAfterSetup = cartridge.stats().bufferPool.misses;
  let subjectCount = 0;
  let baselineCount = 0;
  return {
    subject: () => {
      const index = subjectCount++;
      const bytes = cartridge.readFile(paths[index % FILE_COUNT] as string);
      return bytes.length + (bytes[index % READ_BYTES] as number);
    },
    baseline: () => {
      const index = baselineCount++;
      const bytes = Buffer.from(sources[index % FILE_COUNT] as Buffer);
      return bytes.length + (bytes[index % READ_BYTES] as number);
    },
    teardown: () => {
      try {
        // The figure is only about pool hits: a miss during the timed part would mean it
        // measured disk reads and hash checks instead.
        const misses = cartridge.stats().bufferPool.misses;
        if (misses !== missesAfterSetup) {
          throw new Error(
            `read-64k-warm: ${misses - missesAfterSetup} buffer pool misses while timed`,
          );
        }
        cartridge.close();
      } finally {
        scratch.remove();
      }
    },
  };
}
