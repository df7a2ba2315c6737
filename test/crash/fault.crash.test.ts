import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/engine/cartridge.js';
import type { Durability } from '../../src/engine/options.js';
import { CartridgeError } from '../../src/errors.js';
import type { CipherName } from '../../src/journal/keyring.js';
import { JOURNAL_START_OFFSET } from '../../src/journal/file-header.js';
import type { OpenFileOptions, PathStatus, Storage, StorageFile } from '../../src/journal/io/storage.js';
import {
  CRASHED_ERROR_CODE,
  type CrashMode,
  FaultStorage,
  type InjectedErrorCode,
} from '../support/fault-storage.js';
import { ModelBuilder, describeCartridge, describeModel, randomContent } from '../support/crash-model.js';

/**
 * Crashes and I/O failures injected under a real workload through FaultStorage. After every
 * crash the reopened cartridge must hold exactly the state after some prefix of the
 * operations, and that prefix must contain every acknowledged durable commit. A failed write
 * must leave nothing behind; a failed fsync must poison the writer.
 */

const PATH = '/fault/work.cart';
/** Keeps the 'normal' durability timer out of the way; the tests sync by flush and close. */
const SYNC_INTERVAL_MS = 3_600_000;

// ---- deterministic content ---------------------------------------------------------------------

function logText(lineCount: number): Buffer {
  const lines: string[] = [];
  for (let line = 0; line < lineCount; line++) lines.push(`line ${line} GET /api/items/${line % 13} 200\n`);
  return Buffer.from(lines.join(''));
}

// ---- the workload ------------------------------------------------------------------------------

/**
 * One step of the workload. `durable` says what acknowledging the step promises: in 'full'
 * durability every commit is durable when it returns; in 'normal' only flush and close are.
 */
interface Operation {
  readonly name: string;
  readonly kind: 'commit' | 'flush' | 'checkpoint' | 'close';
  run(cartridge: Cartridge): void;
  apply(model: ModelBuilder): void;
}

function commit(name: string, run: (cartridge: Cartridge) => void, apply: (model: ModelBuilder) => void): Operation {
  return { name, kind: 'commit', run, apply };
}

const FLUSH: Operation = { name: 'flush', kind: 'flush', run: (cartridge) => cartridge.flush(), apply: () => {} };
const CHECKPOINT: Operation = {
  name: 'checkpoint', kind: 'checkpoint', run: (cartridge) => cartridge.checkpoint(), apply: () => {},
};
const CLOSE: Operation = { name: 'close', kind: 'close', run: (cartridge) => cartridge.close(), apply: () => {} };

const LOG = logText(300);
const BLOB_1 = randomContent(5000, 1);
const BLOB_2 = randomContent(3000, 2);

/** Small files, nested directories, a compressed file, a multi-record transaction, deletes. */
const COMMITS: readonly Operation[] = [
  commit('create /a.txt', (c) => c.createFile('/a.txt', 'alpha'), (m) => m.file('/a.txt', Buffer.from('alpha'))),
  commit('create /docs/guide.md', (c) => c.createFile('/docs/guide.md', '# Guide\n'), (m) => m.file('/docs/guide.md', Buffer.from('# Guide\n'))),
  commit('append /docs/guide.md', (c) => c.appendFile('/docs/guide.md', 'More.\n'), (m) => m.append('/docs/guide.md', Buffer.from('More.\n'))),
  commit('create /logs/app.log (compressed)', (c) => c.createFile('/logs/app.log', LOG), (m) => m.file('/logs/app.log', LOG)),
  commit(
    'transaction',
    (c) =>
      c.transaction(() => {
        c.createDir('/t');
        c.createFile('/t/1', 'one');
        c.createFile('/t/2', 'two');
        c.writeFile('/a.txt', 'beta');
        c.deleteFile('/docs/guide.md');
      }),
    (m) => {
      m.dir('/t');
      m.file('/t/1', Buffer.from('one'));
      m.file('/t/2', Buffer.from('two'));
      m.file('/a.txt', Buffer.from('beta'));
      m.remove('/docs/guide.md');
    },
  ),
  commit('create /bin/blob', (c) => c.createFile('/bin/blob', BLOB_1), (m) => m.file('/bin/blob', BLOB_1)),
  commit('rewrite /bin/blob', (c) => c.writeFile('/bin/blob', BLOB_2), (m) => m.file('/bin/blob', BLOB_2)),
  commit('delete /t/1', (c) => c.deleteFile('/t/1'), (m) => m.remove('/t/1')),
  commit('create /z', (c) => c.createFile('/z', 'last'), (m) => m.file('/z', Buffer.from('last'))),
];

