import { assert } from './assert.js';

/**
 * Every quantity that callers or untrusted bytes control has a limit here. Limits are checked
 * before any allocation that depends on them.
 */

/** The page size of the space map and of the capacity accounting. */
export const PAGE_SIZE_BYTES = 4096;

/** A path may not exceed this many UTF-8 bytes once canonical. */
export const PATH_MAX_BYTES = 4096;

/** One path segment (a file or directory name) may not exceed this many UTF-8 bytes. */
export const NAME_MAX_BYTES = 255;

/** A path may not be deeper than this many segments. */
export const PATH_DEPTH_MAX = 255;

/** The largest file content accepted in one call, and the largest file. */
export const FILE_SIZE_MAX_BYTES = 2 ** 31 - 1;

/** File content is cut into data records holding at most this many bytes. */
export const DATA_RECORD_MAX_BYTES = 1024 * 1024;

/** A record's msgpack body (the operation's description) may not exceed this. */
export const BODY_MAX_BYTES = 1024 * 1024;

/** A record's decoded blob may not exceed this (checkpoint parts are the largest blobs). */
export const BLOB_MAX_BYTES = 8 * 1024 * 1024;

/** Checkpoint state is cut into parts of at most this many encoded bytes. */
export const CHECKPOINT_PART_MAX_BYTES = 1024 * 1024;

/** A checkpoint may have at most this many parts (so at most 4 GiB of projection state). */
export const CHECKPOINT_PARTS_MAX = 4096;

/** One transaction may stage at most this many records. */
export const TRANSACTION_RECORDS_MAX = 1_000_000;

/** Nested transactions may be at most this deep. */
export const TRANSACTION_DEPTH_MAX = 64;

/**
 * Open looks at most this far past the end of the valid journal for zeros. A longer run of
 * zeros there is taken as a zero tail (a preallocated or grown file) without reading the rest,
 * so a hostile size cannot make open read gigabytes; see docs/ARCHITECTURE.md for what this
 * bound gives up.
 */
export const ZERO_TAIL_SCAN_MAX_BYTES = 64 * 1024 * 1024;

/** The longest `syncIntervalMs`: an hour (timers beyond 2^31 - 1 ms fire at once in Node). */
export const SYNC_INTERVAL_MAX_MS = 60 * 60 * 1000;

/** The largest `checkpointIntervalBytes`. */
export const CHECKPOINT_INTERVAL_MAX_BYTES = 2 ** 40;

/** The largest `bufferPoolBytes`. */
export const BUFFER_POOL_MAX_BYTES = 2 ** 40;

/** The largest `capacityBlocks` (4 KiB blocks: 4 PiB). */
export const CAPACITY_BLOCKS_MAX = 2 ** 40;

assert(DATA_RECORD_MAX_BYTES <= BLOB_MAX_BYTES, 'a data record must fit in a blob');
assert(CHECKPOINT_PART_MAX_BYTES <= BLOB_MAX_BYTES, 'a checkpoint part must fit in a blob');
assert(DATA_RECORD_MAX_BYTES % PAGE_SIZE_BYTES === 0, 'data records hold whole pages');
