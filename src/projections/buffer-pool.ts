import { assert } from '../assert.js';
import { CartridgeError } from '../errors.js';

/**
 * A buffer pool that caches decoded data blobs by journal offset, bounded in bytes, using ARC
 * (Adaptive Replacement Cache, Megiddo & Modha, FAST 2003).
 *
 * ARC keeps two resident lists: T1 holds entries seen once recently, T2 entries seen at least
 * twice. Two ghost lists, B1 and B2, remember only the keys and sizes of entries recently
 * evicted from T1 and T2. A target `p` says how many bytes T1 should hold. A miss that hits
 * B1 means T1 was too small, so `p` grows; a miss that hits B2 means T2 was too small, so `p`
 * shrinks. A one-time scan only ever passes through T1, so it cannot flush the working set in
 * T2, which is why ARC is used here instead of plain LRU.
 *
 * ARC is defined for equal pages; here every quantity is in bytes. Each entry is charged
 * `max(1, value.length)` bytes: an empty buffer still costs one byte, so that the number of
 * resident and ghost entries is bounded by the capacity too.
 */

export interface BufferPoolStats {
  hits: number;
  misses: number;
  evictions: number;
  residentBytes: number;
  residentCount: number;
  ghostBytes: number;
  capacityBytes: number;
  targetRecencyBytes: number;
}

interface ListEntry<V> {
  readonly value: V;
  readonly chargedBytes: number;
}

/** An entry and its neighbours in its list's order of use. */
interface ListNode<V> extends ListEntry<V> {
  readonly key: number;
  /** The entry used just before this one, towards the least recently used end. */
  older: ListNode<V> | undefined;
  /** The entry used just after this one, towards the most recently used end. */
  newer: ListNode<V> | undefined;
}

/**
 * One ARC list with its total charged bytes: a map from key to node, and the nodes linked in
 * order of use, least recently used first. Every list operation is O(1). A hit, the commonest
 * operation (every lookup of the index touches the pages on its path), only relinks its node:
 * the map is not changed. (A `Map` alone keeps insertion order too, and re-inserting a key makes
 * it the newest, but each hit was then a delete and an insert, whose holes the map rehashes
 * away every so often: a fifth of a warm 4 KiB read.)
 */
class ByteLruList<V> {
  private readonly nodes = new Map<number, ListNode<V>>();
  private oldest: ListNode<V> | undefined;
  private newest: ListNode<V> | undefined;
  private totalBytes = 0;

  get bytes(): number {
    return this.totalBytes;
  }

  get count(): number {
    return this.nodes.size;
  }

  has(key: number): boolean {
    return this.nodes.has(key);
  }

  peek(key: number): ListEntry<V> | undefined {
    return this.nodes.get(key);
  }

  pushNewest(key: number, value: V, chargedBytes: number): void {
    assert(!this.nodes.has(key), 'a key was pushed onto a list that already holds it');
    this.pushUnlisted(key, value, chargedBytes);
  }

  /** Makes `key`, which this list holds as `entry` (from `peek`), its most recently used one. */
  touch(key: number, entry: ListEntry<V>): void {
    const node = entry as ListNode<V>;
    assert(node.key === key, 'a touched entry is not the one asked for');
    if (node === this.newest) return;
    this.unlink(node);
    this.linkNewest(node);
  }

  /** `pushNewest` for a caller that has just checked that no list holds `key`. */
  pushUnlisted(key: number, value: V, chargedBytes: number): void {
    const node: ListNode<V> = { key, value, chargedBytes, older: undefined, newer: undefined };
    this.nodes.set(key, node);
    this.linkNewest(node);
    this.totalBytes += chargedBytes;
  }

  remove(key: number): ListEntry<V> | undefined {
    const node = this.nodes.get(key);
    if (node === undefined) return undefined;
    this.nodes.delete(key);
    this.unlink(node);
    this.totalBytes -= node.chargedBytes;
    assert(this.totalBytes >= 0, 'a list byte count went negative');
    return node;
  }

  /** Removes and returns the least recently used entry, or undefined when the list is empty. */
  removeOldest(): { key: number; entry: ListEntry<V> } | undefined {
    const oldest = this.oldest;
    if (oldest === undefined) return undefined;
    const entry = this.remove(oldest.key);
    assert(entry === oldest, 'the oldest key of a list vanished');
    return { key: oldest.key, entry };
  }

