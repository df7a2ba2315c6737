import type { CartridgeOptions } from '../../src/index.js';
import { applyToModel, type ModelState, type Operation } from './model.js';

/**
 * Workloads for the crash and fault campaigns: short operation lists that between them touch
 * every kind of record and every write path (data records, transactions, checkpoints, growth
 * of the journal past capacity refusals). Later features add a workload here in a few lines.
 */

export interface Workload {
  readonly name: string;
  readonly options: CartridgeOptions;
  readonly operations: readonly Operation[];
  /**
   * False for a workload too large for the I/O-fault loops, which replay it once per fault
   * and per occurrence of each kind of operation against a model they copy at every step.
   */
  readonly inFaultLoops?: boolean;
}

/**
 * The options a reopen of a workload's cartridge must repeat: the keys of an encrypted one
 * (everything else is the reopen's own choice).
 */
export function reopenOptionsOf(workload: Workload): CartridgeOptions {
  const { encryptionKey, keyring } = workload.options;
  return encryptionKey === undefined ? {} : { encryptionKey, ...(keyring === undefined ? {} : { keyring }) };
}

/** The key of the encrypted workload (fixed, so that a failing point replays). */
const WORKLOAD_KEY = Buffer.from('6b6579206f6620746865207365616c656420776f726b6c6f616420666f722021', 'hex');

function bytes(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  let state = seed * 2654435761 + 1;
  for (let index = 0; index < length; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    // Half the bytes repeat, so compression has something to do on most records.
    buffer[index] = index % 2 === 0 ? state >>> 24 : 0x61;
  }
  return buffer;
}

const fileOperations: readonly Operation[] = [
  { kind: 'create', path: '/a.txt', bytes: Buffer.from('alpha') },
  { kind: 'mkdir', path: '/docs/guides' },
  { kind: 'create', path: '/docs/guides/one.md', bytes: bytes(3000, 1) },
  { kind: 'append', path: '/a.txt', bytes: Buffer.from(' and more') },
  { kind: 'write', path: '/docs/guides/one.md', bytes: bytes(700, 2) },
  { kind: 'create', path: '/calls/2026/11/call-1.json', bytes: Buffer.from('{"agent":"ada"}') },
  { kind: 'delete', path: '/a.txt' },
  { kind: 'create', path: '/a.txt', bytes: Buffer.alloc(0) },
  { kind: 'append', path: '/a.txt', bytes: bytes(5000, 3) },
  { kind: 'delete', path: '/calls/2026/11/call-1.json' },
  { kind: 'delete', path: '/calls/2026/11' },
];

const transactions: readonly Operation[] = [
  { kind: 'create', path: '/base.txt', bytes: Buffer.from('base') },
  {
    kind: 'transaction',
    operations: [
      { kind: 'create', path: '/batch/one', bytes: bytes(100, 4) },
      { kind: 'create', path: '/batch/two', bytes: bytes(9000, 5) },
      { kind: 'append', path: '/base.txt', bytes: Buffer.from('+1') },
    ],
  },
  {
    kind: 'transaction',
    abort: true,
    operations: [
      { kind: 'delete', path: '/base.txt' },
      { kind: 'create', path: '/never', bytes: Buffer.from('x') },
    ],
  },
  {
    kind: 'transaction',
    operations: [
      { kind: 'write', path: '/batch/one', bytes: bytes(50, 6) },
      { kind: 'delete', path: '/batch/two' },
    ],
  },
];

const checkpoints: readonly Operation[] = [
  { kind: 'create', path: '/c/1', bytes: bytes(2000, 7) },
  { kind: 'checkpoint' },
  { kind: 'create', path: '/c/2', bytes: bytes(2000, 8) },
  { kind: 'write', path: '/c/1', bytes: bytes(300, 9) },
  { kind: 'checkpoint' },
  { kind: 'delete', path: '/c/2' },
];

