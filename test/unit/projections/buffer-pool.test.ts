import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../src/projections/buffer-pool.js';
import { CartridgeError } from '../../../src/errors.js';

/** A buffer of `sizeBytes` bytes whose content names its key, so that mix-ups are visible. */
function blob(key: number, sizeBytes: number): Buffer {
  return Buffer.alloc(sizeBytes, key % 251);
}

/** Simulates a reader: look the key up, and on a miss decode the blob and cache it. */
function read(pool: BufferPool, key: number, sizeBytes: number): Buffer {
  const cached = pool.get(key);
  if (cached !== undefined) return cached;
  const decoded = blob(key, sizeBytes);
  pool.set(key, decoded);
  return decoded;
}

function errorCodeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(CartridgeError);
    return (error as CartridgeError).code;
  }
  return undefined;
}

describe('BufferPool construction', () => {
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
    'rejects capacity %s with INVALID_ARGUMENT',
    (capacityBytes) => {
      expect(errorCodeOf(() => new BufferPool(capacityBytes))).toBe('INVALID_ARGUMENT');
    },
  );

  it('rejects keys that are not journal offsets with INVALID_ARGUMENT', () => {
    const pool = new BufferPool(100);
    expect(errorCodeOf(() => pool.get(-1))).toBe('INVALID_ARGUMENT');
    expect(errorCodeOf(() => pool.set(0.5, blob(0, 1)))).toBe('INVALID_ARGUMENT');
    expect(errorCodeOf(() => pool.deleteFrom(Number.NaN))).toBe('INVALID_ARGUMENT');
  });

  it('starts empty and reports its capacity', () => {
    expect(new BufferPool(1000).stats()).toEqual({
      hits: 0,
      misses: 0,
      evictions: 0,
      residentBytes: 0,
      residentCount: 0,
      ghostBytes: 0,
      capacityBytes: 1000,
      targetRecencyBytes: 0,
    });
  });
});

describe('BufferPool hits and misses', () => {
  it('counts a miss, then hits after set, and returns the same buffer', () => {
    const pool = new BufferPool(1000);
    const value = blob(7, 10);
    expect(pool.get(7)).toBeUndefined();
    pool.set(7, value);
    expect(pool.get(7)).toBe(value);
    expect(pool.get(7)).toBe(value);
    expect(pool.stats()).toMatchObject({ hits: 2, misses: 1, residentBytes: 10 });
  });

  it('set() says whether it kept the value: not one larger than the pool, nor in no pool', () => {
    const pool = new BufferPool(20);
    expect(pool.set(1, blob(1, 20))).toBe(true);
    expect(pool.set(2, blob(2, 21))).toBe(false);
    expect(pool.has(2)).toBe(false);
    expect(new BufferPool(0).set(1, blob(1, 1))).toBe(false);
  });

  it('has() neither counts nor changes recency', () => {
    const pool = new BufferPool(20);
    pool.set(1, blob(1, 10));
    pool.set(2, blob(2, 10));
    expect(pool.has(1)).toBe(true);
    expect(pool.has(3)).toBe(false);
    expect(pool.stats()).toMatchObject({ hits: 0, misses: 0 });
    // If has(1) had refreshed key 1, key 2 would be evicted instead of key 1.
    pool.set(3, blob(3, 10));
    expect(pool.has(1)).toBe(false);
    expect(pool.has(2)).toBe(true);
  });

  it('replacing a resident value returns the new value and re-counts its bytes', () => {
    const pool = new BufferPool(100);
    pool.set(1, blob(1, 10));
    const replacement = blob(1, 30);
    pool.set(1, replacement);
    expect(pool.get(1)).toBe(replacement);
    expect(pool.stats()).toMatchObject({ residentBytes: 30, residentCount: 1 });
  });
});

