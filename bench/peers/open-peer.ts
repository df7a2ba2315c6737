import { openClassicLevelPeer } from './classic-level-peer.js';
import { openCartridgePeer } from './cartridge-peer.js';
import { openLmdbPeer } from './lmdb-peer.js';
import { openMemfsPeer } from './memfs-peer.js';
import { openNodeFsPeer } from './node-fs-peer.js';
import type { PeerDurability, PeerStore } from './peer-store.js';
import { openSqlitePeer } from './sqlite-peer.js';

/** The peers a workload can name. `memfs` and `cartridge-memory` live in memory only. */
export type PeerName =
  'cartridge' | 'cartridge-memory' | 'sqlite' | 'lmdb' | 'level' | 'fs' | 'memfs';

/**
 * Opens (or, when `directory` already holds its files, reopens) a store of `peer`. Every peer
 * is opened the same way whether the store is new or not, so closing and opening again gives the
 * cold-read case (empty caches of the store itself; the OS page cache stays warm).
 */
export async function openPeer(
  peer: PeerName,
  directory: string,
  durability: PeerDurability,
): Promise<PeerStore> {
  switch (peer) {
    case 'cartridge':
      return openCartridgePeer(directory, durability);
    case 'cartridge-memory':
      return openCartridgePeer(undefined, durability);
    case 'sqlite':
      return openSqlitePeer(directory, durability);
    case 'lmdb':
      return openLmdbPeer(directory, durability);
    case 'level':
      return openClassicLevelPeer(directory, durability);
    case 'fs':
      return openNodeFsPeer(directory, durability);
    case 'memfs':
      return openMemfsPeer();
  }
}