/** The workload of one durability mode: commits, a checkpoint, flushes, and a close. */
function workload(durability: Durability): Operation[] {
  const [c1, c2, c3, c4, c5, c6, c7, c8, c9] = COMMITS as [
    Operation, Operation, Operation, Operation, Operation, Operation, Operation, Operation, Operation,
  ];
  if (durability === 'full') return [c1, c2, c3, c4, c5, CHECKPOINT, c6, c7, c8, c9, CLOSE];
  return [c1, c2, FLUSH, c3, c4, c5, FLUSH, CHECKPOINT, c6, c7, FLUSH, c8, c9, CLOSE];
}

/** `models[i]` is the state after the first i operations. */
function modelsOf(operations: readonly Operation[]): string[] {
  const model = new ModelBuilder();
  const models = [describeModel(model.snapshot())];
  for (const operation of operations) {
    operation.apply(model);
    models.push(describeModel(model.snapshot()));
  }
  return models;
}

/** The state after the first `count` operations, with `extra` applied on top. */
function modelAfter(operations: readonly Operation[], count: number, extra: (model: ModelBuilder) => void): string {
  const model = new ModelBuilder();
  for (const operation of operations.slice(0, count)) operation.apply(model);
  extra(model);
  return describeModel(model.snapshot());
}

function isAcknowledgedDurable(operation: Operation, durability: Durability): boolean {
  if (operation.kind === 'flush') return true;
  // In 'off' even close does not sync.
  if (operation.kind === 'close') return durability !== 'off';
  return durability === 'full';
}

/** Options every cartridge of a run shares; `checkpointIntervalBytes` varies by test. */
interface RunOptions {
  readonly checkpointIntervalBytes?: number;
  /** An encrypted run: every record sealed, every reopen with the key. */
  readonly encryptionKey?: Buffer;
  readonly cipher?: CipherName;
}

/** The key of encrypted runs (a fixed value, so a failing point replays). */
const RUN_KEY = createHash('sha256').update('fault crash key').digest();

function create(storage: FaultStorage, durability: Durability, run: RunOptions = {}): Cartridge {
  return Cartridge.create(PATH, { ...run, storage, durability, syncIntervalMs: SYNC_INTERVAL_MS });
}

function open(storage: FaultStorage, durability: Durability, run: RunOptions = {}): Cartridge {
  return Cartridge.open(PATH, { ...run, storage, durability, syncIntervalMs: SYNC_INTERVAL_MS });
}

/** I/O operations the workload performs after create, measured on a run without faults. */
function measure(durability: Durability, run: RunOptions = {}): { total: number; writes: number; syncs: number } {
  const storage = new FaultStorage(0);
  const cartridge = create(storage, durability, run);
  const total = storage.operationCount();
  const writes = storage.operationCount('write');
  const syncs = storage.operationCount('sync');
  for (const operation of workload(durability)) operation.run(cartridge);
  return {
    total: storage.operationCount() - total,
    writes: storage.operationCount('write') - writes,
    syncs: storage.operationCount('sync') - syncs,
  };
}

