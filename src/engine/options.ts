import { type Clock, systemClock } from '../clock.js';
import { canonicalPath, FORBIDDEN_CHARACTER } from '../path/canonical-path.js';
import { CartridgeError } from '../errors.js';
import type { CompressionName } from '../journal/compression.js';
import type { CipherName } from '../journal/keyring.js';
import type { Storage } from '../journal/io/storage.js';
import {
  BUFFER_POOL_MAX_BYTES,
  CAPACITY_BLOCKS_MAX,
  CHECKPOINT_INTERVAL_MAX_BYTES,
  CHECKPOINT_INTERVAL_MAX_RECORDS,
  SYNC_INTERVAL_MAX_MS,
} from '../limits.js';
import {
  booleanOption,
  integerOption,
  invalidArgument,
  requireMethods,
  requireOptionsObject,
} from './arguments.js';
import { type EncryptionOptions, resolveEncryption } from './encryption.js';

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
  /** Journal bytes between automatic checkpoints (at most 8 KiB per record); default 2 MiB. */
  readonly checkpointIntervalBytes?: number;
  /** Journal records between automatic checkpoints; default 16 384. */
  readonly checkpointIntervalRecords?: number;
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
  /** Who the handle's operations run as (policies and audit entries name it); default `local`. */
  readonly actor?: string;
  /**
   * Audit every operation into the journal's audit lane: `true`, or `{ reads: false }` to
   * leave reads out. Default off (an audit entry per operation costs journal bytes).
   */
  readonly audit?: boolean | AuditOptions;
  /**
   * Encrypts the cartridge at rest (create) or opens an encrypted one (open): 32 bytes. Every
   * record's body and blob are sealed; see docs/SECURITY.md for how to keep keys.
   */
  readonly encryptionKey?: Uint8Array;
  /** The AEAD of a new encrypted cartridge; default `'aes-256-gcm'`. */
  readonly cipher?: CipherName;
  /** Older keys, to read records sealed before a `rotateKey`. */
  readonly keyring?: readonly Uint8Array[];
  /**
   * Crypto-shredding (needs `encryptionKey`): `perSubjectKeys: true` seals the content of each
   * subject with a data key of its own, which `shred(subject)` destroys. A subject is the path
   * of the first component below `subjectRoot` (default `/`): with `subjectRoot: '/calls'`,
   * `/calls/jane/a.wav` belongs to the subject `/calls/jane`. See `subject-keys.ts`.
   */
  readonly encryption?: SubjectEncryptionOptions;
}

export interface SubjectEncryptionOptions {
  readonly perSubjectKeys?: boolean;
  readonly subjectRoot?: string;
}

export interface AuditOptions {
  /** Audit reads (readFile, listDir, exists, metadata, stats...) too; default true. */
  readonly reads?: boolean;
  /**
   * Keep every audit record for good: compaction refuses (`AUDIT_RETAINED`) to drop any. Set
   * at create and stored in the file header; at open the header decides, whatever is passed.
   */
  readonly retain?: boolean;
}

/** Longest actor name, in UTF-8 bytes: it is stored in every audit entry. */
export const ACTOR_MAX_BYTES = 256;
export const DEFAULT_ACTOR = 'local';

export interface ResolvedOptions {
  readonly capacityBlocks: number | null;
  readonly durability: Durability;
  readonly compression: CompressionName;
  readonly checkpointIntervalBytes: number;
  readonly checkpointIntervalRecords: number;
  readonly bufferPoolBytes: number;
  readonly indexCacheBytes: number;
  readonly clock: Clock;
  readonly syncIntervalMs: number;
  readonly readOnly: boolean;
  readonly recovery: RecoveryMode;
  readonly actor: string;
  /** The I/O seam given, if any (exports write through it too). */
  readonly storage: Storage | undefined;
  /** What is audited: nothing, writes only, or everything. */
  readonly audit: 'off' | 'writes' | 'all';
  /** `audit.retain` as given (it matters at create, which stores it in the header). */
  readonly auditRetain: boolean;
  /** The keys and cipher; undefined for a plain cartridge. */
  readonly encryption: EncryptionOptions | undefined;
  /** Where new subjects' data keys are made; undefined when `perSubjectKeys` is off. */
  readonly subjectRoot: string | undefined;
}

/** An actor name: text of 1 to ACTOR_MAX_BYTES UTF-8 bytes without control characters. */
export function requireActor(value: unknown): string {
  const valid = typeof value === 'string' && value.length > 0 && !FORBIDDEN_CHARACTER.test(value);
  if (!valid || Buffer.byteLength(value as string, 'utf8') > ACTOR_MAX_BYTES) {
    throw invalidArgument('actor', value, `text of 1 to ${ACTOR_MAX_BYTES} bytes, no controls`);
  }
  return value as string;
}

/** Longest condition context: keys and their text, in entries and in characters. */
const CONTEXT_KEYS_MAX = 32;
const CONTEXT_TEXT_MAX_LENGTH = 1024;

/**
 * The extra values an `as()` handle gives policy conditions: a plain object of at most 32 keys
 * (`app:tenant`), each a string of at most 1024 characters, a finite number or a valid Date.
 */
