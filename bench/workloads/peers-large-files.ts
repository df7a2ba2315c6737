import type { MeasureOptions } from '../measure.js';
import { sizeLabel, valueRing } from '../peers/peer-data.js';
import { type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import type { PeerStore } from '../peers/peer-store.js';
import type { Workload } from '../report.js';
import { MIB } from '../support.js';

/**
 * Large files: one operation writes a 1 MiB (or 64 MiB) file of incompressible bytes and reads
 * it back, over 4 paths in turn (so a write overwrites a file written earlier): Cartridge
 * `writeFile` + `readFile` with durability `'off'` against `node:fs` open/`writeSync`/close +
 * `readFileSync`, no fsync. No target in the issue; the figure is `fs_time / cartridge_time`.
 */

interface LargeFileSettings {
  readonly oneMib: MeasureOptions;
  readonly sixtyFourMib: MeasureOptions;
}

const PATHS = 4;

function spec(sizeBytes: number, measure: MeasureOptions): PeerPairSpec {
  const values = valueRing(sizeBytes, 'peers-large-files', PATHS);
  return {
    figure: `peer_file_${sizeLabel(sizeBytes)}_write_read_vs_fs`,
    peer: 'fs',
    peerDurability: 'off',
    cartridgeDurability: 'off',
    settings: measure,
    operation: (store: PeerStore) => {
      let count = 0;
      return () => {
        const index = count++ % PATHS;
        const key = `large-${index}`;
        store.put(key, values[index] as Buffer);
        return (store.get(key) as Buffer).length;
      };
    },
  };
}

export const workload: Workload<LargeFileSettings> = {
  name: 'peers-large-files',
  description: '1 MiB and 64 MiB files written and read back vs node:fs',
  sizes: {
    small: {
      oneMib: { warmupRounds: 1, rounds: 5, opsPerRound: 8, latencySamples: 0 },
      sixtyFourMib: { warmupRounds: 0, rounds: 3, opsPerRound: 1, latencySamples: 0 },
    },
    medium: {
      oneMib: { warmupRounds: 2, rounds: 15, opsPerRound: 32, latencySamples: 0 },
      sixtyFourMib: { warmupRounds: 1, rounds: 9, opsPerRound: 1, latencySamples: 0 },
    },
    large: {
      oneMib: { warmupRounds: 2, rounds: 15, opsPerRound: 32, latencySamples: 0 },
      sixtyFourMib: { warmupRounds: 1, rounds: 9, opsPerRound: 1, latencySamples: 0 },
    },
  },
  budgetMs: { small: 30_000, medium: 300_000, large: 300_000 },
  figures: [],
  run: async (settings, context) => {
    await runPeerPair(spec(MIB, settings.oneMib), context);
    await runPeerPair(spec(64 * MIB, settings.sixtyFourMib), context);
  },
};
