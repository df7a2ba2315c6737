import type { MeasureOptions } from '../measure.js';
import { batchOperation, valueRing } from '../peers/peer-data.js';
import { type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import type { Workload } from '../report.js';
import { KIB } from '../support.js';

/**
 * Group commit: 100 puts of 4 KiB made durable together, the way each store's users group
 * durable writes. Cartridge: one `transaction()` at durability `'full'` (one commit, one
 * `fdatasync`); better-sqlite3: one `transaction()` with `synchronous=FULL`; lmdb-js: one
 * `transactionSync` with its default sync; LevelDB: one `batch()` with `sync: true`; `node:fs`:
 * the 100 files written one after another, each `fsyncSync`ed before it is closed (a file
 * system has no transaction: that is what a durable write of 100 files costs there). No target
 * in the issue; the figure is `peer_time / cartridge_time` (above 1: Cartridge is faster).
 */

const COMPARISONS = ['fs', 'sqlite', 'lmdb', 'level'] as const;
const ENTRIES_PER_GROUP = 100;

function specs(measure: MeasureOptions): PeerPairSpec[] {
  const values = valueRing(4 * KIB, 'peers-group-commit');
  return COMPARISONS.map((peer) => ({
    figure: `peer_group_commit_4k_vs_${peer}`,
    peer,
    peerDurability: 'full',
    cartridgeDurability: 'full',
    settings: measure,
    operation: batchOperation(values, ENTRIES_PER_GROUP),
  }));
}

export const workload: Workload<MeasureOptions> = {
  name: 'peers-group-commit',
  description: 'groups of 100 durable 4 KiB puts, one sync each, vs fs, sqlite FULL, lmdb, level',
  sizes: {
    small: { warmupRounds: 1, rounds: 5, opsPerRound: 1, latencySamples: 0 },
    medium: { warmupRounds: 3, rounds: 21, opsPerRound: 1, latencySamples: 0 },
    large: { warmupRounds: 3, rounds: 21, opsPerRound: 1, latencySamples: 0 },
  },
  budgetMs: { small: 60_000, medium: 300_000, large: 300_000 },
  figures: [],
  run: async (settings, context) => {
    for (const spec of specs(settings)) await runPeerPair(spec, context);
  },
};
