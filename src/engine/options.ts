import { type Clock, systemClock } from '../clock.js';
import { CartridgeError } from '../errors.js';
import type { CompressionName } from '../journal/compression.js';
import type { Storage } from '../journal/io/storage.js';

/** When a commit is durable. See `docs/API.md` for the exact guarantees of each mode. */
export type Durability = 'full' | 'normal' | 'off';

/** What open does when it finds damage that is not a torn tail. */
export type RecoveryMode = 'strict' | 'read-only-prefix';

export interface CartridgeOptions {
  /** Content capacity in 4 KiB blocks; `null` (the default) grows without limit. Create only. */
  readonly capacityBlocks?: number | null;
  /** Default `'normal'`: fsync on flush, close and every `syncIntervalMs`. */
  readonly durability?: Durability;
  /** Per-record compression of file content; default `'zstd'`. Kept only when it helps. */
  readonly compression?: CompressionName;
  /** Journal bytes between checkpoints; default 8 MiB (at least twice the last checkpoint). */
  readonly checkpointIntervalBytes?: number;
  /** Bytes of decoded content the buffer pool keeps; default 32 MiB. */
  readonly bufferPoolBytes?: number;
  /** Bytes of decoded catalog index pages kept in their cache; default 16 MiB. */
  readonly indexCacheBytes?: number;
  /** Where commit times come from; default the system clock. Tests inject their own. */
  readonly clock?: Clock;
  /** In `'normal'` durability, how long a commit may stay unsynced; default 1000 ms. */
  readonly syncIntervalMs?: number;
  /** Open without write access; mutations throw `READ_ONLY`. Open only. */
  readonly readOnly?: boolean;
  /** Default `'strict'`: damage before the torn tail fails open with `JOURNAL_CORRUPT`. */
  readonly recovery?: RecoveryMode;
  /** The I/O seam; defaults to real files. Tests pass memory or fault-injecting storage. */
  readonly storage?: Storage;
}

export interface ResolvedOptions {
  readonly capacityBlocks: number | null;
  readonly durability: Durability;
  readonly compression: CompressionName;
  readonly checkpointIntervalBytes: number;
  readonly bufferPoolBytes: number;
  readonly indexCacheBytes: number;
  readonly clock: Clock;
  readonly syncIntervalMs: number;
  readonly readOnly: boolean;
  readonly recovery: RecoveryMode;
}

function invalid(name: string, value: unknown): CartridgeError {
  return new CartridgeError(
    'INVALID_ARGUMENT',
    `option ${name} has an invalid value ${String(value)}`,
  );
}

function count(name: string, value: unknown, fallback: number, minimum: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum)
    throw invalid(name, value);
  return value;
}

function oneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw invalid(name, value);
  return value as T;
}

function clockOf(value: unknown): Clock {
  if (value === undefined) return systemClock;
  if (typeof value !== 'object' || value === null || typeof (value as Clock).now !== 'function') {
    throw invalid('clock', value);
  }
  return value as Clock;
}

export function resolveOptions(options: CartridgeOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', options);
  const capacity = options.capacityBlocks;
  return {
    capacityBlocks:
      capacity === undefined || capacity === null ? null : count('capacityBlocks', capacity, 0, 1),
    durability: oneOf('durability', options.durability, ['full', 'normal', 'off'], 'normal'),
    compression: oneOf('compression', options.compression, ['zstd', 'lz4', 'none'], 'zstd'),
    checkpointIntervalBytes: count(
      'checkpointIntervalBytes',
      options.checkpointIntervalBytes,
      8 * 1024 * 1024,
      4096,
    ),
    bufferPoolBytes: count('bufferPoolBytes', options.bufferPoolBytes, 32 * 1024 * 1024, 0),
    indexCacheBytes: count('indexCacheBytes', options.indexCacheBytes, 16 * 1024 * 1024, 64 * 1024),
    clock: clockOf(options.clock),
    syncIntervalMs: count('syncIntervalMs', options.syncIntervalMs, 1000, 1),
    readOnly: options.readOnly === true,
    recovery: oneOf('recovery', options.recovery, ['strict', 'read-only-prefix'], 'strict'),
  };
}
