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

/**
 * One `file.patched` record replaces at most this many byte ranges: with their offsets and
 * lengths it stays far inside BODY_MAX_BYTES. A larger patch is split into several records of
 * one transaction.
 */
export const PATCH_RANGES_MAX = 16 * 1024;

/**
 * One `path.moved` record carries at most this many entries, and at most MOVE_PATH_BYTES_MAX
 * bytes of their relative paths: its body stays far inside BODY_MAX_BYTES. A larger subtree is
 * moved by several records of one commit.
 */
export const MOVE_ENTRIES_MAX = 4096;
export const MOVE_PATH_BYTES_MAX = 512 * 1024;

/** A record's decoded blob may not exceed this. */
export const BLOB_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The longest a record can be (frame, body and stored blob, sealed ones with their key id,
 * nonce and two tags): a bound on reads by length.
 */
export const RECORD_MAX_BYTES = 128 + BODY_MAX_BYTES + BLOB_MAX_BYTES;

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

/** The largest `checkpointIntervalRecords`. */
export const CHECKPOINT_INTERVAL_MAX_RECORDS = 2 ** 40;

/**
 * Taking a snapshot writes a checkpoint first when more than this many records follow the last
 * one: rebuilding a snapshot's state (checkout, diff, restore) then replays at most these.
 */
export const SNAPSHOT_REPLAY_RECORDS_MAX = 64;

/**
 * A record counts for at most this many bytes towards `checkpointIntervalBytes` (see
 * `checkpoint-interval.ts`): 2 MiB of 64 KiB records is then 256 records, not 32.
 */
export const CHECKPOINT_RECORD_COUNTED_BYTES_MAX = 2 * 1024;

/** The largest `bufferPoolBytes`. */
export const BUFFER_POOL_MAX_BYTES = 2 ** 40;

/** The largest `capacityBlocks` (4 KiB blocks: 4 PiB). */
export const CAPACITY_BLOCKS_MAX = 2 ** 40;

assert(DATA_RECORD_MAX_BYTES <= BLOB_MAX_BYTES, 'a data record must fit in a blob');
assert(DATA_RECORD_MAX_BYTES % PAGE_SIZE_BYTES === 0, 'data records hold whole pages');

/** An index page's keys; a page near its 4 KiB target holds far fewer. */
export const INDEX_PAGE_KEYS_MAX = 65_536;

/** An index deeper than this is forged (4 KiB keys give a fan-out of 2 at worst). */
export const INDEX_DEPTH_MAX = 64;

/** Index pages are split above this estimated encoded size (the seed's "4 KB pages"). */
export const INDEX_PAGE_TARGET_BYTES = 4096;

/** A file keeps up to this many extents inside its catalog entry; more go to extent keys. */
export const INLINE_EXTENTS_MAX = 4;

/**
 * An extent below this size is small: runs of small extents get consolidated. Larger appends
 * (a transaction of log lines) are compressed when written and never rewritten.
 */
export const SMALL_EXTENT_BYTES = 4 * 1024;

/** Consolidation writes extents of about this size out of runs of smaller ones. */
export const CONSOLIDATED_EXTENT_BYTES = 256 * 1024;

/** A trailing run of this many small extents is consolidated even when it is short in bytes. */
export const CONSOLIDATION_RUN_COUNT = 1024;

/** Close consolidates a file's trailing run of small extents from this many on. */
export const TAIL_CONSOLIDATION_RUN_COUNT_MIN = 64;

/** Close looks at the trailing runs of at most this many files, the last appended to. */
export const TAIL_CONSOLIDATION_FILES_MAX = 16;

/** Reads of adjacent content records are merged into one `pread` of at most this many bytes. */
export const READ_RUN_MAX_BYTES = 4 * 1024 * 1024;

/**
 * An automatic checkpoint is written once this many index pages are dirty (about 16 MiB of
 * pages, twice that in memory): the bound on the index's in-memory overlay.
 */
export const DIRTY_PAGES_CHECKPOINT = 1024;

/**
 * Commits write a few dirty index pages once more than this many are dirty. An automatic
 * checkpoint writes what is dirty in one commit, so this bounds that stall: at 64, random
 * 64 KiB writes into a million-file catalog paid ~4.6 ms in every 32nd write (a mean 1.6x the
 * median); at 32 the same work rides along in ordinary commits (1.3x, same mean).
 */
export const INDEX_TRICKLE_LOW_WATER = 32;

/**
 * Each this many commits since the last checkpoint let one more dirty page wait for it before the
 * trickle starts. A checkpoint's stall matters against the commits between two of them: after
 * the 32 of a run of 64 KiB writes (2 MiB apart) a page of stall is felt, after the ten
 * thousand single-line appends of a log it is not. A log's trickle wrote the extent pages its
 * appends had just filled, which consolidation deleted a few hundred appends later: about 80
 * pages per checkpoint at 600 000 lines, and index pages grew from a tenth of the text to a
 * sixth (see ARCHITECTURE.md).
 */
export const INDEX_TRICKLE_COMMITS_PER_WAITING_PAGE = 16;

/** At most this many dirty index pages ride along in one commit. */
export const INDEX_TRICKLE_PAGES_PER_COMMIT = 4;

/**
 * A commit earns the right to carry index pages of up to this many times its own bytes. Without
 * this bound a cartridge of small files paid up to four 4 KiB pages with every 100-byte put
 * (2 860 journal bytes per put, a third of its CPU): with few pages in the catalog, each page
 * written was dirtied again a few commits later and written again. The pages left dirty wait
 * for the checkpoint, which writes each of them once.
 */
export const INDEX_TRICKLE_BYTES_PER_COMMIT_BYTE = 1;

/**
 * Erased blobs one `content.erased` record names (about 60 bytes each in its body, well under
 * the body limit); an erasure of more is several records of one commit.
 */
export const ERASURES_PER_RECORD_MAX = 4096;

/** Versions of one path a redaction looks at; a longer history is `LIMIT_EXCEEDED`. */
export const REDACT_VERSIONS_MAX = 100_000;
