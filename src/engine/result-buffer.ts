import { markAsUntransferable } from 'node:worker_threads';
import { Slab } from '../journal/slab.js';

/**
 * The buffers reads hand their callers. A read returns bytes the caller owns and may change,
 * so it cannot hand out what the buffer pool keeps: every read that returns a file's content
 * fills a buffer of its own. Node carves buffers under half its pool size (4 KiB) from a
 * shared 8 KiB slab; from 4 KiB up, each `Buffer.allocUnsafe` is an ArrayBuffer of its own,
 * and making one (and collecting it later) cost 3-3.5 µs here, where filling it from the pool
 * cost 0.3: most of a 4 KiB read served from the pool. So results from 4 KiB to 8 KiB are
 * carved from slabs of 32 KiB, as Node does below 4 KiB. A kept result holds its slab alive, at
 * most eight times its own size (Node's pool: twice and more); larger results, which amortise
 * their allocation themselves, get their own memory. The slabs are marked untransferable, as
 * Node marks its pool: a caller transferring a result's `buffer` to a worker gets a copy, and
 * the other results cut from that slab stay intact.
 */

const SHARED_MAX_BYTES = 8 * 1024;
const RESULT_SLAB_BYTES = 32 * 1024;

const results = new Slab(RESULT_SLAB_BYTES, markAsUntransferable);

/** Whether a result of `lengthBytes` is cut from the slabs (Node's pool takes smaller ones). */
function fromSlab(lengthBytes: number): boolean {
  return lengthBytes >= Buffer.poolSize >>> 1 && lengthBytes <= SHARED_MAX_BYTES;
}

/** A buffer of `lengthBytes` for a read's result (its bytes are not initialised). */
export function resultBuffer(lengthBytes: number): Buffer {
  return fromSlab(lengthBytes) ? results.take(lengthBytes) : Buffer.allocUnsafe(lengthBytes);
}

/**
 * Room in the slabs for `lengthBytes` that a read fills itself (a record read straight into what
 * its caller gets: the result is then a view of it, with no copy), or undefined outside the
 * slabs' range. Nothing is kept until `keepResultRoom` says the room was filled.
 */
export function resultRoom(lengthBytes: number): Buffer | undefined {
  return fromSlab(lengthBytes) ? results.room(lengthBytes) : undefined;
}

/** Keeps the room `resultRoom` gave, once filled: what is cut from the slabs next lies after it. */
export function keepResultRoom(lengthBytes: number): void {
  results.keep(lengthBytes);
}

/**
 * A result holding a copy of `bytes`. Above the slabs' range, `Buffer.from` of a view copies
 * with one slice of the view (a new backing store filled as it is made), where
 * `allocUnsafe` then `set` makes the store and then copies into it: a warm 64 KiB read spent
 * 5 % of its time making the store and 38 % copying, against 35 % for the slice doing both.
 */
export function copiedResult(bytes: Uint8Array): Buffer {
  if (fromSlab(bytes.length)) {
    const result = results.take(bytes.length);
    result.set(bytes);
    return result;
  }
  return Buffer.from(bytes);
}
