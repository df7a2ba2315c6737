import type { MeasureOptions } from '../measure.js';
import { fill, keyOf, valueRing } from '../peers/peer-data.js';
import { type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import type { PeerStore } from '../peers/peer-store.js';
import type { Workload } from '../report.js';
import { KIB, seededIndexes } from '../support.js';

/**
 * An 80/20 read/write mix over 1 000 entries of 4 KiB: each operation reads (80 %) or
 * overwrites (20 %) an entry chosen by a seeded random sequence, the same sequence on both
 * sides, one commit per write. Against better-sqlite3 (WAL, `synchronous=NORMAL`; Cartridge
 * `'normal'`) and lmdb-js (`noSync`; Cartridge `'off'`). No target in the issue; the figure is
 * `peer_time / cartridge_time`.
 */

const ENTRIES = 1000;
const SEQUENCE_LENGTH = 4096;

function specs(measure: MeasureOptions): PeerPairSpec[] {
  const values = valueRing(4 * KIB, 'peers-mix');
  const entries = seededIndexes(SEQUENCE_LENGTH, ENTRIES, 15);
  const writes = seededIndexes(SEQUENCE_LENGTH, 5, 51).map((draw) => draw === 0);
  return (['sqlite', 'lmdb'] as const).map((peer) => ({
    figure: `peer_mix_80_20_4k_vs_${peer}`,
    peer,
    peerDurability: peer === 'sqlite' ? 'normal' : 'off',
    cartridgeDurability: peer === 'sqlite' ? 'normal' : 'off',
    settings: measure,
    prepare: (store: PeerStore) => fill(store, ENTRIES, values),
    operation: (store: PeerStore) => {
      let count = 0;
      return () => {
        const step = count++ % SEQUENCE_LENGTH;
        const key = keyOf(entries[step] as number);
        if (writes[step] === true) return store.put(key, values[step % values.length] as Buffer);
        const bytes = store.get(key);
        return bytes instanceof Promise ? bytes.then((value) => value.length) : bytes.length;
      };
    },
  }));
}

export const workload: Workload<MeasureOptions> = {
  name: 'peers-mix',
  description: '80/20 read/write mix of 4 KiB entries vs sqlite and lmdb',
  sizes: {
    small: { warmupRounds: 1, rounds: 7, opsPerRound: 200, latencySamples: 0 },
    medium: { warmupRounds: 3, rounds: 21, opsPerRound: 2000, latencySamples: 0 },
    large: { warmupRounds: 3, rounds: 21, opsPerRound: 2000, latencySamples: 0 },
  },
  budgetMs: { small: 30_000, medium: 300_000, large: 300_000 },
  figures: [],
  run: async (settings, context) => {
    for (const spec of specs(settings)) await runPeerPair(spec, context);
  },
};