/** A file larger than one data record (1 MiB), so one commit spans several records. */
const largeFile: readonly Operation[] = [
  { kind: 'create', path: '/large.bin', bytes: bytes(1024 * 1024 + 4096, 10) },
  { kind: 'append', path: '/large.bin', bytes: bytes(100, 11) },
];

/** Content near a small capacity; the last create is refused with ENOSPC by the engine. */
const nearCapacity: readonly Operation[] = [
  { kind: 'create', path: '/fill-1', bytes: bytes(8000, 12) },
  { kind: 'create', path: '/fill-2', bytes: bytes(4000, 13) },
  { kind: 'delete', path: '/fill-1' },
  { kind: 'create', path: '/fill-3', bytes: bytes(8192, 14) },
  {
    kind: 'refused',
    code: 'ENOSPC',
    operation: { kind: 'create', path: '/fill-4', bytes: bytes(8192, 19) },
  },
  {
    kind: 'refused',
    code: 'ENOSPC',
    operation: { kind: 'append', path: '/fill-2', bytes: bytes(8192, 20) },
  },
  { kind: 'append', path: '/fill-2', bytes: bytes(96, 21) },
];

const normalWithFlushes: readonly Operation[] = [
  { kind: 'create', path: '/n/1', bytes: bytes(500, 15) },
  { kind: 'create', path: '/n/2', bytes: bytes(500, 16) },
  { kind: 'flush' },
  { kind: 'append', path: '/n/1', bytes: bytes(500, 17) },
  { kind: 'checkpoint' },
  { kind: 'delete', path: '/n/2' },
  { kind: 'flush' },
  { kind: 'write', path: '/n/1', bytes: bytes(10, 18) },
];

/**
 * Enough files for a catalog index of two levels (a dozen leaves under a branch), changed
 * between checkpoints. Trickled pages need more dirty pages than a crash loop can afford to
 * compare at every point; the index property tests cover those.
 */
const indexPages: readonly Operation[] = [
  {
    kind: 'transaction',
    operations: Array.from({ length: 600 }, (_, index) => ({
      kind: 'create' as const,
      path: `/calls/agent-${index % 13}/call-${index.toString().padStart(5, '0')}.json`,
      bytes: Buffer.from(`{"call":${index}}`),
    })),
  },
  { kind: 'create', path: '/calls/agent-1/late.json', bytes: bytes(200, 22) },
  { kind: 'delete', path: '/calls/agent-2/call-00002.json' },
  { kind: 'write', path: '/calls/agent-3/call-00003.json', bytes: bytes(900, 23) },
  { kind: 'checkpoint' },
  { kind: 'delete', path: '/calls/agent-1/late.json' },
  { kind: 'append', path: '/calls/agent-4/call-00004.json', bytes: Buffer.from(' // reviewed') },
];

/**
 * A log appended to until its run of small extents is consolidated (past 256 KiB): the
 * consolidation record rides in the commit of the append that made it due.
 */
const consolidation: readonly Operation[] = [
  { kind: 'create', path: '/audit.log', bytes: Buffer.from('opened\n') },
  ...Array.from({ length: 5 }, (_, index) => ({
    kind: 'append' as const,
    path: '/audit.log',
    bytes: bytes(60_000, 30 + index),
  })),
  {
    kind: 'transaction',
    operations: [
      { kind: 'append', path: '/audit.log', bytes: Buffer.from('batched one\n') },
      { kind: 'append', path: '/audit.log', bytes: Buffer.from('batched two\n') },
    ],
  },
];

const quick = { syncIntervalMs: 3_600_000 };

/**
 * Time travel under crashes: a snapshot, changes of every kind (a file rewritten, one deleted,
 * a directory turned into a file), then a restore, whose records (deletions, entries set back,
 * a file of several extents) all ride in one commit: a crash anywhere leaves the head before
 * the restore or after all of it.
 */
