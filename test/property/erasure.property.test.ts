import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cartridge, CartridgeError, type PathVersion } from '../../src/index.js';

/**
 * Model-based test of redaction. Random writes, appends, deletions and redactions (`'past'`,
 * `'all'`, one version named) of two paths run against a real file and against a model that
 * keeps every version's content and whether a redaction named it. After every step:
 *
 * - the current content, and a past version read through a checkout, are what the model says:
 *   the content, or `REDACTED` for a version a redaction named or built on one (an append to
 *   a redacted file); an append whose consolidation must read redacted bytes may itself be
 *   refused with `REDACTED`, and then changes nothing;
 * - at the end and after a reopen, `verify()` passes, and a raw scan of the file finds the
 *   token of every readable version and none of the tokens only redacted versions held.
 *
 * `PROPERTY_RUNS` and `PROPERTY_SEED` as in the other property tests; fast-check prints the
 * seed and the shrunk operations when a run fails.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '25', 10) || 25;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

/** Two paths, so that each gets a history long enough for redactions to overlap. */
const PATHS = ['/a.txt', '/d/c.txt'] as const;

type Op =
  | { readonly kind: 'write'; readonly path: number; readonly fillerBytes: number }
  | { readonly kind: 'append'; readonly path: number }
  | { readonly kind: 'delete'; readonly path: number }
  | {
      readonly kind: 'redact';
      readonly path: number;
      readonly versions: 'past' | 'all' | 'one';
      readonly pick: number;
    }
  | { readonly kind: 'reopen' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      path: fc.nat(PATHS.length - 1),
      fillerBytes: fc.oneof(fc.nat(300), fc.constant(70_000)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('append' as const), path: fc.nat(PATHS.length - 1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), path: fc.nat(PATHS.length - 1) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('redact' as const),
      path: fc.nat(PATHS.length - 1),
      versions: fc.constantFrom('past' as const, 'all' as const, 'one' as const, 'one' as const),
      pick: fc.nat(3),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

interface ModelVersion {
  /** The content, or null for a deletion. */
  readonly content: string | null;
  /** The tokens the content holds. */
  readonly tokens: readonly string[];
  redacted: boolean;
  /** Built on a redacted version (an append to it): its content is partly gone. */
  readonly tainted: boolean;
}

class Model {
  /** Each path's versions, oldest first. */
  readonly versions = new Map<string, ModelVersion[]>(PATHS.map((path) => [path, []]));

  current(path: string): ModelVersion | undefined {
    const list = this.versions.get(path) as ModelVersion[];
    const last = list[list.length - 1];
    return last?.content === null ? undefined : last;
  }

  add(path: string, version: ModelVersion): void {
    (this.versions.get(path) as ModelVersion[]).push(version);
  }

  /** What a read of the version gives: its content, or REDACTED. */
  expected(version: ModelVersion): string {
    return version.redacted || version.tainted ? 'REDACTED' : (version.content as string);
  }
}

function readOrCode(read: () => Buffer): string {
  try {
    return read().toString('latin1');
  } catch (error) {
    if (error instanceof CartridgeError) return error.code;
    throw error;
  }
}

function runScenario(ops: readonly Op[]): void {
  const directory = mkdtempSync(join(tmpdir(), 'cartridge-erasure-property-'));
  const path = join(directory, 'model.cart');
  const options = { compression: 'none' as const, checkpointIntervalBytes: 4096 };
  let cart = Cartridge.create(path, options);
  const model = new Model();
  try {
    ops.forEach((op, index) => {
      const token = `tok${index.toString().padStart(4, '0')}x`;
      step(cart, model, op, token);
      if (op.kind === 'reopen') {
        cart.close();
        cart = Cartridge.open(path, options);
      }
      checkAgainstModel(cart, model, index);
    });
    expect(cart.verify().ok).toBe(true);
    cart.close();
    cart = Cartridge.open(path, options);
    checkAgainstModel(cart, model, ops.length);
    expect(cart.verify().ok).toBe(true);
    cart.close();
    checkScan(readFileSync(path), model);
  } finally {
    if (!cart.closed) cart.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

function step(cart: Cartridge, model: Model, op: Op, token: string): void {
  if (op.kind === 'reopen') return;
  const path = PATHS[op.path] as string;
  const current = model.current(path);
  switch (op.kind) {
    case 'write': {
      const content = `${token}${'.'.repeat(op.fillerBytes)}`;
      if (current === undefined) cart.createFile(path, content);
      else cart.writeFile(path, content);
      model.add(path, { content, tokens: [token], redacted: false, tainted: false });
      return;
    }
    case 'append': {
      if (current === undefined) return;
      const broken = current.redacted || current.tainted;
      try {
        cart.appendFile(path, token);
      } catch (error) {
        // Consolidating a redacted file's small extents must read them: refused, nothing done.
        if (broken && error instanceof CartridgeError && error.code === 'REDACTED') return;
        throw error;
      }
      model.add(path, {
        content: `${current.content as string}${token}`,
        tokens: [...current.tokens, token],
        redacted: false,
        tainted: broken,
      });
      return;
    }
    case 'delete':
      if (current === undefined) return;
      cart.deleteFile(path);
      model.add(path, { content: null, tokens: [], redacted: false, tainted: false });
      return;
    case 'redact': {
      const list = model.versions.get(path) as ModelVersion[];
      if (list.length === 0) {
        expect(readOrCode(() => redactAsBuffer(cart, path, 'all'))).toBe('ENOENT');
        return;
      }
      if (op.versions === 'one') {
        // History is newest first; the model oldest first.
        const history = cart.history(path, { limit: 1000 });
        const chosen = op.pick % history.length;
        cart.redact(path, { versions: [(history[chosen] as PathVersion).position] });
        (list[list.length - 1 - chosen] as ModelVersion).redacted = true;
        return;
      }
      cart.redact(path, { versions: op.versions });
      const keepLast = op.versions === 'past' && current !== undefined;
      list.forEach((version, position) => {
        if (!keepLast || position < list.length - 1) version.redacted = true;
      });
      return;
    }
  }
}

function redactAsBuffer(cart: Cartridge, path: string, versions: 'all'): Buffer {
  cart.redact(path, { versions });
  return Buffer.alloc(0);
}

function checkAgainstModel(cart: Cartridge, model: Model, stepIndex: number): void {
  for (const path of PATHS) {
    const list = model.versions.get(path) as ModelVersion[];
    const current = model.current(path);
    if (current === undefined) {
      expect(cart.exists(path), `step ${stepIndex}: ${path} exists`).toBe(false);
    } else {
      expect(
        readOrCode(() => cart.readFile(path)),
        `step ${stepIndex}: ${path}`,
      ).toBe(model.expected(current));
    }
    // Every past version that had content, through a checkout of its own moment.
    const history = cart.history(path, { limit: 1000 });
    expect(history).toHaveLength(list.length);
    history.forEach((entry, newestFirst) => {
      const version = list[list.length - 1 - newestFirst] as ModelVersion;
      if (version.content === null) return;
      const read = readOrCode(() => cart.checkout(entry.position).readFile(path));
      expect(read, `step ${stepIndex}: ${path} at ${entry.offset}`).toBe(model.expected(version));
    });
  }
}

function checkScan(bytes: Buffer, model: Model): void {
  const readable = new Set<string>();
  const held = new Map<string, boolean>();
  for (const list of model.versions.values()) {
    for (const version of list) {
      const open = !version.redacted && !version.tainted;
      for (const token of version.tokens) {
        if (open) readable.add(token);
        // A token only redacted versions held must be gone.
        held.set(token, (held.get(token) ?? false) || !version.redacted);
      }
    }
  }
  for (const token of readable) {
    expect(bytes.includes(Buffer.from(token)), `${token} readable, so on disk`).toBe(true);
  }
  for (const [token, kept] of held) {
    if (!kept) expect(bytes.includes(Buffer.from(token)), `${token} redacted, so gone`).toBe(false);
  }
}

describe('redaction model-based property', () => {
  it('reads, raw scans and verification agree with the model after every step', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { minLength: 1, maxLength: 40 }), (ops) => {
        runScenario(ops);
      }),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  }, 600_000);
});