describe('BufferPool ARC behaviour', () => {
  it('promotes a hit from T1 to T2, which protects it from T1 evictions', () => {
    const pool = new BufferPool(30);
    pool.set(1, blob(1, 10));
    pool.set(2, blob(2, 10));
    pool.set(3, blob(3, 10));
    expect(pool.get(1)).toBeDefined();
    // Key 1 is now in T2. With the target at 0, new misses evict from T1 first, so the
    // least recently inserted T1 keys go, and key 1 survives although it is the oldest insert.
    pool.set(4, blob(4, 10));
    pool.set(5, blob(5, 10));
    expect(pool.has(1)).toBe(true);
    expect(pool.has(2)).toBe(false);
    expect(pool.has(3)).toBe(false);
    expect(pool.stats()).toMatchObject({ evictions: 2, residentCount: 3 });
  });

  it('evicts from T2 in order of use: a hit makes an entry the last to go', () => {
    const pool = new BufferPool(30);
    for (const key of [1, 2, 3]) pool.set(key, blob(key, 10));
    for (const key of [1, 2, 3]) expect(pool.get(key)).toBeDefined();
    // All three are in T2, used in the order 1, 2, 3; hits on 1 then 2 leave 3 the oldest.
    expect(pool.get(1)).toBeDefined();
    expect(pool.get(2)).toBeDefined();
    // A new key with T1 empty takes its room from T2's least recently used entry: 3, then 1.
    pool.set(4, blob(4, 10));
    expect([1, 2, 3].map((key) => pool.has(key))).toEqual([true, true, false]);
    expect(pool.get(2)).toBeDefined();
    expect(pool.get(4)).toBeDefined();
    pool.set(5, blob(5, 10));
    expect([1, 2, 4, 5].map((key) => pool.has(key))).toEqual([false, true, true, true]);
  });

  it('resists a one-time scan: a working set that fits survives many new keys', () => {
    const pool = new BufferPool(1000);
    const workingSet = [1, 2, 3, 4, 5];
    for (let round = 0; round < 3; round += 1) {
      for (const key of workingSet) read(pool, key, 100);
    }
    for (let key = 1000; key < 3000; key += 1) read(pool, key, 100);
    for (const key of workingSet) expect(pool.has(key)).toBe(true);
    const before = pool.stats();
    for (const key of workingSet) read(pool, key, 100);
    expect(pool.stats().hits - before.hits).toBe(workingSet.length);
    expect(pool.stats().residentBytes).toBeLessThanOrEqual(1000);
  });

  it('moves the target toward T1 on a B1 ghost hit and toward T2 on a B2 ghost hit', () => {
    const pool = new BufferPool(300);
    pool.set(1, blob(1, 100));
    pool.get(1); // T2 = [1].
    pool.set(2, blob(2, 100));
    pool.set(3, blob(3, 100)); // T1 = [2, 3].
    pool.set(4, blob(4, 100)); // T1 is over its zero target: key 2 goes to B1.
    expect(pool.has(2)).toBe(false);
    expect(pool.stats()).toMatchObject({ targetRecencyBytes: 0, ghostBytes: 100 });

    pool.set(2, blob(2, 100)); // B1 ghost hit: T1 was too small, so the target grows.
    expect(pool.stats().targetRecencyBytes).toBe(100);
    expect(pool.has(2)).toBe(true);
    expect(pool.has(3)).toBe(false); // T1 was over the new target, so it gave up key 3.

    pool.set(5, blob(5, 100)); // T1 = [4] is at its target, so T2's LRU key 1 goes to B2.
    expect(pool.has(1)).toBe(false);
    expect(pool.has(4)).toBe(true);

    pool.set(1, blob(1, 100)); // B2 ghost hit: T2 was too small, so the target shrinks.
    expect(pool.stats().targetRecencyBytes).toBe(0);
    expect(pool.has(1)).toBe(true);
  });

  it('scales the target step by the ghost lists byte ratio', () => {
    const pool = new BufferPool(400);
    for (const key of [1, 2, 3, 4]) {
      pool.set(key, blob(key, 100));
      pool.get(key);
    }
    // With T1 empty every miss evicts from T2; promoting each newcomer keeps T1 empty.
    for (const key of [5, 6]) {
      pool.set(key, blob(key, 100));
      pool.get(key);
    }
    pool.set(7, blob(7, 100)); // B2 = [1, 2, 3], T1 = [7].
    pool.set(8, blob(8, 100)); // T1 is over its zero target: B1 = [7].
    expect(pool.stats().ghostBytes).toBe(400);
    // A B1 hit on a 100-byte ghost with B2 / B1 = 300 / 100 moves the target 3 x 100 bytes.
    pool.set(7, blob(7, 10));
    expect(pool.stats().targetRecencyBytes).toBe(300);
  });
});

