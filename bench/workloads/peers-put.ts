import type { MeasureOptions } from '../measure.js';
import {
  fillOthers,
  keyOf,
  sizeLabel,
  STORE_FILES_LARGE,
  valueRing,
  VALUE_SIZES_BYTES,
} from '../peers/peer-data.js';
import { pairFigures, type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import { atLeast, type Workload } from '../report.js';

/**
 * Puts of one new key each, one commit per put, of 100-byte, 4 KiB and 64 KiB values, against
 * each peer at matched durability: better-sqlite3 (WAL, `synchronous=NORMAL`) against Cartridge
 * `'normal'`; lmdb-js (`noSync`), LevelDB (default, no sync) and one file per entry with
 * `node:fs` (no fsync) against Cartridge `'off'`. The targets: 4 KiB and 100-byte puts
 * ≥ 1.5× better-sqlite3 and ≥ 1× lmdb-js. The figure is `peer_time / cartridge_time`.
 *
 * At the large size each store is first filled (untimed) so that it holds STORE_FILES_LARGE
 * entries once the timed puts are done: the puts land in a store of the size the issue names.
 */

interface PutSettings {
  readonly measure: MeasureOptions;
  readonly sizesBytes: readonly number[];
  /** The peers compared; the small size keeps the two with targets, to finish in seconds. */
  readonly peers: readonly string[];
  /** Entries each store holds after the timed puts (the rest put first, untimed). */
  readonly storeFiles: number;
}

/** How many puts a pair times on each side: warm-up and timed rounds, and the latency pass. */
function timedPuts(measure: MeasureOptions): number {
  return (measure.warmupRounds + measure.rounds) * measure.opsPerRound + measure.latencySamples;
}

const COMPARISONS = [
  { peer: 'sqlite', peerDurability: 'normal', cartridgeDurability: 'normal', target: 1.5 },
  { peer: 'lmdb', peerDurability: 'off', cartridgeDurability: 'off', target: 1 },
  { peer: 'level', peerDurability: 'off', cartridgeDurability: 'off' },
  { peer: 'fs', peerDurability: 'off', cartridgeDurability: 'off' },
] as const;

/** Only the 100-byte and 4 KiB figures have targets in the issue. */
const hasTarget = (sizeBytes: number): boolean => sizeBytes <= 4096;

function specs(settings: PutSettings): PeerPairSpec[] {
  return settings.sizesBytes.flatMap((sizeBytes) =>
    COMPARISONS.filter((comparison) => settings.peers.includes(comparison.peer)).map(
      (comparison) => {
        const target =
          'target' in comparison && hasTarget(sizeBytes) ? atLeast(comparison.target) : undefined;
        const values = valueRing(sizeBytes, 'peers-put');
        return {
          figure: `peer_put_${sizeLabel(sizeBytes)}_vs_${comparison.peer}`,
          peer: comparison.peer,
          peerDurability: comparison.peerDurability,
          cartridgeDurability: comparison.cartridgeDurability,
          settings: settings.measure,
          ...(target === undefined ? {} : { target }),
          prepare: (store) =>
            fillOthers(
              store,
              settings.storeFiles - timedPuts(settings.measure),
              sizeBytes,
              'peers-put',
            ),
          operation: (store) => {
            let count = 0;
            return () => {
              const index = count++;
              return store.put(keyOf(index), values[index % values.length] as Buffer);
            };
          },
        } satisfies PeerPairSpec;
      },
    ),
  );
}

const SMALL: PutSettings = {
  measure: { warmupRounds: 2, rounds: 5, opsPerRound: 50, latencySamples: 0 },
  sizesBytes: VALUE_SIZES_BYTES,
  peers: ['sqlite', 'lmdb'],
  storeFiles: 0,
};
const LARGE: PutSettings = {
  measure: { warmupRounds: 5, rounds: 31, opsPerRound: 1000, latencySamples: 2000 },
  sizesBytes: VALUE_SIZES_BYTES,
  peers: COMPARISONS.map((comparison) => comparison.peer),
  storeFiles: STORE_FILES_LARGE,
};

export const workload: Workload<PutSettings> = {
  name: 'peers-put',
  description: '100 B, 4 KiB and 64 KiB puts, one commit each, vs sqlite, lmdb, level and fs',
  sizes: { small: SMALL, medium: LARGE, large: LARGE },
  budgetMs: { small: 30_000, medium: 600_000, large: 600_000 },
  figures: pairFigures(specs(SMALL)),
  run: async (settings, context) => {
    for (const spec of specs(settings)) await runPeerPair(spec, context);
  },
};
