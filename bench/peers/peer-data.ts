import { incompressibleBuffers, KIB } from '../support.js';
import type { MaybePromise, PeerStore } from './peer-store.js';

/**
 * The data the peer workloads put and get: incompressible values (so that no store wins by
 * compressing, as none of the peers compresses by default) of the three sizes the issue names,
 * and keys that look like record identifiers.
 */

export const VALUE_SIZES_BYTES = [100, 4 * KIB, 64 * KIB] as const;

/** `100b`, `4k`, `64k`: the size as it appears in figure names. */
export function sizeLabel(sizeBytes: number): string {
  if (sizeBytes >= KIB * KIB) return `${sizeBytes / (KIB * KIB)}m`;
  return sizeBytes >= KIB ? `${sizeBytes / KIB}k` : `${sizeBytes}b`;
}

export function keyOf(index: number): string {
  return `record-${String(index).padStart(8, '0')}`;
}

/**
 * A ring of distinct values to put, so that a put never writes the buffer it wrote just before
 * (a store may not notice, but the bench should not depend on that).
 */
export function valueRing(sizeBytes: number, seed: string, count = 16): Buffer[] {
  return incompressibleBuffers(count, sizeBytes, `${seed}-${sizeBytes}`);
}

/** Puts `count` entries into `store` in batches of 1 000, for the read figures (not timed). */
export async function fill(
  store: PeerStore,
  count: number,
  values: readonly Buffer[],
  keyFor: (index: number) => string = keyOf,
): Promise<void> {
  for (let first = 0; first < count; first += 1000) {
    const keys: string[] = [];
    const batch: Buffer[] = [];
    for (let index = first; index < Math.min(count, first + 1000); index++) {
      keys.push(keyFor(index));
      batch.push(values[index % values.length] as Buffer);
    }
    await store.putBatch(keys, batch);
  }
}

/**
 * The issue measures puts and gets in stores of 100 000 files: at the large size every put and
 * get figure runs in a store that holds this many entries once its timed operations are done
 * (puts) or before they start (gets). The entries a workload does not time are put first, in
 * batches, untimed (`fillOthers`).
 */
export const STORE_FILES_LARGE = 100_000;

/**
 * Entries put only to make a store hold its files are at most this large: 100 000 of 64 KiB
 * would be 6.4 GB per store and per figure. Every catalog and B-tree still holds all the keys.
 */
export const OTHER_VALUE_MAX_BYTES = 4 * KIB;

/** The key of the `index`-th entry put only to fill a store: never one a workload times. */
export function otherKeyOf(index: number): string {
  return `other-${String(index).padStart(8, '0')}`;
}

/**
 * Fills `store` with `count` entries the workload never reads or overwrites (see
 * STORE_FILES_LARGE), of the figure's value size up to OTHER_VALUE_MAX_BYTES. Not timed.
 */
export async function fillOthers(
  store: PeerStore,
  count: number,
  sizeBytes: number,
  seed: string,
): Promise<void> {
  if (count <= 0) return;
  const values = valueRing(Math.min(sizeBytes, OTHER_VALUE_MAX_BYTES), `${seed}-others`);
  await fill(store, count, values, otherKeyOf);
}

/**
 * The operation of the batched workloads: each call puts the next `entriesPerBatch` new keys
 * (values taken in turn from `values`) in one `putBatch`.
 */
export function batchOperation(
  values: readonly Buffer[],
  entriesPerBatch: number,
): (store: PeerStore) => () => MaybePromise<number> {
  return (store) => {
    let count = 0;
    return () => {
      const keys: string[] = [];
      const batch: Buffer[] = [];
      for (let entry = 0; entry < entriesPerBatch; entry++) {
        const index = count++;
        keys.push(keyOf(index));
        batch.push(values[index % values.length] as Buffer);
      }
      return store.putBatch(keys, batch);
    };
  };
}