/** Asserts `error` is a CartridgeError of one of `codes` and returns it. */
function expectCartridgeError(error: unknown, codes: readonly string[]): CartridgeError {
  expect(error).toBeInstanceOf(CartridgeError);
  const typed = error as CartridgeError;
  expect(codes).toContain(typed.code);
  return typed;
}

describe.each(['full', 'normal', 'off'] as const)('the workload, durability %s', (durability) => {
  it('does what the model says, step by step and after a reopen', () => {
    const storage = new FaultStorage(0);
    const cartridge = create(storage, durability);
    const models = modelsOf(workload(durability));
    workload(durability).forEach((operation, index) => {
      operation.run(cartridge);
      if (operation.kind !== 'close') expect(describeCartridge(cartridge), operation.name).toBe(models[index + 1]);
    });
    const reopened = open(storage, durability);
    try {
      expect(describeCartridge(reopened)).toBe(models[models.length - 1]);
      expect(reopened.verify().ok).toBe(true);
    } finally {
      reopened.close();
    }
  });
});

// ---- crashes -----------------------------------------------------------------------------------

/**
 * Seeds are chosen so that the first random draw falls on both sides of 1/2 (seeds 1..6 of
 * mulberry32 all start above it, which would drop the first pending write every time and make
 * every seed behave like 'drop-unsynced').
 */
const CRASH_MODES: readonly CrashMode[] = [
  { kind: 'drop-unsynced' },
  { kind: 'keep-prefix', count: 1 },
  { kind: 'keep-prefix', count: 2 },
  { kind: 'keep-prefix', count: 1_000 },
  { kind: 'keep-subset', seed: 0 },
  { kind: 'keep-subset', seed: 7 },
  { kind: 'keep-subset', seed: 8 },
  { kind: 'keep-subset', seed: 9 },
  { kind: 'keep-subset', seed: 2 },
  { kind: 'tear-last', sectorBytes: 512, seed: 0 },
  { kind: 'tear-last', sectorBytes: 512, seed: 7 },
  { kind: 'tear-last', sectorBytes: 4096, seed: 0 },
  { kind: 'tear-last', sectorBytes: 4096, seed: 2 },
  { kind: 'size-before-content', seed: 0 },
  { kind: 'size-before-content', seed: 7 },
  { kind: 'size-before-content', seed: 8, sectorBytes: 4096 },
];

function describeMode(mode: CrashMode): string {
  return JSON.stringify(mode);
}

/** The mode with a seed of its own for each crash point, so that points differ in outcome. */
function modeForPoint(mode: CrashMode, point: number): CrashMode {
  return 'seed' in mode ? { ...mode, seed: mode.seed * 10_000 + point } : mode;
}

interface CrashRun {
  /** Operations that returned. */
  readonly acknowledged: number;
  /** Operations acknowledged as durable (a prefix: every later one is at most visible). */
  readonly durable: number;
  /** Whether close() surfaced the storage's own (unwrapped) error from releasing the handle. */
  readonly unwrappedCloseError: boolean;
}

/** Runs the workload with the machine dying after `budget` I/O operations. */
function runUntilCrash(storage: FaultStorage, durability: Durability, budget: number, options: RunOptions): CrashRun {
  const operations = workload(durability);
  const cartridge = create(storage, durability, options);
  storage.crashAfter(budget);
  let acknowledged = 0;
  let durable = 0;
  let unwrappedCloseError = false;
  for (const operation of operations) {
    try {
      operation.run(cartridge);
    } catch (error) {
      if (operation.kind === 'close' && !(error instanceof CartridgeError)) {
        // docs/API.md (close): "The storage's own error, unwrapped, if releasing the file
        // handle fails." A dead machine fails the release too, and that error replaces
        // whatever typed error the final flush threw.
        expect((error as { code?: unknown }).code).toBe(CRASHED_ERROR_CODE);
        unwrappedCloseError = true;
        break;
      }
      // Everything else surfaces as an I/O error naming the crash, or as the poisoned writer
      // a failed cleanup left behind; never as anything untyped.
      const typed = expectCartridgeError(error, ['IO_ERROR', 'POISONED']);
      if (typed.code === 'IO_ERROR') expect(typed.systemCode).toBe(CRASHED_ERROR_CODE);
      break;
    }
    acknowledged++;
    if (isAcknowledgedDurable(operation, durability)) durable = acknowledged;
  }
  return { acknowledged, durable, unwrappedCloseError };
}