  /** Lists the keys at or above `minimumKey` first, so that removing them is safe. */
  keysFrom(minimumKey: number): number[] {
    const keys: number[] = [];
    for (const key of this.nodes.keys()) if (key >= minimumKey) keys.push(key);
    return keys;
  }

  clear(): void {
    this.nodes.clear();
    this.oldest = undefined;
    this.newest = undefined;
    this.totalBytes = 0;
  }

  private linkNewest(node: ListNode<V>): void {
    node.older = this.newest;
    node.newer = undefined;
    if (this.newest === undefined) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
  }

  private unlink(node: ListNode<V>): void {
    if (node.older === undefined) this.oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }
}

/** Ghost lists remember sizes only; their value slot is unused. */
type GhostList = ByteLruList<null>;

/**
 * The per-entry overhead the content pool is charged (see the constructor): a cached blob is a
 * `Buffer` and its `ArrayBuffer`, a list node and a map entry, about 250 bytes in V8 besides
 * the bytes themselves. Without it a 32 MiB pool of 100-byte files held 330 000 entries and
 * three times its capacity in memory.
 */
export const CONTENT_ENTRY_OVERHEAD_BYTES = 256;

/** What a pool can hold: anything that knows its size in bytes. */
export interface Sized {
  readonly length: number;
}

function checkKey(key: number, operation: string): void {
  if (!Number.isSafeInteger(key) || key < 0) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      `buffer pool ${operation} needs a non-negative safe integer key, got ${String(key)}`,
    );
  }
}