const beforeSnapshot: readonly Operation[] = [
  { kind: 'create', path: '/keep.txt', bytes: Buffer.from('kept') },
  { kind: 'create', path: '/docs/a.md', bytes: bytes(3000, 40) },
  { kind: 'create', path: '/log.txt', bytes: Buffer.from('start\n') },
  ...Array.from({ length: 6 }, (_, index) => ({
    kind: 'append' as const,
    path: '/log.txt',
    bytes: bytes(200, 41 + index),
  })),
  { kind: 'mkdir', path: '/shape' },
];
const snapshotState: ModelState = beforeSnapshot.reduce(applyToModel, new Map() as ModelState);
const snapshotRestore: readonly Operation[] = [
  ...beforeSnapshot,
  { kind: 'snapshot', name: 'before' },
  { kind: 'write', path: '/docs/a.md', bytes: bytes(100, 50) },
  { kind: 'delete', path: '/keep.txt' },
  { kind: 'append', path: '/log.txt', bytes: bytes(300, 51) },
  { kind: 'delete', path: '/shape' },
  { kind: 'create', path: '/shape', bytes: Buffer.from('now a file') },
  { kind: 'create', path: '/new/deep/file.bin', bytes: bytes(5000, 52) },
  { kind: 'checkpoint' },
  { kind: 'restore', name: 'before', state: snapshotState },
  { kind: 'append', path: '/log.txt', bytes: Buffer.from('after the restore\n') },
];

/**
 * The audit lane and the policy record under crashes: with auditing on, every commit carries
 * an `audit.batch` record after its changes (an aborted transaction's attempts ride in the
 * next one), and a `policy.set` record changes the rules mid-run.
 */
const audited: readonly Operation[] = [
  { kind: 'create', path: '/calls/1.json', bytes: Buffer.from('{"agent":"ada"}') },
  { kind: 'policy', policy: { Statement: [{ Effect: 'Allow', Action: '*', Resource: '/**' }] } },
  { kind: 'append', path: '/calls/1.json', bytes: Buffer.from(' // reviewed') },
  {
    kind: 'transaction',
    abort: true,
    operations: [{ kind: 'create', path: '/calls/never', bytes: Buffer.from('x') }],
  },
  { kind: 'write', path: '/calls/1.json', bytes: bytes(2000, 60) },
  { kind: 'checkpoint' },
  { kind: 'delete', path: '/calls/1.json' },
];

/**
 * Signed heads under crashes: each signature is a `head.signed` record committed on its own
 * (with the checkpoint it may bring), between ordinary commits, with a checkpoint in between.
 */
const signedHeads: readonly Operation[] = [
  { kind: 'create', path: '/calls/1.json', bytes: Buffer.from('{"agent":"ada"}') },
  { kind: 'sign' },
  { kind: 'append', path: '/calls/1.json', bytes: bytes(700, 70) },
  { kind: 'checkpoint' },
  { kind: 'sign' },
  { kind: 'create', path: '/calls/2.json', bytes: bytes(1500, 71) },
  { kind: 'sign' },
];

/**
 * Moves (`path.moved` records): a file, a directory with a subtree whose files live in extent
 * keys and data records, a move inside a transaction next to writes, one aborted, one refused,
 * a checkpoint between, and a restore that undoes a move (the moved inodes come back).
 */