/** Reopens after a crash and checks the state is an allowed prefix; returns that prefix. */
function checkRecovered(
  storage: FaultStorage,
  durability: Durability,
  options: RunOptions,
  run: CrashRun,
  models: readonly string[],
  where: string,
): number {
  const cartridge = open(storage, durability, options);
  let prefix: number;
  try {
    const state = describeCartridge(cartridge);
    // Any prefix from the last durable acknowledgement up to the operation that was running.
    const allowed: number[] = [];
    for (let index = run.durable; index <= Math.min(models.length - 1, run.acknowledged + 1); index++) allowed.push(index);
    const matching = allowed.filter((index) => models[index] === state);
    expect(matching.length, `${where}: state after recovery is no allowed prefix (${allowed.join(',')}); recovery ${JSON.stringify(cartridge.recovery)}`)
      .toBeGreaterThan(0);
    prefix = matching[matching.length - 1] as number;
    expect(cartridge.verify().ok, where).toBe(true);
    // The recovered cartridge takes new writes, and they survive a reopen.
    cartridge.createFile('/after-crash', where);
  } finally {
    cartridge.close();
  }
  const reopened = open(storage, durability, options);
  try {
    expect(reopened.recovery.decision, where).toBe('accept');
    expect(reopened.readFile('/after-crash').toString()).toBe(where);
    expect(reopened.verify().ok, where).toBe(true);
  } finally {
    reopened.close();
  }
  return prefix;
}

/** Crashes the workload at every I/O operation in turn, recovering each time; returns a log line. */
function crashEverywhere(durability: Durability, mode: CrashMode, options: RunOptions): string {
  const started = performance.now();
  const { total } = measure(durability, options);
  const models = modelsOf(workload(durability));
  const prefixes = new Map<number, number>();
  let states = 0;
  let unwrappedCloseErrors = 0;
  // budget = total lets the whole workload finish before the crash.
  for (let budget = 0; budget <= total; budget++) {
    const storage = new FaultStorage(budget + 1);
    const run = runUntilCrash(storage, durability, budget, options);
    if (run.unwrappedCloseError) unwrappedCloseErrors++;
    storage.crash(modeForPoint(mode, budget));
    const where = `${durability} ${describeMode(modeForPoint(mode, budget))} crash after ${budget} I/O`;
    const prefix = checkRecovered(storage, durability, options, run, models, where);
    prefixes.set(prefix, (prefixes.get(prefix) ?? 0) + 1);
    states++;
  }
  expect(states).toBe(total + 1);
  return (
    `${states} crash states over ${total} I/O operations in ${Math.round(performance.now() - started)} ms; ` +
    `recovered prefixes (ops: count) ${JSON.stringify(Object.fromEntries(prefixes))}; ` +
    `close() threw the unwrapped storage error ${unwrappedCloseErrors} times`
  );
}

describe.each(['full', 'normal', 'off'] as const)('crash at every I/O operation, durability %s', (durability) => {
  it.each(CRASH_MODES.map((mode) => [describeMode(mode), mode] as const))('crash mode %s', (_name, mode) => {
    console.log(`crash ${durability} ${describeMode(mode)}: ${crashEverywhere(durability, mode, {})}`);
  });
});

