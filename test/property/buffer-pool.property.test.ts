import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BufferPool, type BufferPoolStats } from '../../src/projections/buffer-pool.js';

/** How many random cases to run; `PROPERTY_RUNS` raises it for a soak run. */
const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '100', 10) || 100;

/** A small key space, so that sequences revisit keys and reach the ghost lists. */
const KEY_COUNT = 32;
const HOT_KEY_COUNT = 4;
const KEYS = Array.from({ length: KEY_COUNT }, (_, key) => key);

type Operation =
  | { readonly kind: 'get'; readonly key: number }
  | { readonly kind: 'set'; readonly key: number; readonly sizeBytes: number }
  | { readonly kind: 'read'; readonly key: number; readonly sizeBytes: number }
  | { readonly kind: 'has'; readonly key: number }
  | { readonly kind: 'delete'; readonly key: number }
  | { readonly kind: 'deleteFrom'; readonly key: number }
  | { readonly kind: 'clear' };

/**
 * A few hot keys among many cold ones: the hot keys fill T2, the cold ones churn through T1, and
 * together they push entries into both ghost lists and hit them, which moves the ARC target.
 */
const keyArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: HOT_KEY_COUNT - 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: KEY_COUNT - 1 }) },
);

/**
 * Mostly small sizes, so several entries fit and ghosts get hit; sometimes large ones, past the
 * largest capacity, so that eviction of big entries and oversized values are exercised too.
 */
const sizeBytesArbitrary = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 320 }) },
);

/** Small capacities make ordinary sizes oversized; larger ones hold many entries. */
const capacityBytesArbitrary = fc.oneof(
  fc.integer({ min: 0, max: 60 }),
  fc.integer({ min: 0, max: 300 }),
);

const sizedArbitrary = fc.record({ key: keyArbitrary, sizeBytes: sizeBytesArbitrary });

