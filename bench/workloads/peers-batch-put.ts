import type { MeasureOptions } from '../measure.js';
import {
  batchOperation,
  fillOthers,
  sizeLabel,
  STORE_FILES_LARGE,
  valueRing,
} from '../peers/peer-data.js';
import { pairFigures, type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import { atLeast, type Workload } from '../report.js';
import { KIB } from '../support.js';

/**
 * Batched puts: one operation is one transaction of 100 puts of new keys (100-byte and 4 KiB
 * values): a Cartridge `transaction()` of writes against a better-sqlite3 `transaction()` of
 * inserts (WAL, `synchronous=NORMAL`; Cartridge `'normal'`), an lmdb-js `transactionSync`
 * (`noSync`; Cartridge `'off'`), a LevelDB `batch()` (no sync; Cartridge `'off'`). The issue's
 * target: ≥ 1× better-sqlite3 in one transaction. The figure is `peer_time / cartridge_time`.
 * At the large size each store is first filled (untimed) so that it holds STORE_FILES_LARGE
 * entries once the timed batches are done.
 */

interface BatchSettings {
  readonly measure: MeasureOptions;
  readonly entriesPerBatch: number;
  /** The peers compared; the small size keeps SQLite (the target) and lmdb-js. */
  readonly peers: readonly string[];
  /** Entries each store holds after the timed batches (the rest put first, untimed). */
  readonly storeFiles: number;
}

/** How many entries a pair's timed batches put on each side, warm-up rounds included. */
function timedEntries(settings: BatchSettings): number {
  const { measure } = settings;
  return (measure.warmupRounds + measure.rounds) * measure.opsPerRound * settings.entriesPerBatch;
}

const COMPARISONS = [
  { peer: 'sqlite', peerDurability: 'normal', cartridgeDurability: 'normal', target: 1 },
  { peer: 'lmdb', peerDurability: 'off', cartridgeDurability: 'off' },
  { peer: 'level', peerDurability: 'off', cartridgeDurability: 'off' },
] as const;

function specs(settings: BatchSettings): PeerPairSpec[] {
  return [100, 4 * KIB].flatMap((sizeBytes) =>
    COMPARISONS.filter((comparison) => settings.peers.includes(comparison.peer)).map(
      (comparison) => {
        const values = valueRing(sizeBytes, 'peers-batch-put');
        return {
          figure: `peer_batch_put_${sizeLabel(sizeBytes)}_vs_${comparison.peer}`,
          peer: comparison.peer,
          peerDurability: comparison.peerDurability,
          cartridgeDurability: comparison.cartridgeDurability,
          settings: settings.measure,
          ...('target' in comparison ? { target: atLeast(comparison.target) } : {}),
          prepare: (store) =>
            fillOthers(
              store,
              settings.storeFiles - timedEntries(settings),
              sizeBytes,
              'peers-batch-put',
            ),
          operation: batchOperation(values, settings.entriesPerBatch),
        } satisfies PeerPairSpec;
      },
    ),
  );
}

const SMALL: BatchSettings = {
  measure: { warmupRounds: 1, rounds: 5, opsPerRound: 3, latencySamples: 0 },
  entriesPerBatch: 100,
  peers: ['sqlite', 'lmdb'],
  storeFiles: 0,
};
const LARGE: BatchSettings = {
  measure: { warmupRounds: 5, rounds: 31, opsPerRound: 20, latencySamples: 0 },
  entriesPerBatch: 100,
  peers: COMPARISONS.map((comparison) => comparison.peer),
  storeFiles: STORE_FILES_LARGE,
};

export const workload: Workload<BatchSettings> = {
  name: 'peers-batch-put',
  description: 'transactions of 100 puts (100 B and 4 KiB) vs sqlite, lmdb and level batches',
  sizes: { small: SMALL, medium: LARGE, large: LARGE },
  budgetMs: { small: 30_000, medium: 300_000, large: 300_000 },
  figures: pairFigures(specs(SMALL)),
  run: async (settings, context) => {
    for (const spec of specs(settings)) await runPeerPair(spec, context);
  },
};