describe.each(['full', 'normal'] as const)('crash at every I/O operation with automatic checkpoints, durability %s', (durability) => {
  // A 4 KiB interval makes commits trigger checkpoints on their own, whose failures are kept in
  // lastBackgroundError instead of failing the commit that triggered them.
  const modes: readonly CrashMode[] = [
    { kind: 'drop-unsynced' },
    { kind: 'keep-subset', seed: 0 },
    { kind: 'keep-subset', seed: 7 },
    { kind: 'tear-last', sectorBytes: 512, seed: 0 },
    { kind: 'size-before-content', seed: 7 },
  ];
  it.each(modes.map((mode) => [describeMode(mode), mode] as const))('crash mode %s', (_name, mode) => {
    const line = crashEverywhere(durability, mode, { checkpointIntervalBytes: 4096 });
    console.log(`crash ${durability} ${describeMode(mode)} with automatic checkpoints: ${line}`);
  });
});

describe.each(['full', 'normal'] as const)('crash at every I/O operation, encrypted, durability %s', (durability) => {
  // Sealing adds bytes to every record and is done at commit time: crashes anywhere must still
  // give a prefix of the operations, and a torn sealed tail must be cut, never refused.
  const runs: readonly [CrashMode, CipherName][] = [
    [{ kind: 'drop-unsynced' }, 'aes-256-gcm'],
    [{ kind: 'keep-subset', seed: 7 }, 'chacha20-poly1305'],
    [{ kind: 'tear-last', sectorBytes: 512, seed: 7 }, 'aes-256-gcm'],
    [{ kind: 'size-before-content', seed: 7 }, 'chacha20-poly1305'],
  ];
  it.each(runs.map(([mode, cipher]) => [describeMode(mode), cipher, mode] as const))(
    'crash mode %s, %s',
    (_name, cipher, mode) => {
      const line = crashEverywhere(durability, mode, {
        encryptionKey: RUN_KEY,
        cipher,
        checkpointIntervalBytes: 4096,
      });
      console.log(`crash ${durability} ${describeMode(mode)} encrypted (${cipher}): ${line}`);
    },
  );
});

describe('crash during create', () => {
  it('leaves no cartridge, a file that is refused with a typed error, or an empty cartridge that works', () => {
    const started = performance.now();
    const probe = new FaultStorage(0);
    const measured = create(probe, 'full');
    const createOperations = probe.operationCount();
    measured.close();
    const outcomes: Record<string, number> = {};
    const count = (outcome: string): void => {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    };
    const modes: CrashMode[] = [
      { kind: 'drop-unsynced' },
      { kind: 'keep-prefix', count: 1_000, keepUnsyncedEntries: true },
      { kind: 'keep-subset', seed: 0, keepUnsyncedEntries: true },
      { kind: 'tear-last', sectorBytes: 512, seed: 7, keepUnsyncedEntries: true },
    ];
    const untypedCreateErrors: string[] = [];
    for (const mode of modes) {
      for (let budget = 0; budget < createOperations; budget++) {
        const storage = new FaultStorage(budget);
        storage.crashAfter(budget);
        let createError: unknown;
        try {
          create(storage, 'full');
        } catch (error) {
          createError = error;
        }
        // The machine died inside create, so create must have failed, with a typed error.
        // (Collected rather than asserted at once, so the recovery checks below still run.)
        expect(createError, `create with budget ${budget}`).toBeDefined();
        if (!(createError instanceof CartridgeError)) {
          untypedCreateErrors.push(`budget ${budget}: ${String((createError as { code?: unknown }).code)}`);
        }
        storage.crash(modeForPoint(mode, budget));
        let cartridge: Cartridge;
        try {
          cartridge = open(storage, 'full');
        } catch (error) {
          count(expectCartridgeError(error, ['ENOENT', 'NOT_A_CARTRIDGE']).code);
          continue;
        }
        try {
          expect(describeCartridge(cartridge)).toBe(describeModel(new ModelBuilder().snapshot()));
          cartridge.createFile('/first', 'works');
          expect(cartridge.verify().ok).toBe(true);
          count('empty cartridge');
        } finally {
          cartridge.close();
        }
      }
    }
    console.log(
      `crash during create: ${modes.length * createOperations} crash states over ${createOperations} I/O operations in ` +
        `${Math.round(performance.now() - started)} ms`,
      outcomes,
      `untyped create errors: ${untypedCreateErrors.length}`,
    );
    // createJournal's cleanup (file.close() in its catch) throws the storage's own error when
    // the machine is dead, which replaces the typed IO_ERROR create was about to throw.
    expect([...new Set(untypedCreateErrors)]).toEqual([]);
  });
});