/** Mostly reads, as the engine issues them, with the other calls mixed in. */
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 24,
    arbitrary: sizedArbitrary.map(({ key, sizeBytes }) => ({
      kind: 'read' as const,
      key,
      sizeBytes,
    })),
  },
  { weight: 6, arbitrary: keyArbitrary.map((key) => ({ kind: 'get' as const, key })) },
  {
    weight: 6,
    arbitrary: sizedArbitrary.map(({ key, sizeBytes }) => ({
      kind: 'set' as const,
      key,
      sizeBytes,
    })),
  },
  { weight: 1, arbitrary: keyArbitrary.map((key) => ({ kind: 'has' as const, key })) },
  { weight: 1, arbitrary: keyArbitrary.map((key) => ({ kind: 'delete' as const, key })) },
  {
    // A truncation point anywhere, not biased to the hot keys, which would empty the pool.
    weight: 1,
    arbitrary: fc
      .integer({ min: 0, max: KEY_COUNT - 1 })
      .map((key) => ({ kind: 'deleteFrom' as const, key })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

/** What the pool charges for a value: its length, and at least one byte. */
function chargedBytesOf(value: Buffer): number {
  return Math.max(1, value.length);
}

/**
 * The model is what a perfect, unbounded store would answer: the last value set for each key.
 * The pool may forget any of it, but must never answer with anything else.
 */
class Harness {
  readonly model = new Map<number, Buffer>();
  gets = 0;
  hits = 0;

  constructor(
    readonly pool: BufferPool,
    readonly capacityBytes: number,
  ) {}

  apply(operation: Operation): void {
    const { pool } = this;
    switch (operation.kind) {
      case 'get':
        this.applyGet(operation.key);
        return;
      case 'set':
        this.applySet(operation.key, operation.sizeBytes);
        return;
      case 'read':
        // How the engine uses the pool: look up, and on a miss decode and cache.
        if (this.applyGet(operation.key) === undefined) {
          this.applySet(operation.key, operation.sizeBytes);
        }
        return;
      case 'has':
        if (pool.has(operation.key)) expect(this.model.has(operation.key)).toBe(true);
        return;
      case 'delete':
        pool.delete(operation.key);
        this.model.delete(operation.key);
        expect(pool.has(operation.key)).toBe(false);
        return;
      case 'deleteFrom':
        pool.deleteFrom(operation.key);
        for (const key of KEYS) if (key >= operation.key) this.model.delete(key);
        return;
      case 'clear':
        pool.clear();
        this.model.clear();
        expect(pool.stats().residentCount).toBe(0);
        return;
    }
  }

  private applyGet(key: number): Buffer | undefined {
    const wasResident = this.pool.has(key);
    const value = this.pool.get(key);
    this.gets += 1;
    expect(value !== undefined).toBe(wasResident);
    if (value !== undefined) {
      this.hits += 1;
      expect(value).toBe(this.model.get(key));
    }
    return value;
  }

  private applySet(key: number, sizeBytes: number): void {
    const { pool } = this;
    // Every value is a fresh buffer, so identity tells apart values of equal content.
    const value = Buffer.alloc(sizeBytes, key);
    const before = pool.stats();
    const replacedBytes = pool.has(key) ? chargedBytesOf(this.model.get(key) ?? value) : 0;
    pool.set(key, value);
    this.model.set(key, value);
    const after = pool.stats();
    const fits = chargedBytesOf(value) <= this.capacityBytes;
    // A value that fits is always cached right away; one that does not never is.
    expect(pool.has(key)).toBe(fits);
    // The pool evicts only when it must.
    const roomBytes = this.capacityBytes - (before.residentBytes - replacedBytes);
    if (!fits || chargedBytesOf(value) <= roomBytes) {
      expect(after.evictions).toBe(before.evictions);
    }
  }

  checkInvariants(): void {
    const stats = this.pool.stats();
    expect(stats.capacityBytes).toBe(this.capacityBytes);
    expect(stats.residentBytes).toBeLessThanOrEqual(this.capacityBytes);
    expect(stats.ghostBytes).toBeLessThanOrEqual(this.capacityBytes);
    expect(stats.targetRecencyBytes).toBeGreaterThanOrEqual(0);
    expect(stats.targetRecencyBytes).toBeLessThanOrEqual(this.capacityBytes);
    expect(stats.hits).toBe(this.hits);
    expect(stats.misses).toBe(this.gets - this.hits);
    const residentKeys = KEYS.filter((key) => this.pool.has(key));
    expect(stats.residentCount).toBe(residentKeys.length);
    let residentBytes = 0;
    for (const key of residentKeys) {
      const value = this.model.get(key);
      // A resident key the model has forgotten would be a value the pool must not return.
      expect(value).toBeDefined();
      if (value !== undefined) residentBytes += chargedBytesOf(value);
    }
    expect(stats.residentBytes).toBe(residentBytes);
  }
}

describe('BufferPool model', () => {
  it('forgets but never lies, and keeps its byte bounds and counters', () => {
    fc.assert(
      fc.property(
        capacityBytesArbitrary,
        fc.array(operationArbitrary, { maxLength: 200, size: 'max' }),
        (capacityBytes, operations) => {
          const harness = new Harness(new BufferPool(capacityBytes), capacityBytes);
          for (const operation of operations) {
            harness.apply(operation);
            harness.checkInvariants();
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

interface ModelEntry {
  readonly key: number;
  readonly value: Buffer | undefined;
  readonly chargedBytes: number;
}

/**
 * ARC as the paper writes it, over plain arrays (oldest first) and in bytes, with the pool's
 * choices where the paper leaves room: T1's eviction when it is over its target (or at it on a
 * B2 hit), the step of the target scaled by the ghost lists' ratio, the ghosts trimmed after
 * every insert. O(n) everywhere: it is the reference the pool's linked lists and single map
 * must agree with, decision for decision.
 */
class PlainArc {
  private readonly t1: ModelEntry[] = [];
  private readonly t2: ModelEntry[] = [];
  private readonly b1: ModelEntry[] = [];
  private readonly b2: ModelEntry[] = [];
  private target = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    private readonly capacityBytes: number,
    private readonly overheadBytes: number,
  ) {}

  get(key: number): Buffer | undefined {
    for (const list of [this.t2, this.t1]) {
      const index = list.findIndex((entry) => entry.key === key);
      if (index < 0) continue;
      const [entry] = list.splice(index, 1) as [ModelEntry];
      this.t2.push(entry);
      this.hits += 1;
      return entry.value;
    }
    this.misses += 1;
    return undefined;
  }

  has(key: number): boolean {
    return [this.t1, this.t2].some((list) => list.some((entry) => entry.key === key));
  }

  set(key: number, value: Buffer): void {
    const chargedBytes = Math.max(1, value.length) + this.overheadBytes;
    if (chargedBytes > this.capacityBytes) {
      this.delete(key);
      return;
    }
    const entry = { key, value, chargedBytes };
    if (this.take(this.t1, key) !== undefined) return this.insert(this.t1, entry, false);
    if (this.take(this.t2, key) !== undefined) return this.insert(this.t2, entry, false);
    const inB1 = this.b1.find((ghost) => ghost.key === key);
    if (inB1 !== undefined) {
      this.adapt(inB1, this.b1, this.b2, 1);
      this.take(this.b1, key);
      return this.insert(this.t2, entry, false);
    }
    const inB2 = this.b2.find((ghost) => ghost.key === key);
    if (inB2 !== undefined) {
      this.adapt(inB2, this.b2, this.b1, -1);
      this.take(this.b2, key);
      return this.insert(this.t2, entry, true);
    }
    this.insert(this.t1, entry, false);
  }

  delete(key: number): void {
    for (const list of this.lists()) this.take(list, key);
  }

  deleteFrom(minimumKey: number): void {
    for (const list of this.lists()) {
      for (const entry of [...list]) if (entry.key >= minimumKey) this.take(list, entry.key);
    }
  }

  clear(): void {
    for (const list of this.lists()) list.length = 0;
    this.target = 0;
  }

  stats(): BufferPoolStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      residentBytes: bytesOf(this.t1) + bytesOf(this.t2),
      residentCount: this.t1.length + this.t2.length,
      ghostBytes: bytesOf(this.b1) + bytesOf(this.b2),
      capacityBytes: this.capacityBytes,
      targetRecencyBytes: this.target,
    };
  }

  private lists(): ModelEntry[][] {
    return [this.t1, this.t2, this.b1, this.b2];
  }

  private take(list: ModelEntry[], key: number): ModelEntry | undefined {
    const index = list.findIndex((entry) => entry.key === key);
    return index < 0 ? undefined : list.splice(index, 1)[0];
  }

  /** The target moves by the ghost's size, scaled by how much smaller its list is. */
  private adapt(ghost: ModelEntry, hit: ModelEntry[], other: ModelEntry[], direction: number) {
    const hitBytes = bytesOf(hit);
    const ratio = hitBytes >= bytesOf(other) ? 1 : bytesOf(other) / hitBytes;
    const step = Math.min(this.capacityBytes, Math.ceil(ghost.chargedBytes * ratio));
    this.target = Math.min(this.capacityBytes, Math.max(0, this.target + direction * step));
  }

  private insert(list: ModelEntry[], entry: ModelEntry, hitB2: boolean): void {
    while (
      this.t1.length + this.t2.length > 0 &&
      bytesOf(this.t1) + bytesOf(this.t2) + entry.chargedBytes > this.capacityBytes
    ) {
      const t1Bytes = bytesOf(this.t1);
      const over = t1Bytes > this.target || (hitB2 && t1Bytes === this.target);
      const fromT1 = this.t1.length > 0 && (over || this.t2.length === 0);
      const evicted = (fromT1 ? this.t1 : this.t2).shift() as ModelEntry;
      (fromT1 ? this.b1 : this.b2).push({ ...evicted, value: undefined });
      this.evictions += 1;
    }
    list.push(entry);
    const capacity = this.capacityBytes;
    while (this.b1.length > 0 && bytesOf(this.t1) + bytesOf(this.b1) > capacity) this.b1.shift();
    while (this.b2.length > 0 && bytesOf(this.b1) + bytesOf(this.b2) > capacity) this.b2.shift();
    while (this.b1.length > 0 && bytesOf(this.b1) + bytesOf(this.b2) > capacity) this.b1.shift();
  }
}

function bytesOf(list: readonly ModelEntry[]): number {
  return list.reduce((sum, entry) => sum + entry.chargedBytes, 0);
}

describe('BufferPool against plain ARC', () => {
  it('makes the same decisions as ARC over arrays, step by step', () => {
    fc.assert(
      fc.property(
        capacityBytesArbitrary,
        fc.constantFrom(0, 7),
        fc.array(operationArbitrary, { maxLength: 300, size: 'max' }),
        (capacityBytes, overheadBytes, operations) => {
          const pool = new BufferPool(capacityBytes, overheadBytes);
          const model = new PlainArc(capacityBytes, overheadBytes);
          for (const operation of operations) {
            switch (operation.kind) {
              case 'get':
                expect(pool.get(operation.key)).toBe(model.get(operation.key));
                break;
              case 'read': {
                const found = pool.get(operation.key);
                expect(found).toBe(model.get(operation.key));
                if (found === undefined) {
                  const value = Buffer.alloc(operation.sizeBytes, operation.key);
                  pool.set(operation.key, value);
                  model.set(operation.key, value);
                }
                break;
              }
              case 'set': {
                const value = Buffer.alloc(operation.sizeBytes, operation.key);
                pool.set(operation.key, value);
                model.set(operation.key, value);
                break;
              }
              case 'has':
                break;
              case 'delete':
                pool.delete(operation.key);
                model.delete(operation.key);
                break;
              case 'deleteFrom':
                pool.deleteFrom(operation.key);
                model.deleteFrom(operation.key);
                break;
              case 'clear':
                pool.clear();
                model.clear();
                break;
            }
            expect(pool.stats()).toEqual(model.stats());
            for (const key of KEYS) expect(pool.has(key)).toBe(model.has(key));
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
