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

/** Which of ARC's four lists a node is in. */
const T1 = 0;
const T2 = 1;
const B1 = 2;
const B2 = 3;
type ListName = typeof T1 | typeof T2 | typeof B1 | typeof B2;

/**
 * A key the pool knows, resident (T1, T2) or a ghost (B1, B2), and its neighbours in its
 * list's order of use. A ghost keeps no value: an evicted value is let go at once.
 */
interface PoolNode<V> {
  readonly key: number;
  value: V | undefined;
  readonly chargedBytes: number;
  list: ListName;
  /** The node used just before this one, towards the least recently used end. */
  older: PoolNode<V> | undefined;
  /** The node used just after this one, towards the most recently used end. */
  newer: PoolNode<V> | undefined;
}

/**
 * One ARC list: its nodes linked in order of use, least recently used first, with their count
 * and total charged bytes. Every operation is O(1), and none touches a map: the pool keeps one
 * map from key to node for all four lists (see `BufferPool`), and a node moving between lists
 * (a hit promoted from T1 to T2, an eviction to a ghost list) is only relinked.
 */
class ByteLruList<V> {
  oldest: PoolNode<V> | undefined;
  private newest: PoolNode<V> | undefined;
  bytes = 0;
  count = 0;

  constructor(readonly name: ListName) {}

  /** Links `node` as this list's most recently used one. */
  pushNewest(node: PoolNode<V>): void {
    node.list = this.name;
    node.older = this.newest;
    node.newer = undefined;
    if (this.newest === undefined) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
    this.bytes += node.chargedBytes;
    this.count += 1;
  }

  /** Makes `node`, which this list holds, its most recently used one. */
  touch(node: PoolNode<V>): void {
    if (node === this.newest) return;
    this.unlink(node);
    this.pushNewest(node);
  }

  unlink(node: PoolNode<V>): void {
    assert(node.list === this.name, 'a node was unlinked from a list that does not hold it');
    if (node.older === undefined) this.oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
    this.bytes -= node.chargedBytes;
    this.count -= 1;
    assert(this.bytes >= 0 && this.count >= 0, 'a list count went negative');
  }