// ---- failed writes -----------------------------------------------------------------------------

/**
 * The file ends at the journal's end; in 'full' zeros may follow it, reserved by the writer
 * (journal-reservation.ts), which a failed header write does not cut.
 */
function expectJournalEnd(bytes: Buffer, head: number, durability: string, where: string): void {
  if (durability !== 'full') {
    expect(bytes.length, where).toBe(head);
    return;
  }
  expect(bytes.length, where).toBeGreaterThanOrEqual(head);
  expect(bytes.subarray(head).every((byte) => byte === 0), where).toBe(true);
}

describe.each(['full', 'normal'] as const)('a failed write, durability %s', (durability) => {
  const cases: [InjectedErrorCode, boolean][] = [['EIO', false], ['ENOSPC', false], ['EIO', true], ['ENOSPC', true]];
  it.each(cases)('the k-th write fails with %s (partial %s): nothing changes, the next operation works', (errorCode, partial) => {
    const started = performance.now();
    const { writes } = measure(durability);
    const expectedCode = errorCode === 'ENOSPC' ? 'ENOSPC' : 'IO_ERROR';
    const failedNames: string[] = [];
    let absorbed = 0;
    for (let nth = 1; nth <= writes; nth++) {
      const where = `${durability} write ${nth} of ${writes} fails with ${errorCode}${partial ? ' (partial)' : ''}`;
      const storage = new FaultStorage(nth);
      const cartridge = create(storage, durability);
      storage.failOn({ operation: 'write', nth, errorCode, partial });
      const model = new ModelBuilder();
      const operations = workload(durability);
      let failed: string | undefined;
      let lastHead = cartridge.head;
      for (let index = 0; index < operations.length; index++) {
        const operation = operations[index] as Operation;
        try {
          operation.run(cartridge);
        } catch (error) {
          const typed = expectCartridgeError(error, [expectedCode]);
          expect(typed.systemCode).toBe(errorCode);
          // Only one write fails, so only one operation may.
          expect(failed, where).toBeUndefined();
          failed = operation.name;
          // A failed close has released the cartridge anyway; the reopen below checks it.
          if (operation.kind === 'close') break;
          // The failed operation left the visible state as it was, and no partial commit in
          // the file: the writer cut it back to the committed end ...
          expect(describeCartridge(cartridge), where).toBe(describeModel(model.snapshot()));
          expectJournalEnd(storage.snapshot(PATH), cartridge.head, durability, where);
          // ... the next operation works ...
          cartridge.createFile('/after-failure', 'next operation');
          model.file('/after-failure', Buffer.from('next operation'));
          // ... and so does the failed one, tried again (later operations depend on it).
          index--;
          continue;
        }
        operation.apply(model);
        if (operation.kind !== 'close') {
          expect(describeCartridge(cartridge), where).toBe(describeModel(model.snapshot()));
          lastHead = cartridge.head;
        }
      }
      if (failed === undefined) {
        // In 'full' the writer also writes zeros ahead of the journal (journal-reservation.ts);
        // a failed one fails no operation: the writer cuts it back and reserves no more.
        expect(durability, where).toBe('full');
        expect(storage.snapshot(PATH).length, where).toBe(lastHead);
        absorbed++;
      }
      failedNames.push(failed ?? 'a reservation');
      const reopened = open(storage, durability);
      try {
        expect(describeCartridge(reopened), where).toBe(describeModel(model.snapshot()));
        expect(reopened.verify().ok, where).toBe(true);
      } finally {
        reopened.close();
      }
    }
    // Reservations are rare (one per MiB or more of journal): most failed writes are commits'.
    expect(absorbed).toBeLessThanOrEqual(2);
    console.log(
      `failed write ${durability} ${errorCode}${partial ? ' partial' : ''}: ${writes} cases in ` +
        `${Math.round(performance.now() - started)} ms; failing operations: ${failedNames.join(', ')}`,
    );
  });
});