export class BufferPool<V extends Sized = Buffer> {
  readonly capacityBytes: number;
  /** T1: resident entries referenced once since they were cached. */
  private readonly t1 = new ByteLruList<V>();
  /** T2: resident entries referenced at least twice. */
  private readonly t2 = new ByteLruList<V>();
  /** B1: ghosts of entries evicted from T1. */
  private readonly b1: GhostList = new ByteLruList<null>();
  /** B2: ghosts of entries evicted from T2. */
  private readonly b2: GhostList = new ByteLruList<null>();
  /** ARC's `p`: how many bytes T1 should hold, always within 0..capacityBytes. */
  private targetRecencyBytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  /**
   * `entryOverheadBytes` is charged per entry on top of its length: what an entry costs beyond
   * its bytes (the objects that hold it and the pool's own list and map entries, a few hundred
   * bytes in V8), so that a pool of many tiny values stays within its capacity in memory too.
   */
  constructor(
    capacityBytes: number,
    private readonly entryOverheadBytes = 0,
  ) {
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
      throw new CartridgeError(
        'INVALID_ARGUMENT',
        `buffer pool capacity must be a non-negative safe integer, got ${String(capacityBytes)}`,
      );
    }
    this.capacityBytes = capacityBytes;
  }

  /** Returns the cached value, counting a hit or a miss. A hit moves the entry to T2's MRU end. */
  get(key: number): V | undefined {
    checkKey(key, 'get');
    // A hit in T2 (the pages near the index's root, on every lookup) only moves its entry to
    // the most recently used end: the same entry, without a removal and a new one.
    const frequent = this.t2.peek(key);
    if (frequent !== undefined) {
      this.hits += 1;
      this.t2.touch(key, frequent);
      return frequent.value;
    }
    const entry = this.t1.remove(key);
    if (entry === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    this.t2.pushNewest(key, entry.value, entry.chargedBytes);
    return entry.value;
  }

  /**
   * Caches `value` under `key`. A value larger than the whole pool is not cached, and any older
   * value for the key is dropped, so that `get` can never return a stale value. Returns whether
   * the pool kept `value`: a caller may hand on a value the pool did not keep without copying it.
   */
  set(key: number, value: V): boolean {
    checkKey(key, 'set');
    const chargedBytes = this.chargeOf(value);
    if (chargedBytes > this.capacityBytes) {
      this.delete(key);
      return false;
    }
    // The common case, a key the pool has never seen (or forgot) while it still has room, is
    // written out: it is every page and blob a freshly opened cartridge reads, in code V8 has
    // not optimised yet, where the general path's calls, closures and assertions cost more than
    // the entry. It does exactly what the general path does for such a key.
    const t1 = this.t1;
    const t2 = this.t2;
    const capacityBytes = this.capacityBytes;
    if (
      t1.bytes + t2.bytes + chargedBytes <= capacityBytes &&
      !t1.has(key) &&
      !t2.has(key) &&
      !this.b1.has(key) &&
      !this.b2.has(key)
    ) {
      t1.pushUnlisted(key, value, chargedBytes);
      const b1Bytes = this.b1.bytes;
      if (t1.bytes + b1Bytes > capacityBytes || b1Bytes + this.b2.bytes > capacityBytes) {
        this.trimGhosts();
      }
      return true;
    }
    // Replacing a resident value is not a reference: the entry stays in its own list.
    if (this.t1.remove(key) !== undefined) {
      this.insert(this.t1, key, value, false);
    } else if (this.t2.remove(key) !== undefined) {
      this.insert(this.t2, key, value, false);
    } else if (this.b1.has(key)) {
      this.adaptTarget(key, this.b1, this.b2, +1);
      this.insert(this.t2, key, value, false);
    } else if (this.b2.has(key)) {
      this.adaptTarget(key, this.b2, this.b1, -1);
      this.insert(this.t2, key, value, true);
    } else {
      this.insert(this.t1, key, value, false);
    }
    return true;
  }

  /** Whether `key` is resident. Neither a hit nor a miss, and it does not change recency. */
  has(key: number): boolean {
    checkKey(key, 'has');
    return this.t1.has(key) || this.t2.has(key);
  }

  /** Forgets `key` entirely, ghosts included, because its journal offset no longer holds it. */
  delete(key: number): void {
    checkKey(key, 'delete');
    this.t1.remove(key);
    this.t2.remove(key);
    this.b1.remove(key);
    this.b2.remove(key);
    this.checkInvariants();
  }

  /**
   * Forgets every key at or above `minimumKey`. A truncated journal tail reuses its offsets for
   * new records, and a ghost of an old record must not make a new one look frequently used.
   */
  deleteFrom(minimumKey: number): void {
    checkKey(minimumKey, 'deleteFrom');
    for (const list of [this.t1, this.t2, this.b1, this.b2] as const) {
      for (const key of list.keysFrom(minimumKey)) list.remove(key);
    }
    this.checkInvariants();
  }

  /** Drops every entry and ghost and resets the target; the counters are cumulative and stay. */
  clear(): void {
    this.t1.clear();
    this.t2.clear();
    this.b1.clear();
    this.b2.clear();
    this.targetRecencyBytes = 0;
  }

  stats(): BufferPoolStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      residentBytes: this.residentBytes(),
      residentCount: this.t1.count + this.t2.count,
      ghostBytes: this.ghostBytes(),
      capacityBytes: this.capacityBytes,
      targetRecencyBytes: this.targetRecencyBytes,
    };
  }

  /** What an entry is charged: its length (at least one byte) and the per-entry overhead. */
  private chargeOf(value: Sized): number {
    return Math.max(1, value.length) + this.entryOverheadBytes;
  }

  private residentBytes(): number {
    return this.t1.bytes + this.t2.bytes;
  }

  private ghostBytes(): number {
    return this.b1.bytes + this.b2.bytes;
  }

  /**
   * ARC's adaptation on a ghost hit, in bytes. The step is the ghost's size, scaled up by how
   * much smaller the hit ghost list is than the other one: a hit in a short list is stronger
   * evidence. Every ghost is charged at least one byte and the hit list holds this ghost, so
   * the divisor is never zero. `direction` is +1 to favour T1 (a B1 hit) and -1 to favour T2.
   */
  private adaptTarget(
    key: number,
    hitList: GhostList,
    otherList: GhostList,
    direction: 1 | -1,
  ): void {
    const ghost = hitList.remove(key);
    assert(ghost !== undefined, 'a ghost hit lost its ghost');
    const hitListBytes = hitList.bytes + ghost.chargedBytes;
    const ratio = hitListBytes >= otherList.bytes ? 1 : otherList.bytes / hitListBytes;
    const stepBytes = Math.min(this.capacityBytes, Math.ceil(ghost.chargedBytes * ratio));
    const targetBytes = this.targetRecencyBytes + direction * stepBytes;
    this.targetRecencyBytes = Math.min(this.capacityBytes, Math.max(0, targetBytes));
  }

  /** Makes room for `value`, then appends it to `list` as the most recently used entry. */
  private insert(list: ByteLruList<V>, key: number, value: V, hitB2: boolean): void {
    const chargedBytes = this.chargeOf(value);
    assert(chargedBytes <= this.capacityBytes, 'an oversized value reached insert');
    this.makeRoom(chargedBytes, hitB2);
    assert(!this.isListed(key), 'a key would be in two buffer pool lists');
    list.pushNewest(key, value, chargedBytes);
    this.trimGhosts();
    this.checkInvariants();
  }

  /**
   * Evicts until `chargedBytes` more fit. Each pass evicts exactly one resident entry and the
   * number of passes is capped at the resident count, so the loop always terminates; since the
   * caller checked `chargedBytes <= capacityBytes`, an empty pool always has room.
   */
  private makeRoom(chargedBytes: number, hitB2: boolean): void {
    let passesLeft = this.t1.count + this.t2.count;
    while (passesLeft > 0 && this.residentBytes() + chargedBytes > this.capacityBytes) {
      passesLeft -= 1;
      this.replace(hitB2);
    }
    assert(
      this.residentBytes() + chargedBytes <= this.capacityBytes,
      'the buffer pool could not make room for an entry that fits',
    );
  }

  /**
   * ARC's REPLACE: evict T1's LRU entry while T1 is above its target (or at it, when the
   * request hit B2), otherwise T2's; fall back to the other list when the chosen one is empty.
   * The evicted entry becomes the newest ghost of its list.
   */
  private replace(hitB2: boolean): void {
    const t1Bytes = this.t1.bytes;
    const t1OverTarget =
      t1Bytes > this.targetRecencyBytes || (hitB2 && t1Bytes === this.targetRecencyBytes);
    const fromT1 = this.t1.count > 0 && (t1OverTarget || this.t2.count === 0);
    const source = fromT1 ? this.t1 : this.t2;
    const ghosts = fromT1 ? this.b1 : this.b2;
    const evicted = source.removeOldest();
    assert(evicted !== undefined, 'the buffer pool had nothing to evict');
    assert(!this.isListed(evicted.key), 'an evicted key is still listed');
    ghosts.pushNewest(evicted.key, null, evicted.entry.chargedBytes);
    this.evictions += 1;
  }

  /**
   * Bounds the ghosts as ARC bounds its directory: T1 + B1 within the capacity (so recency
   * history never outgrows the cache) and B1 + B2 within the capacity (so that, with residents
   * within the capacity, the whole directory stays within twice the capacity). B2 is trimmed
   * first, as ARC does when the directory is full.
   */
  private trimGhosts(): void {
    const capacityBytes = this.capacityBytes;
    dropOldestWhile(this.b1, () => this.t1.bytes + this.b1.bytes > capacityBytes);
    dropOldestWhile(this.b2, () => this.ghostBytes() > capacityBytes);
    dropOldestWhile(this.b1, () => this.ghostBytes() > capacityBytes);
  }

  private isListed(key: number): boolean {
    return this.t1.has(key) || this.t2.has(key) || this.b1.has(key) || this.b2.has(key);
  }

  private checkInvariants(): void {
    const capacityBytes = this.capacityBytes;
    assert(this.residentBytes() <= capacityBytes, 'buffer pool resident bytes over capacity');
    assert(this.ghostBytes() <= capacityBytes, 'buffer pool ghost bytes over capacity');
    assert(this.t1.bytes + this.b1.bytes <= capacityBytes, 'buffer pool T1 + B1 over capacity');
    assert(
      this.targetRecencyBytes >= 0 && this.targetRecencyBytes <= capacityBytes,
      'buffer pool target outside 0..capacity',
    );
  }
}

/**
 * Drops the list's oldest entries while `over()` holds. Every pass removes one entry and the
 * passes are capped at the list's starting length, so the loop terminates even if `over()`
 * never turns false (the ghost-trim hang of the original implementation).
 */
function dropOldestWhile(list: GhostList, over: () => boolean): void {
  for (let passesLeft = list.count; passesLeft > 0 && over(); passesLeft -= 1) {
    const dropped = list.removeOldest();
    assert(dropped !== undefined, 'a ghost list ran out before its count said it would');
  }
}