const renameSnapshotState: ModelState = [
  { kind: 'create', path: '/r/a.txt', bytes: Buffer.from('a') },
  { kind: 'create', path: '/r/tree/big.bin', bytes: bytes(1024 * 1024 + 300, 70) },
  { kind: 'create', path: '/r/tree/sub/small', bytes: bytes(900, 71) },
].reduce<ModelState>((state, operation) => applyToModel(state, operation as Operation), new Map());
const renames: readonly Operation[] = [
  { kind: 'create', path: '/r/a.txt', bytes: Buffer.from('a') },
  { kind: 'create', path: '/r/tree/big.bin', bytes: bytes(1024 * 1024 + 300, 70) },
  { kind: 'create', path: '/r/tree/sub/small', bytes: bytes(900, 71) },
  { kind: 'snapshot', name: 'unmoved' },
  { kind: 'rename', path: '/r/a.txt', to: '/r/b.txt' },
  { kind: 'mkdir', path: '/s' },
  { kind: 'rename', path: '/r/tree', to: '/s/tree' },
  { kind: 'checkpoint' },
  {
    kind: 'transaction',
    operations: [
      { kind: 'append', path: '/s/tree/sub/small', bytes: bytes(50, 72) },
      { kind: 'rename', path: '/s/tree/sub', to: '/r/sub' },
      { kind: 'write', path: '/r/sub/small', bytes: bytes(60, 73) },
    ],
  },
  {
    kind: 'transaction',
    abort: true,
    operations: [{ kind: 'rename', path: '/s', to: '/never' }],
  },
  { kind: 'refused', code: 'EEXIST', operation: { kind: 'rename', path: '/r', to: '/s' } },
  { kind: 'restore', name: 'unmoved', state: renameSnapshotState },
  { kind: 'rename', path: '/r/tree', to: '/moved-again' },
];

/**
 * Compaction mid-run: the file is rewritten into a new one and renamed over the old, twice,
 * with a snapshot pinning history the second time; the writes after each go to the new file.
 */
const compaction: readonly Operation[] = [
  ...fileOperations,
  { kind: 'compact' },
  { kind: 'snapshot', name: 'pinned' },
  { kind: 'write', path: '/docs/guides/one.md', bytes: bytes(900, 70) },
  { kind: 'append', path: '/a.txt', bytes: bytes(400, 71) },
  { kind: 'compact' },
  { kind: 'create', path: '/after.txt', bytes: Buffer.from('written to the compacted file') },
];

export const WORKLOADS: readonly Workload[] = [
  {
    name: 'file-operations',
    options: { ...quick, durability: 'full' },
    operations: fileOperations,
  },
  {
    name: 'file-operations-lz4',
    options: { ...quick, durability: 'full', compression: 'lz4' },
    operations: fileOperations,
  },
  { name: 'transactions', options: { ...quick, durability: 'full' }, operations: transactions },
  { name: 'signed-heads', options: { ...quick, durability: 'full' }, operations: signedHeads },
  {
    name: 'checkpoints',
    options: { ...quick, durability: 'full', checkpointIntervalBytes: 4096 },
    operations: checkpoints,
  },
  {
    name: 'large-file',
    options: { ...quick, durability: 'full', compression: 'none' },
    operations: largeFile,
  },
  {
    name: 'near-capacity',
    options: { ...quick, durability: 'full', capacityBlocks: 4 },
    operations: nearCapacity,
  },
  {
    name: 'normal-with-flushes',
    options: { ...quick, durability: 'normal' },
    operations: normalWithFlushes,
  },
  {
    name: 'off-with-flushes',
    options: { ...quick, durability: 'off' },
    operations: normalWithFlushes,
  },
  {
    name: 'index-pages',
    options: { ...quick, durability: 'full' },
    operations: indexPages,
    inFaultLoops: false,
  },
  { name: 'consolidation', options: { ...quick, durability: 'full' }, operations: consolidation },
  {
    name: 'snapshot-restore',
    options: { ...quick, durability: 'full' },
    operations: snapshotRestore,
  },
  { name: 'audited', options: { ...quick, durability: 'full', audit: true }, operations: audited },
  { name: 'renames', options: { ...quick, durability: 'full' }, operations: renames },
  { name: 'compaction', options: { ...quick, durability: 'full' }, operations: compaction },
  {
    // Every record sealed (ChaCha20-Poly1305, 48 bytes more per record): torn sealed tails must
    // be cut like plain ones, and every reopen needs the key.
    name: 'encrypted',
    options: { ...quick, durability: 'full', encryptionKey: WORKLOAD_KEY, cipher: 'chacha20-poly1305' },
    operations: [...fileOperations, { kind: 'checkpoint' }, ...transactions],
  },
];