// ---- failed syncs ------------------------------------------------------------------------------

type SyncKind = 'journal' | 'header';

/**
 * Wraps a storage to label each fsync: 'header' when a header slot was written since the last
 * fsync (the header keeper's sync), 'journal' otherwise (the journal writer's sync).
 */
class SyncTracer implements Storage {
  readonly syncs: SyncKind[] = [];

  constructor(private readonly inner: Storage) {}

  open(path: string, options: OpenFileOptions): StorageFile {
    const file = this.inner.open(path, options);
    let headerWritten = false;
    return {
      writeInPlace: () => file.writeInPlace?.() === true,
      sizeBytes: () => file.sizeBytes(),
      read: (target, targetOffset, length, position) => file.read(target, targetOffset, length, position),
      write: (buffers, position) => {
        if (position < JOURNAL_START_OFFSET) headerWritten = true;
        file.write(buffers, position);
      },
      truncate: (sizeBytes) => file.truncate(sizeBytes),
      sync: () => {
        this.syncs.push(headerWritten ? 'header' : 'journal');
        headerWritten = false;
        file.sync();
      },
      close: () => file.close(),
      identity: () => file.identity(),
      tryLock: () => file.tryLock(),
      lockHolder: () => file.lockHolder(),
    };
  }

  exists(path: string): boolean {
    return this.inner.exists(path);
  }

  syncDirectory(directoryPath: string): void {
    this.inner.syncDirectory(directoryPath);
  }

  statPath(path: string): PathStatus | undefined {
    return this.inner.statPath(path);
  }

  remove(path: string): void {
    this.inner.remove(path);
  }

  rename(fromPath: string, toPath: string): void {
    this.inner.rename(fromPath, toPath);
  }
}

/** The kind of each fsync the 'full' workload performs after create, in order. */
function syncKinds(): SyncKind[] {
  const tracer = new SyncTracer(new FaultStorage(0));
  const cartridge = Cartridge.create(PATH, { storage: tracer, durability: 'full' });
  const before = tracer.syncs.length;
  for (const operation of workload('full')) operation.run(cartridge);
  return tracer.syncs.slice(before);
}

interface SyncFailure {
  readonly failedOperation: string;
  /** The code of a write tried after the failure, or 'accepted' when it went through. */
  readonly nextWrite: string;
}

/**
 * Fails the nth fsync of the 'full' workload and checks what must hold whatever the sync was
 * for: the operation throws IO_ERROR, the failed commit is not visible, and a reopen keeps
 * every acknowledged commit. Returns what a write after the failure did.
 */
