import { KIB, type PreparedPair } from '../support.js';
import { rewritePair } from './rewrite-pair.js';

/**
 * One durable 4 KiB commit: `writeFile` of 4 KiB with durability 'full' (the commit returns
 * only after fdatasync), against `fs.writeSync` of the same 4 KiB appended to a plain file
 * followed by `fs.fdatasyncSync`. Both files live in the same directory, so on the same disk.
 */

export const COMMIT_BYTES = 4 * KIB;

export function setup(): PreparedPair {
  return rewritePair({
    label: 'durable-commit-4k',
    writeBytes: COMMIT_BYTES,
    bufferCount: 64,
    pathCount: 8,
    pathPrefix: '/log/entry',
    options: { durability: 'full' },
    syncBaseline: true,
  });
}
