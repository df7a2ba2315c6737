/**
 * What every peer adapter offers, so that one workload can measure Cartridge and each peer with
 * the same operations: a put of one key, a get, a batch of puts in one transaction, and close.
 * Durability is chosen when a store is opened (`PeerDurability`), the way users of each peer
 * choose it once for a database, not per call.
 *
 * Some peers only have asynchronous writes (classic-level), so an operation may return a
 * promise; the measuring loop awaits only those, and a synchronous peer pays nothing for it.
 */

/** The numbers returned are folded into the run's checksum, so no work can be optimised away. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * `off`: written to the OS at most, never synced (lmdb `noSync`, LevelDB's default, plain
 * `writeFileSync`); `normal`: written to the OS at each commit, synced later (SQLite WAL with
 * `synchronous=NORMAL`, Cartridge `'normal'`); `full`: a put returns once it is on stable
 * storage (fsync, SQLite `FULL`, lmdb's default sync, LevelDB `sync: true`, Cartridge `'full'`).
 */
export type PeerDurability = 'off' | 'normal' | 'full';

export interface PeerStore {
  /** Short name used in figure names: `sqlite`, `lmdb`, `level`, `fs`, `memfs`, `cartridge`. */
  readonly name: string;
  /** How the store is configured, printed with the figures. */
  readonly configuration: string;
  put(key: string, bytes: Buffer): MaybePromise<number>;
  /** The bytes stored under `key`; throws when there are none (a bench bug, not a result). */
  get(key: string): MaybePromise<Buffer>;
  /** Every entry put in one transaction (one commit). */
  putBatch(keys: readonly string[], values: readonly Buffer[]): MaybePromise<number>;
  close(): MaybePromise<void>;
}

/** Opens a store of one peer in `directory` (a fresh scratch directory) at `durability`. */
export type PeerFactory = (directory: string, durability: PeerDurability) => PeerStore;

export function missingKey(peer: string, key: string): Error {
  return new Error(`${peer}: no value for ${key}`);
}