function failSync(nth: number, total: number): SyncFailure {
  const durability: Durability = 'full';
  const models = modelsOf(workload(durability));
  const where = `sync ${nth} of ${total} fails`;
  const storage = new FaultStorage(nth);
  const cartridge = create(storage, durability);
  storage.failOn({ operation: 'sync', nth, errorCode: 'EIO' });
  let acknowledged = 0;
  let failed: Operation | undefined;
  for (const operation of workload(durability)) {
    try {
      operation.run(cartridge);
    } catch (error) {
      const typed = expectCartridgeError(error, ['IO_ERROR']);
      expect(typed.systemCode).toBe('EIO');
      failed = operation;
      break;
    }
    acknowledged++;
  }
  expect(failed, where).toBeDefined();
  const failedOperation = failed as Operation;
  let nextWrite = 'closed';
  if (failedOperation.kind !== 'close') {
    // The failed commit is not visible, and reads still work.
    expect(describeCartridge(cartridge), where).toBe(models[acknowledged]);
    try {
      cartridge.createFile('/after-failed-sync', 'x');
      nextWrite = 'accepted';
    } catch (error) {
      nextWrite = expectCartridgeError(error, ['POISONED']).code;
    }
    // Close on a poisoned cartridge releases it and says the last commits may not be durable.
    let closeOutcome = 'closed';
    try {
      cartridge.close();
    } catch (error) {
      closeOutcome = expectCartridgeError(error, ['POISONED']).code;
    }
    expect(closeOutcome, where).toBe(cartridge.poisoned ? 'POISONED' : 'closed');
  }
  const reopened = open(storage, durability);
  try {
    // Every acknowledged commit; the failed one may or may not have reached the disk. A write
    // accepted after the failure (see the header test) must be there too.
    const operations = workload(durability);
    const allowed = [acknowledged, Math.min(acknowledged + 1, operations.length)].map((count) =>
      modelAfter(operations, count, (model) => {
        if (nextWrite === 'accepted') model.file('/after-failed-sync', Buffer.from('x'));
      }),
    );
    expect(allowed, where).toContain(describeCartridge(reopened));
    expect(reopened.verify().ok, where).toBe(true);
    reopened.createFile('/after-reopen', 'works');
  } finally {
    reopened.close();
  }
  return { failedOperation: failedOperation.name, nextWrite };
}

describe('a failed fsync, durability full', () => {
  const kinds = syncKinds();
  const journalSyncs = kinds.flatMap((kind, index) => (kind === 'journal' ? [index + 1] : []));
  const headerSyncs = kinds.flatMap((kind, index) => (kind === 'header' ? [index + 1] : []));

  it('the workload has both kinds of fsync', () => {
    expect(journalSyncs.length).toBeGreaterThan(5);
    expect(headerSyncs.length).toBeGreaterThan(0);
    expect(measure('full').syncs).toBe(kinds.length);
  });

  it('a failed journal fsync: the operation throws, the writer is poisoned, a reopen keeps every acknowledged commit', () => {
    const started = performance.now();
    const outcomes = journalSyncs.map((nth) => ({ nth, ...failSync(nth, kinds.length) }));
    const notPoisoned = outcomes.filter((outcome) => outcome.failedOperation !== 'close' && outcome.nextWrite !== 'POISONED');
    expect(notPoisoned).toEqual([]);
    console.log(
      `failed journal fsync: ${outcomes.length} cases in ${Math.round(performance.now() - started)} ms; ` +
        outcomes.map((outcome) => `#${outcome.nth} ${outcome.failedOperation} -> ${outcome.nextWrite}`).join(', '),
    );
  });

  it('a failed header fsync poisons the cartridge too (docs/API.md: "If an fsync fails, the cartridge is poisoned")', () => {
    const started = performance.now();
    const outcomes = headerSyncs.map((nth) => ({ nth, ...failSync(nth, kinds.length) }));
    console.log(
      `failed header fsync: ${outcomes.length} cases in ${Math.round(performance.now() - started)} ms; ` +
        outcomes.map((outcome) => `#${outcome.nth} ${outcome.failedOperation} -> ${outcome.nextWrite}`).join(', '),
    );
    // The header keeper syncs the file itself (HeaderKeeper.update), outside JournalWriter.sync,
    // so its failure does not poison the writer and later writes are accepted.
    const notPoisoned = outcomes.filter((outcome) => outcome.failedOperation !== 'close' && outcome.nextWrite !== 'POISONED');
    expect(notPoisoned.map((outcome) => `sync ${outcome.nth} in ${outcome.failedOperation}: next write ${outcome.nextWrite}`)).toEqual([]);
  });
});
