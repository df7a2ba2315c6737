import type { CompressionName } from '../../src/index.js';
import { KIB, type PreparedPair } from '../support.js';
import { rewritePair } from './rewrite-pair.js';

/**
 * 64 KiB file writes with durability 'off': `writeFile` of incompressible 64 KiB buffers to a
 * small set of paths in a cartridge on a real file, against plain sequential `fs.writeSync` of
 * the same buffers appended to a plain file in the same directory. Neither side syncs.
 */

export const WRITE_BYTES = 64 * KIB;

export function setup(compression: CompressionName): PreparedPair {
  return rewritePair({
    label: `write-64k-${compression}`,
    writeBytes: WRITE_BYTES,
    bufferCount: 32,
    pathCount: 8,
    pathPrefix: '/files/file',
    options: { durability: 'off', compression },
    syncBaseline: false,
  });
}
