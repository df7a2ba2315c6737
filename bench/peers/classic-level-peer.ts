import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { PeerDurability, PeerStore } from './peer-store.js';

/**
 * LevelDB through classic-level with buffer values. Writes are asynchronous only (a promise per
 * `put`, one `batch()` for a batch, which LevelDB applies atomically); reads use `getSync`,
 * which classic-level 3 offers. Durability `off` and `normal` are LevelDB's default (written to
 * its log, never synced by a put); `full` passes `sync: true` to every write. The store must be
 * opened before use: `openClassicLevelPeer` returns once it is.
 */
export async function openClassicLevelPeer(
  directory: string,
  durability: PeerDurability,
): Promise<PeerStore> {
  const sync = durability === 'full';
  const database = new ClassicLevel<string, Buffer>(join(directory, 'peer.level'), {
    valueEncoding: 'buffer',
  });
  await database.open();
  const writeOptions = { sync };
  return {
    name: 'level',
    configuration: `classic-level (LevelDB), buffer values, ${sync ? 'sync: true' : 'default (no sync)'}`,
    put: async (key, bytes) => {
      await database.put(key, bytes, writeOptions);
      return bytes.length;
    },
    get: (key) => {
      const value = database.getSync(key);
      if (value === undefined) throw new Error(`level: no value for ${key}`);
      return value;
    },
    putBatch: async (keys, values) => {
      await database.batch(
        keys.map((key, index) => ({ type: 'put', key, value: values[index] as Buffer })),
        writeOptions,
      );
      return keys.length;
    },
    close: () => database.close(),
  };
}