describe('BufferPool byte bound', () => {
  it('keeps resident bytes within capacity with mixed sizes', () => {
    const pool = new BufferPool(1000);
    const sizesBytes = [1, 999, 500, 17, 300, 1000, 250, 250, 250, 250, 0, 640, 3];
    for (let step = 0; step < 200; step += 1) {
      const key = step % 23;
      const sizeBytes = sizesBytes[step % sizesBytes.length] ?? 0;
      read(pool, key, sizeBytes);
      const stats = pool.stats();
      expect(stats.residentBytes).toBeLessThanOrEqual(1000);
      expect(stats.ghostBytes).toBeLessThanOrEqual(1000);
    }
    expect(pool.stats().evictions).toBeGreaterThan(0);
  });

  it('charges an empty buffer one byte so that entry counts stay bounded', () => {
    const pool = new BufferPool(3);
    for (let key = 0; key < 10; key += 1) pool.set(key, Buffer.alloc(0));
    expect(pool.stats()).toMatchObject({ residentBytes: 3, residentCount: 3 });
    expect(pool.get(9)?.length).toBe(0);
  });

  it('does not cache an entry larger than the capacity, and drops an older value', () => {
    const pool = new BufferPool(100);
    pool.set(1, blob(1, 50));
    pool.set(2, blob(2, 50));
    pool.set(2, blob(2, 101));
    expect(pool.has(2)).toBe(false);
    expect(pool.get(2)).toBeUndefined();
    expect(pool.has(1)).toBe(true);
    expect(pool.stats()).toMatchObject({ residentBytes: 50, evictions: 0 });
    pool.set(3, blob(3, 100)); // Exactly the capacity still fits.
    expect(pool.has(3)).toBe(true);
    expect(pool.stats().residentBytes).toBe(100);
  });

  it('caches nothing at capacity 0', () => {
    const pool = new BufferPool(0);
    pool.set(1, blob(1, 1));
    pool.set(2, Buffer.alloc(0));
    expect(pool.has(1)).toBe(false);
    expect(pool.has(2)).toBe(false);
    expect(pool.get(1)).toBeUndefined();
    expect(pool.stats()).toMatchObject({ residentBytes: 0, residentCount: 0, ghostBytes: 0 });
  });
});

describe('BufferPool removal', () => {
  it('delete forgets a resident key and its ghost', () => {
    const pool = new BufferPool(30);
    pool.set(9, blob(9, 10));
    pool.get(9); // T2 = [9].
    pool.set(1, blob(1, 10));
    pool.set(2, blob(2, 10));
    pool.set(3, blob(3, 10)); // Key 1 becomes a B1 ghost.
    expect(pool.stats().ghostBytes).toBe(10);
    pool.delete(1);
    pool.delete(2);
    expect(pool.has(2)).toBe(false);
    expect(pool.stats()).toMatchObject({ residentBytes: 20, ghostBytes: 0 });
    pool.set(1, blob(1, 10)); // No ghost left, so this is a plain miss: no adaptation.
    expect(pool.stats().targetRecencyBytes).toBe(0);
  });

  it('deleteFrom removes every resident and ghost key at or above the offset', () => {
    const pool = new BufferPool(300);
    for (const key of [10, 20, 30, 40, 50]) pool.set(key, blob(key, 100));
    // T1 + B1 must fit the capacity, so a full T1 leaves no room for ghosts of 10 and 20.
    expect(pool.stats().ghostBytes).toBe(0);
    pool.get(30);
    pool.set(60, blob(60, 100)); // Evicts 40 into B1 (T1 holds 40, 50; T2 holds 30).
    expect(pool.stats().ghostBytes).toBe(100);
    pool.deleteFrom(30);
    expect([10, 20, 30, 40, 50, 60].filter((key) => pool.has(key))).toEqual([]);
    expect(pool.stats()).toMatchObject({ residentBytes: 0, residentCount: 0, ghostBytes: 0 });
    pool.set(40, blob(40, 100)); // The B1 ghost of 40 is gone: a plain miss.
    expect(pool.stats().targetRecencyBytes).toBe(0);
  });

  it('deleteFrom keeps keys below the offset', () => {
    const pool = new BufferPool(1000);
    for (const key of [1, 5, 9]) pool.set(key, blob(key, 10));
    pool.deleteFrom(5);
    expect(pool.has(1)).toBe(true);
    expect(pool.has(5)).toBe(false);
    expect(pool.has(9)).toBe(false);
    expect(pool.stats().residentBytes).toBe(10);
  });

  it('clear empties the pool and resets the target but keeps the counters', () => {
    const pool = new BufferPool(300);
    pool.set(1, blob(1, 100));
    pool.get(1);
    pool.set(2, blob(2, 100));
    pool.set(3, blob(3, 100));
    pool.set(4, blob(4, 100)); // Key 2 becomes a B1 ghost.
    pool.set(2, blob(2, 100)); // The B1 ghost hit raises the target.
    pool.get(99);
    expect(pool.stats().targetRecencyBytes).toBeGreaterThan(0);
    pool.clear();
    expect(pool.stats()).toMatchObject({
      hits: 1,
      misses: 1,
      residentBytes: 0,
      residentCount: 0,
      ghostBytes: 0,
      targetRecencyBytes: 0,
    });
    expect(pool.has(1)).toBe(false);
    expect(pool.get(1)).toBeUndefined();
  });
});

describe('BufferPool per-entry overhead', () => {
  it('charges each entry its overhead too, so many tiny values stay within the capacity', () => {
    const pool = new BufferPool(1000, 90);
    for (let key = 0; key < 50; key++) pool.set(key, blob(key, 10));
    const stats = pool.stats();
    expect(stats.residentCount).toBe(10);
    expect(stats.residentBytes).toBe(1000);
    expect(pool.get(49)?.equals(blob(49, 10))).toBe(true);
    expect(pool.has(0)).toBe(false);
  });
});
