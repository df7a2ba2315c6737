import { join } from 'node:path';
import { open } from 'lmdb';
import { missingKey, type PeerDurability, type PeerStore } from './peer-store.js';

/**
 * lmdb-js with raw bytes (`encoding: 'binary'`, so no msgpack on either side). Its idiomatic
 * writes are asynchronous and batched per event turn; a synchronous store compares with its
 * synchronous API, which users call when they need the write done before going on: `putSync`
 * (one transaction per put) and `transactionSync` (one transaction for a batch), and `getBinary`
 * for reads. Durability `off` and `normal` open with `noSync: true` (commits are never flushed
 * by lmdb, the OS writes them back: what the issue calls lmdb-js no-sync); `full` keeps lmdb's
 * default, which flushes each commit before it returns.
 */
export function openLmdbPeer(directory: string, durability: PeerDurability): PeerStore {
  const noSync = durability !== 'full';
  const database = open<Buffer, string>({
    path: join(directory, 'peer.lmdb'),
    encoding: 'binary',
    noSync,
  });
  const put = (key: string, bytes: Buffer): number => {
    database.putSync(key, bytes);
    return bytes.length;
  };
  return {
    name: 'lmdb',
    configuration: `lmdb-js, encoding binary, putSync/transactionSync/getBinary${noSync ? ', noSync' : ', default sync'}`,
    put,
    get: (key) => {
      const value = database.getBinary(key);
      if (value === undefined) throw missingKey('lmdb', key);
      return value;
    },
    putBatch: (keys, values) =>
      database.transactionSync(() => {
        let count = 0;
        keys.forEach((key, index) => {
          count += put(key, values[index] as Buffer);
        });
        return count;
      }),
    close: () => database.close(),
  };
}
