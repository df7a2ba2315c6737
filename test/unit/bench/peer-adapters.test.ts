import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openPeer, type PeerName } from '../../../bench/peers/open-peer.js';
import type { PeerDurability } from '../../../bench/peers/peer-store.js';

/**
 * The bench's peer adapters must all do the same work, or a ratio between two of them means
 * nothing: a put is read back by a get, a batch puts every entry, an overwrite replaces, and a
 * store closed and opened again still has its entries (the cold-read figures rely on that).
 */

const PEERS: readonly PeerName[] = ['cartridge', 'sqlite', 'lmdb', 'level', 'fs'];
const DURABILITIES: readonly PeerDurability[] = ['off', 'full'];

const scratch: string[] = [];

function freshDirectory(): string {
  const path = mkdtempSync(join(tmpdir(), 'cartridge-peer-test-'));
  scratch.push(path);
  return path;
}

afterEach(() => {
  for (const path of scratch.splice(0)) rmSync(path, { recursive: true, force: true });
});

describe('bench peer adapters', () => {
  for (const peer of PEERS) {
    for (const durability of DURABILITIES) {
      it(`${peer} at ${durability} puts, gets, batches, overwrites and reopens`, async () => {
        const directory = join(freshDirectory(), peer);
        mkdirSync(directory);
        const store = await openPeer(peer, directory, durability);
        await store.put('one', Buffer.from('first value'));
        await store.putBatch(['two', 'three'], [Buffer.from('second'), Buffer.from('third')]);
        await store.put('one', Buffer.from('replaced'));
        expect(Buffer.from(await store.get('one')).toString()).toBe('replaced');
        expect(Buffer.from(await store.get('three')).toString()).toBe('third');
        await store.close();
        const reopened = await openPeer(peer, directory, durability);
        expect(Buffer.from(await reopened.get('two')).toString()).toBe('second');
        await reopened.put('two', Buffer.from('again'));
        expect(Buffer.from(await reopened.get('two')).toString()).toBe('again');
        await reopened.close();
      });
    }
  }

  it('memfs and Cartridge.memory() put, get and batch alike', async () => {
    for (const peer of ['memfs', 'cartridge-memory'] as const) {
      const store = await openPeer(peer, freshDirectory(), 'off');
      await store.putBatch(['a', 'b'], [Buffer.from('alpha'), Buffer.from('beta')]);
      await store.put('a', Buffer.from('again'));
      expect(Buffer.from(await store.get('a')).toString()).toBe('again');
      expect(Buffer.from(await store.get('b')).toString()).toBe('beta');
      await store.close();
    }
  });
});