export function requireContext(
  value: unknown,
): Readonly<Record<string, string | number | Date>> | undefined {
  if (value === undefined) return undefined;
  const context = requireOptionsObject('as() context', value);
  const entries = Object.entries(context);
  if (entries.length > CONTEXT_KEYS_MAX) {
    throw invalidArgument('as() context', entries.length, `at most ${CONTEXT_KEYS_MAX} keys`);
  }
  const checked: Record<string, string | number | Date> = {};
  for (const [key, entry] of entries) {
    const valid =
      key.length > 0 &&
      key.length <= CONTEXT_TEXT_MAX_LENGTH &&
      ((typeof entry === 'string' && entry.length <= CONTEXT_TEXT_MAX_LENGTH) ||
        (typeof entry === 'number' && Number.isFinite(entry)) ||
        (entry instanceof Date && Number.isFinite(entry.getTime())));
    if (!valid) throw invalidArgument(`as() context ${key}`, entry, 'text, a number or a Date');
    checked[key] = entry as string | number | Date;
  }
  return Object.freeze(checked);
}

function auditRetainOf(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return booleanOption('audit.retain', (value as Record<string, unknown>).retain, false);
}

function auditOf(value: unknown): ResolvedOptions['audit'] {
  if (value === undefined || value === false) return 'off';
  if (value === true) return 'all';
  const audit = requireOptionsObject('option audit', value);
  return booleanOption('audit.reads', audit.reads, true) ? 'all' : 'writes';
}

function oneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T))
    throw invalidArgument(`option ${name}`, value, `one of ${allowed.join(', ')}`);
  return value as T;
}

function clockOf(value: unknown): Clock {
  if (value === undefined) return systemClock;
  requireMethods('option clock', value, ['now', 'nowMs']);
  return value as Clock;
}

/** The methods a `storage` option must have (the `Storage` interface). */
const STORAGE_METHODS = [
  'open',
  'exists',
  'syncDirectory',
  'statPath',
  'remove',
  'rename',
] as const;

export function resolveOptions(input: CartridgeOptions = {}): ResolvedOptions {
  const options = requireOptionsObject('options', input);
  const capacity = options.capacityBlocks;
  if (options.storage !== undefined)
    requireMethods('option storage', options.storage, STORAGE_METHODS);
  return {
    capacityBlocks:
      capacity === undefined || capacity === null
        ? null
        : integerOption('capacityBlocks', capacity, 0, 1, CAPACITY_BLOCKS_MAX),
    durability: oneOf('durability', options.durability, ['full', 'normal', 'off'], 'normal'),
    compression: oneOf('compression', options.compression, ['zstd', 'lz4', 'none'], 'zstd'),
    checkpointIntervalBytes: integerOption(
      'checkpointIntervalBytes',
      options.checkpointIntervalBytes,
      2 * 1024 * 1024,
      4096,
      CHECKPOINT_INTERVAL_MAX_BYTES,
    ),
    checkpointIntervalRecords: integerOption(
      'checkpointIntervalRecords',
      options.checkpointIntervalRecords,
      16 * 1024,
      1,
      CHECKPOINT_INTERVAL_MAX_RECORDS,
    ),
    bufferPoolBytes: integerOption(
      'bufferPoolBytes',
      options.bufferPoolBytes,
      32 * 1024 * 1024,
      0,
      BUFFER_POOL_MAX_BYTES,
    ),
    indexCacheBytes: integerOption(
      'indexCacheBytes',
      options.indexCacheBytes,
      16 * 1024 * 1024,
      64 * 1024,
      BUFFER_POOL_MAX_BYTES,
    ),
    clock: clockOf(options.clock),
    syncIntervalMs: integerOption(
      'syncIntervalMs',
      options.syncIntervalMs,
      1000,
      1,
      SYNC_INTERVAL_MAX_MS,
    ),
    readOnly: booleanOption('readOnly', options.readOnly, false),
    recovery: oneOf('recovery', options.recovery, ['strict', 'read-only-prefix'], 'strict'),
    actor: options.actor === undefined ? DEFAULT_ACTOR : requireActor(options.actor),
    storage: options.storage as Storage | undefined,
    audit: auditOf(options.audit),
    auditRetain: auditRetainOf(options.audit),
    encryption: resolveEncryption(options),
    subjectRoot: subjectRootOf(options),
  };
}

/** The `encryption` option: the subject root when per-subject keys are on. */
function subjectRootOf(options: Record<string, unknown>): string | undefined {
  const value = options.encryption;
  if (value === undefined) return undefined;
  const given = requireOptionsObject('option encryption', value);
  const perSubjectKeys = booleanOption('encryption.perSubjectKeys', given.perSubjectKeys, false);
  if (!perSubjectKeys) return undefined;
  if (options.encryptionKey === undefined) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      'option encryption.perSubjectKeys needs option encryptionKey',
    );
  }
  const root = given.subjectRoot ?? '/';
  if (typeof root !== 'string') {
    throw new CartridgeError('INVALID_ARGUMENT', 'option encryption.subjectRoot must be a path');
  }
  return canonicalPath(root);
}
