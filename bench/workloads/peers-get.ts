import type { MeasureOptions } from '../measure.js';
import {
  fill,
  fillOthers,
  keyOf,
  OTHER_VALUE_MAX_BYTES,
  sizeLabel,
  STORE_FILES_LARGE,
  valueRing,
  VALUE_SIZES_BYTES,
} from '../peers/peer-data.js';
import { pairFigures, type PeerPairSpec, runPeerPair } from '../peers/peer-pair.js';
import type { PeerStore } from '../peers/peer-store.js';
import { atLeast, type Target, type Workload } from '../report.js';

/**
 * Gets of 100-byte, 4 KiB and 64 KiB values, warm and cold, against better-sqlite3, lmdb-js,
 * LevelDB (`getSync`) and one file per entry read with `readFileSync`.
 *
 * - Warm: 256 entries, each read once before timing; the timed gets cycle over them in a fixed
 *   scattered order. Cartridge serves them from its buffer pool (256 × 64 KiB fits in the
 *   default 32 MiB), SQLite from its page cache, lmdb-js from its memory map.
 * - Cold: as many entries as there are timed gets; both stores are closed and opened again
 *   after the fill, and every get reads an entry not read since (a Cartridge pool miss, SQLite
 *   and LevelDB with empty caches). The OS page cache is warm for every store alike.
 * - At the large size every store holds STORE_FILES_LARGE entries before the timed gets: the
 *   cold figures of 100 B and 4 KiB read from that many entries of their size (the timed gets
 *   spread over all of them), and the rest is filled with entries no get reads (`fillOthers`,
 *   untimed).
 *
 * The targets for 4 KiB: ≥ 1× better-sqlite3 and ≥ 0.7× lmdb-js, warm and cold. The
 * 64 KiB cold get against `readFileSync` of a plain file is also printed as
 * `read_64k_miss_ratio` (target ≥ 0.5). The figure is `peer_time / cartridge_time`.
 */

const WARM_ENTRIES = 256;
/** A stride prime to no entry count used here, so `index * STRIDE % count` visits every entry. */
const STRIDE = 7919;

const COMPARISONS: readonly { peer: 'sqlite' | 'lmdb' | 'level' | 'fs'; target4k?: number }[] = [
  { peer: 'sqlite', target4k: 1 },
  { peer: 'lmdb', target4k: 0.7 },
  { peer: 'level' },
  { peer: 'fs' },
];

function targetOf(
  sizeBytes: number,
  temperature: 'warm' | 'cold',
  peer: string,
  target4k?: number,
): Target | undefined {
  if (sizeBytes === 4096 && target4k !== undefined) return atLeast(target4k);
  if (sizeBytes === 65536 && temperature === 'cold' && peer === 'fs') return atLeast(0.5);
  return undefined;
}

interface GetSettings {
  readonly measure: MeasureOptions;
  /**
   * Whether every peer is compared at every size. The small size keeps the comparisons with
   * targets (SQLite and lmdb-js at 4 KiB, `readFileSync` at 64 KiB cold) and SQLite at the other
   * sizes, so that it finishes in seconds; the large size runs all 24.
   */
  readonly everyPeer: boolean;
  /** Entries each store holds before the timed gets (see the workload's description). */
  readonly storeFiles: number;
}

/**
 * The entries of the figure's size a get may read: the warm set, or for cold gets one per timed
 * get, and as many as the store holds when they are small enough to fill it with.
 */
function readableEntries(
  settings: GetSettings,
  temperature: 'warm' | 'cold',
  sizeBytes: number,
): number {
  if (temperature === 'warm') return WARM_ENTRIES;
  const { measure } = settings;
  const timed =
    (measure.warmupRounds + measure.rounds) * measure.opsPerRound + measure.latencySamples;
  return sizeBytes <= OTHER_VALUE_MAX_BYTES ? Math.max(timed, settings.storeFiles) : timed;
}

function selected(
  settings: GetSettings,
  sizeBytes: number,
  peer: string,
  target?: Target,
): boolean {
  return settings.everyPeer || target !== undefined || peer === 'sqlite';
}

function specs(settings: GetSettings): PeerPairSpec[] {
  const measure = settings.measure;
  return VALUE_SIZES_BYTES.flatMap((sizeBytes) =>
    (['warm', 'cold'] as const).flatMap((temperature) =>
      COMPARISONS.flatMap((comparison) => {
        const values = valueRing(sizeBytes, 'peers-get');
        const entries = readableEntries(settings, temperature, sizeBytes);
        const target = targetOf(sizeBytes, temperature, comparison.peer, comparison.target4k);
        if (!selected(settings, sizeBytes, comparison.peer, target)) return [];
        const figure = `peer_get_${sizeLabel(sizeBytes)}_${temperature}_vs_${comparison.peer}`;
        const miss = temperature === 'cold' && sizeBytes === 65536 && comparison.peer === 'fs';
        return {
          figure,
          peer: comparison.peer,
          peerDurability: comparison.peer === 'sqlite' ? 'normal' : 'off',
          cartridgeDurability: comparison.peer === 'sqlite' ? 'normal' : 'off',
          settings: measure,
          ...(target === undefined ? {} : { target }),
          ...(miss ? { alias: 'read_64k_miss_ratio' } : {}),
          reopen: temperature === 'cold',
          prepare: async (store: PeerStore) => {
            await fill(store, entries, values);
            await fillOthers(store, settings.storeFiles - entries, sizeBytes, 'peers-get');
            // Warm: every entry read twice, as a large blob enters Cartridge's pool on its
            // second read (content-admission.ts); the peers' caches fill on the first.
            if (temperature === 'warm') {
              for (let pass = 0; pass < 2; pass++) {
                for (let index = 0; index < entries; index++) await store.get(keyOf(index));
              }
            }
          },
          operation: (store: PeerStore) => {
            let count = 0;
            return () => {
              const index = ((count++ % entries) * STRIDE) % entries;
              const bytes = store.get(keyOf(index));
              return bytes instanceof Promise ? bytes.then((value) => value.length) : bytes.length;
            };
          },
        } satisfies PeerPairSpec as PeerPairSpec;
      }),
    ),
  );
}

/** Small keeps the cold fill to 300 entries per store (19 MiB at 64 KiB), so it ends in seconds. */
const SMALL: GetSettings = {
  measure: { warmupRounds: 1, rounds: 5, opsPerRound: 50, latencySamples: 0 },
  everyPeer: false,
  storeFiles: 0,
};
const LARGE: GetSettings = {
  measure: { warmupRounds: 2, rounds: 21, opsPerRound: 1000, latencySamples: 0 },
  everyPeer: true,
  storeFiles: STORE_FILES_LARGE,
};

export const workload: Workload<GetSettings> = {
  name: 'peers-get',
  description:
    '100 B, 4 KiB and 64 KiB gets, warm and cold, vs sqlite, lmdb, level and readFileSync',
  sizes: { small: SMALL, medium: LARGE, large: LARGE },
  budgetMs: { small: 60_000, medium: 900_000, large: 900_000 },
  figures: pairFigures(specs(SMALL)),
  run: async (settings, context) => {
    for (const spec of specs(settings)) await runPeerPair(spec, context);
  },
};
