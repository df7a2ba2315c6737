import type { MeasureOptions } from '../measure.js';
import { fill, keyOf, sizeLabel, valueRing } from '../peers/peer-data.js';
import { type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import type { PeerStore } from '../peers/peer-store.js';
import type { Workload } from '../report.js';
import { KIB } from '../support.js';

/**
 * The in-memory case: `Cartridge.memory()` (durability `'off'`; there is no disk) against a
 * memfs `Volume`, puts of new keys and warm gets of 256 entries, 100-byte and 4 KiB values.
 * memfs keeps plain buffers in a tree and checks nothing; Cartridge still journals, hashes and
 * checksums every record in memory. No target in the issue; the figure is
 * `memfs_time / cartridge_time`.
 */

const WARM_ENTRIES = 256;

function specs(measure: MeasureOptions): PeerPairSpec[] {
  return [100, 4 * KIB].flatMap((sizeBytes) => {
    const values = valueRing(sizeBytes, 'peers-memory');
    const label = sizeLabel(sizeBytes);
    const put: PeerPairSpec = {
      figure: `peer_memory_put_${label}_vs_memfs`,
      peer: 'memfs',
      peerDurability: 'off',
      cartridgeDurability: 'off',
      settings: measure,
      operation: (store: PeerStore) => {
        let count = 0;
        return () => {
          const index = count++;
          return store.put(keyOf(index), values[index % values.length] as Buffer);
        };
      },
    };
    const get: PeerPairSpec = {
      figure: `peer_memory_get_${label}_vs_memfs`,
      peer: 'memfs',
      peerDurability: 'off',
      cartridgeDurability: 'off',
      settings: measure,
      prepare: async (store: PeerStore) => {
        await fill(store, WARM_ENTRIES, values);
        for (let index = 0; index < WARM_ENTRIES; index++) await store.get(keyOf(index));
      },
      operation: (store: PeerStore) => {
        let count = 0;
        return () => (store.get(keyOf(count++ % WARM_ENTRIES)) as Buffer).length;
      },
    };
    return [put, get];
  });
}

export const workload: Workload<MeasureOptions> = {
  name: 'peers-memory',
  description: 'Cartridge.memory() vs memfs: 100 B and 4 KiB puts and warm gets',
  sizes: {
    small: { warmupRounds: 2, rounds: 7, opsPerRound: 200, latencySamples: 0 },
    medium: { warmupRounds: 5, rounds: 31, opsPerRound: 2000, latencySamples: 0 },
    large: { warmupRounds: 5, rounds: 31, opsPerRound: 2000, latencySamples: 0 },
  },
  budgetMs: { small: 30_000, medium: 300_000, large: 300_000 },
  figures: [],
  run: async (settings, context) => {
    for (const spec of specs(settings)) await runPeerPair(spec, context);
  },
};
