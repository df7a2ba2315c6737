import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerDurability, PeerStore } from './peer-store.js';

/**
 * One plain file per entry with `node:fs`, as an application that keeps its records as files
 * does: open with `w` (create or truncate), one `writeSync`, optionally `fsyncSync` (durability
 * `full`; a careful program would also sync the directory after creating a file, which is not
 * done here, so this peer is if anything flattered), close. A batch has no transaction here: it
 * is the same writes one after the other. Keys are hashed into 256 directories so that no
 * directory grows past a few thousand entries.
 */
export function openNodeFsPeer(directory: string, durability: PeerDurability): PeerStore {
  const sync = durability === 'full';
  for (let bucket = 0; bucket < 256; bucket++) {
    mkdirSync(join(directory, bucket.toString(16).padStart(2, '0')), { recursive: true });
  }
  const pathOf = (key: string): string => {
    let hash = 0;
    for (let index = 0; index < key.length; index++)
      hash = (hash * 31 + key.charCodeAt(index)) & 0xff;
    return join(directory, hash.toString(16).padStart(2, '0'), key.replaceAll('/', '_'));
  };
  const put = (key: string, bytes: Buffer): number => {
    const descriptor = openSync(pathOf(key), 'w');
    try {
      const written = writeSync(descriptor, bytes);
      if (sync) fsyncSync(descriptor);
      return written;
    } finally {
      closeSync(descriptor);
    }
  };
  return {
    name: 'fs',
    configuration: `node:fs one file per entry, open/writeSync/close${sync ? ' + fsyncSync' : ', no fsync'}`,
    put,
    get: (key) => readFileSync(pathOf(key)),
    putBatch: (keys, values) => {
      let written = 0;
      keys.forEach((key, index) => {
        written += put(key, values[index] as Buffer);
      });
      return written;
    },
    close: () => undefined,
  };
}