  clear(): void {
    this.oldest = undefined;
    this.newest = undefined;
    this.bytes = 0;
    this.count = 0;
  }
}

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
  /**
   * Every key the pool knows, in whichever list holds it. One lookup classifies a key (resident
   * in T1 or T2, a ghost in B1 or B2, or unknown), where a map per list took up to four; and a
   * node that moves between lists stays in the map. A read that misses the pool and caches what
   * it read went from about fifteen map operations (a miss in both resident lists, the ghost
   * checks, an eviction out of one map into another) to three or four.
   */
  private readonly nodes = new Map<number, PoolNode<V>>();
  /** T1: resident entries referenced once since they were cached. */
  private readonly t1 = new ByteLruList<V>(T1);
  /** T2: resident entries referenced at least twice. */
  private readonly t2 = new ByteLruList<V>(T2);
  /** B1: ghosts of entries evicted from T1. */
  private readonly b1 = new ByteLruList<V>(B1);
  /** B2: ghosts of entries evicted from T2. */
  private readonly b2 = new ByteLruList<V>(B2);
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
    const node = this.nodes.get(key);
    if (node === undefined || node.list >= B1) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    // A hit in T2 (the pages near the index's root, on every lookup) only relinks its node.
    if (node.list === T2) {
      this.t2.touch(node);
    } else {
      this.t1.unlink(node);
      this.t2.pushNewest(node);
    }
    return node.value;
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
    const known = this.nodes.get(key);
    if (known === undefined) {
      // The commonest case, a key the pool has never seen (or forgot), while it still has room:
      // every page and blob a freshly opened cartridge reads. No eviction, so no invariant to
      // check beyond the ghosts' bounds.
      if (this.residentBytes() + chargedBytes <= this.capacityBytes) {
        this.t1.pushNewest(this.newNode(key, value, chargedBytes));
        const b1Bytes = this.b1.bytes;
        if (
          this.t1.bytes + b1Bytes > this.capacityBytes ||
          b1Bytes + this.b2.bytes > this.capacityBytes
        ) {
          this.trimGhosts();
        }
        return true;
      }
      this.insert(this.t1, key, value, chargedBytes, false);
      return true;
    }
    // Replacing a resident value is not a reference: the entry stays in its own list.
    this.forget(known);
    if (known.list === T1) {
      this.insert(this.t1, key, value, chargedBytes, false);
    } else if (known.list === T2) {
      this.insert(this.t2, key, value, chargedBytes, false);
    } else if (known.list === B1) {
      this.adaptTarget(known, this.b1, this.b2, +1);
      this.insert(this.t2, key, value, chargedBytes, false);
    } else {
      this.adaptTarget(known, this.b2, this.b1, -1);
      this.insert(this.t2, key, value, chargedBytes, true);
    }
    return true;
  }

  /** Whether `key` is resident. Neither a hit nor a miss, and it does not change recency. */
  has(key: number): boolean {
    checkKey(key, 'has');
    const node = this.nodes.get(key);
    return node !== undefined && node.list <= T2;
  }

  /** Forgets `key` entirely, ghosts included, because its journal offset no longer holds it. */
  delete(key: number): void {
    checkKey(key, 'delete');
    const node = this.nodes.get(key);
    if (node !== undefined) this.forget(node);
    this.checkInvariants();
  }

  /**
   * Forgets every key at or above `minimumKey`. A truncated journal tail reuses its offsets for
   * new records, and a ghost of an old record must not make a new one look frequently used.
   */
  deleteFrom(minimumKey: number): void {
    checkKey(minimumKey, 'deleteFrom');
    const doomed: PoolNode<V>[] = [];
    for (const node of this.nodes.values()) if (node.key >= minimumKey) doomed.push(node);
    for (const node of doomed) this.forget(node);
    this.checkInvariants();
  }

  /** Drops every entry and ghost and resets the target; the counters are cumulative and stay. */
  clear(): void {
    this.nodes.clear();
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

  private newNode(key: number, value: V, chargedBytes: number): PoolNode<V> {
    const node: PoolNode<V> = {
      key,
      value,
      chargedBytes,
      list: T1,
      older: undefined,
      newer: undefined,
    };
    this.nodes.set(key, node);
    return node;
  }

  /** Takes `node` out of its list and out of the pool. */
  private forget(node: PoolNode<V>): void {
    this.listOf(node.list).unlink(node);
    this.nodes.delete(node.key);
  }

  private listOf(name: ListName): ByteLruList<V> {
    if (name === T1) return this.t1;
    if (name === T2) return this.t2;
    return name === B1 ? this.b1 : this.b2;
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
   * evidence. Every ghost is charged at least one byte and the hit list held this ghost, so
   * the divisor is never zero. `direction` is +1 to favour T1 (a B1 hit) and -1 to favour T2.
   * The caller has already taken the ghost out of `hitList`.
   */
  private adaptTarget(
    ghost: PoolNode<V>,
    hitList: ByteLruList<V>,
    otherList: ByteLruList<V>,
    direction: 1 | -1,
  ): void {
    const hitListBytes = hitList.bytes + ghost.chargedBytes;
    const ratio = hitListBytes >= otherList.bytes ? 1 : otherList.bytes / hitListBytes;
    const stepBytes = Math.min(this.capacityBytes, Math.ceil(ghost.chargedBytes * ratio));
    const targetBytes = this.targetRecencyBytes + direction * stepBytes;
    this.targetRecencyBytes = Math.min(this.capacityBytes, Math.max(0, targetBytes));
  }

  /** Makes room for `value`, then appends it to `list` as the most recently used entry. */
  private insert(
    list: ByteLruList<V>,
    key: number,
    value: V,
    chargedBytes: number,
    hitB2: boolean,
  ): void {
    assert(chargedBytes <= this.capacityBytes, 'an oversized value reached insert');
    this.makeRoom(chargedBytes, hitB2);
    assert(!this.nodes.has(key), 'a key would be in two buffer pool lists');
    list.pushNewest(this.newNode(key, value, chargedBytes));
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
   * The evicted entry becomes the newest ghost of its list, and its value is let go.
   */
  private replace(hitB2: boolean): void {
    const t1Bytes = this.t1.bytes;
    const t1OverTarget =
      t1Bytes > this.targetRecencyBytes || (hitB2 && t1Bytes === this.targetRecencyBytes);
    const fromT1 = this.t1.count > 0 && (t1OverTarget || this.t2.count === 0);
    const source = fromT1 ? this.t1 : this.t2;
    const evicted = source.oldest;
    assert(evicted !== undefined, 'the buffer pool had nothing to evict');
    source.unlink(evicted);
    evicted.value = undefined;
    (fromT1 ? this.b1 : this.b2).pushNewest(evicted);
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
    this.dropOldestWhile(this.b1, () => this.t1.bytes + this.b1.bytes > capacityBytes);
    this.dropOldestWhile(this.b2, () => this.ghostBytes() > capacityBytes);
    this.dropOldestWhile(this.b1, () => this.ghostBytes() > capacityBytes);
  }

  /**
   * Drops the ghost list's oldest entries while `over()` holds. Every pass removes one entry
   * and the passes are capped at the list's starting length, so the loop terminates even if
   * `over()` never turns false (the ghost-trim hang of the original implementation).
   */
  private dropOldestWhile(list: ByteLruList<V>, over: () => boolean): void {
    for (let passesLeft = list.count; passesLeft > 0 && over(); passesLeft -= 1) {
      const dropped = list.oldest;
      assert(dropped !== undefined, 'a ghost list ran out before its count said it would');
      this.forget(dropped);
    }
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
