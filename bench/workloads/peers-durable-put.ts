import type { MeasureOptions } from '../measure.js';
import { keyOf, valueRing } from '../peers/peer-data.js';
import { type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import type { Workload } from '../report.js';
import { KIB } from '../support.js';

/**
 * Durable single commits: a put of 4 KiB that returns only once it is on stable storage.
 * Cartridge `'full'` against one file per entry with `fsyncSync`, better-sqlite3
 * `synchronous=FULL`, lmdb-js with its default sync, and LevelDB with `sync: true`. Each round
 * is one put, so the round median is the p50 (one slow flush does not move a round mean). There
 * is no target in the issue; the figure against the machine's own `fdatasync` is
 * `durable_commit_4k_ratio`.
 */

const COMPARISONS = ['fs', 'sqlite', 'lmdb', 'level'] as const;

function specs(measure: MeasureOptions): PeerPairSpec[] {
  const values = valueRing(4 * KIB, 'peers-durable-put');
  return COMPARISONS.map((peer) => ({
    figure: `peer_durable_put_4k_vs_${peer}`,
    peer,
    peerDurability: 'full',
    cartridgeDurability: 'full',
    settings: measure,
    operation: (store) => {
      let count = 0;
      return () => {
        const index = count++;
        return store.put(keyOf(index), values[index % values.length] as Buffer);
      };
    },
  }));
}

export const workload: Workload<MeasureOptions> = {
  name: 'peers-durable-put',
  description: 'durable 4 KiB puts (fsync per commit) vs fs + fsyncSync, sqlite FULL, lmdb, level',
  sizes: {
    small: { warmupRounds: 5, rounds: 21, opsPerRound: 1, latencySamples: 0 },
    medium: { warmupRounds: 20, rounds: 201, opsPerRound: 1, latencySamples: 0 },
    large: { warmupRounds: 20, rounds: 201, opsPerRound: 1, latencySamples: 0 },
  },
  budgetMs: { small: 30_000, medium: 300_000, large: 300_000 },
  figures: [],
  run: async (settings, context) => {
    for (const spec of specs(settings)) await runPeerPair(spec, context);
  },
};
