import { Volume } from 'memfs';
import type { PeerStore } from './peer-store.js';

/**
 * memfs, the in-memory `fs` most test suites use: one `Volume`, `writeFileSync` and
 * `readFileSync` of one file per entry under one directory. It has no durability and no
 * transactions; a batch is the writes one after the other. It is compared with
 * `Cartridge.memory()`.
 */
export function openMemfsPeer(): PeerStore {
  const volume = new Volume();
  volume.mkdirSync('/entries', { recursive: true });
  const pathOf = (key: string): string => `/entries/${key.replaceAll('/', '_')}`;
  const put = (key: string, bytes: Buffer): number => {
    volume.writeFileSync(pathOf(key), bytes);
    return bytes.length;
  };
  return {
    name: 'memfs',
    configuration: 'memfs Volume, writeFileSync/readFileSync, one file per entry',
    put,
    get: (key) => volume.readFileSync(pathOf(key)) as Buffer,
    putBatch: (keys, values) => {
      let written = 0;
      keys.forEach((key, index) => {
        written += put(key, values[index] as Buffer);
      });
      return written;
    },
    close: () => volume.reset(),
  };
}
