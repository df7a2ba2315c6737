import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge, type CartridgeOptions } from '../../src/index.js';
import { type Checksum, collectGarbage, type Deadline } from '../measure.js';
import { auditLine, OnceCache, scratchDirectory } from '../support.js';

/**
 * The call-centre audit log, shared by the log figures: ~120-byte JSON lines (`auditLine`)
 * appended to one file of a cartridge, either `perTransaction` lines per transaction or one
 * line per commit (`perTransaction: 1`, no transaction opened).
 */

export const LOG_PATH = '/audit/calls.log';

/**
 * The durability of every log workload: the default, matched on the SQLite side by WAL with
 * `synchronous=NORMAL`.
 */
export const LOG_DURABILITY = 'normal';

export interface LogSettings {
  readonly appendCount: number;
  /** Lines per transaction; 1 means each append is its own commit. */
  readonly perTransaction: number;
}

/** Creates the (empty) log file in a new cartridge. */
export function createLog(path: string, options: CartridgeOptions = {}): Cartridge {
  const cartridge = Cartridge.create(path, { durability: LOG_DURABILITY, ...options });
  cartridge.createFile(LOG_PATH, '');
  return cartridge;
}

/** Called after each commit of `appendLines` with the lines and text bytes it committed. */
export type AfterCommit = (lines: number, textBytes: number) => void;

/**
 * Appends lines `first` to `end - 1` (in transactions of `perTransaction` when above 1) and
 * returns the bytes of text appended. `afterCommit` may throw to stop between commits.
 */
export function appendLines(
  cartridge: Cartridge,
  first: number,
  end: number,
  perTransaction: number,
  afterCommit?: AfterCommit,
): number {
  let textBytes = 0;
  for (let start = first; start < end; start += perTransaction) {
    const stop = Math.min(end, start + perTransaction);
    let commitBytes = 0;
    const appendRange = () => {
      for (let index = start; index < stop; index++) {
        const line = auditLine(index);
        cartridge.appendFile(LOG_PATH, line);
        commitBytes += line.length;
      }
    };
    if (perTransaction === 1) appendRange();
    else cartridge.transaction(appendRange);
    textBytes += commitBytes;
    afterCommit?.(stop - start, commitBytes);
  }
  return textBytes;
}

/** The text of lines `0` to `count - 1`, as the log file should hold it. */
export function logText(count: number): Buffer {
  const lines: string[] = [];
  for (let index = 0; index < count; index++) lines.push(auditLine(index));
  return Buffer.from(lines.join(''));
}

/** Chunks a phase is timed in: the first and last tenth of the appends are 10 chunks each. */
export const LOG_CHUNKS = 100;

export interface LogPhase {
  readonly settings: LogSettings;
  readonly completedAppends: number;
  readonly textBytes: number;
  /** Appends per chunk: `appendCount / LOG_CHUNKS`, rounded up to whole transactions. */
  readonly chunkAppends: number;
  /** Wall time of each completed chunk, in run order. */
  readonly chunkNs: readonly number[];
  /** The first error of the appends (thrown, or an automatic checkpoint that failed), if any. */
  readonly appendError: unknown;
  readonly closeMs: number;
  readonly closeError: unknown;
  readonly reopenMs: number;
  readonly reopenError: unknown;
  /** The cartridge file's size after close. */
  readonly fileBytes: number;
}

/**
 * Appends made in a throwaway cartridge before a phase is timed, so that the first tenth is
 * not timing the JIT compiling the append path (that would flatter the growth figure).
 */
const WARMUP_APPENDS = 2000;

function warmUp(directory: string, perTransaction: number, checksum: Checksum): void {
  const path = join(directory, 'warm-up.cart');
  const cartridge = createLog(path);
  try {
    appendLines(cartridge, 0, WARMUP_APPENDS, perTransaction);
    checksum.add(cartridge.head);
  } finally {
    cartridge.close();
    rmSync(path);
  }
}

function writePhase(settings: LogSettings, deadline: Deadline, checksum: Checksum): LogPhase {
  const scratch = scratchDirectory('audit-log');
  try {
    warmUp(scratch.path, settings.perTransaction, checksum);
    collectGarbage();
    const path = join(scratch.path, 'audit.cart');
    const cartridge = createLog(path);
    const chunkAppends = Math.max(
      settings.perTransaction,
      Math.ceil(settings.appendCount / LOG_CHUNKS),
    );
    const chunkNs: number[] = [];
    let completedAppends = 0;
    let textBytes = 0;
    let appendError: unknown;
    // Checked after every commit: once today's engine fails an automatic checkpoint, it retries
    // it after every commit, at seconds each, and a chunk could otherwise run for many minutes.
    const afterCommit: AfterCommit = (lines, bytes) => {
      completedAppends += lines;
      textBytes += bytes;
      // An automatic checkpoint that fails is stored, not thrown: it is still an error here.
      if (cartridge.lastBackgroundError !== undefined) throw cartridge.lastBackgroundError;
      deadline.check();
    };
    try {
      while (completedAppends < settings.appendCount) {
        const end = Math.min(settings.appendCount, completedAppends + chunkAppends);
        const start = process.hrtime.bigint();
        appendLines(cartridge, completedAppends, end, settings.perTransaction, afterCommit);
        chunkNs.push(Number(process.hrtime.bigint() - start));
        checksum.add(cartridge.head);
      }
    } catch (error) {
      appendError = error;
    }
    let closeError: unknown;
    const closeStart = performance.now();
    try {
      cartridge.close();
    } catch (error) {
      closeError = error;
    }
    const closeMs = performance.now() - closeStart;
    const fileBytes = statSync(path).size;
    // The reopen runs even past the deadline: its cost is bounded by the log written within
    // the budget, and for a log cut short it is the most telling figure.
    let reopenError: unknown;
    let reopenMs = Number.NaN;
    const reopenStart = performance.now();
    try {
      const reopened = Cartridge.open(path);
      reopenMs = performance.now() - reopenStart;
      checksum.add(reopened.metadata(LOG_PATH).sizeBytes);
      reopened.close();
    } catch (error) {
      reopenError = error;
    }
    return {
      settings,
      completedAppends,
      textBytes,
      chunkAppends,
      chunkNs,
      appendError,
      closeMs,
      closeError,
      reopenMs,
      reopenError,
      fileBytes,
    };
  } finally {
    scratch.remove();
  }
}

const phases = new OnceCache<LogPhase>();

/**
 * Writes the log of `settings` in a fresh cartridge, closes it (timed), reopens it (timed) and
 * deletes it, keeping only the figures; done once per process for the same settings, so that
 * the audit-log and disk-bytes figures share one run of the appends.
 */
export function logPhase(settings: LogSettings, deadline: Deadline, checksum: Checksum): LogPhase {
  return phases.get(JSON.stringify(settings), () => writePhase(settings, deadline, checksum));
}

/**
 * The two audit-log phases of each size: the 2 000 000 batched appends and 200 000
 * single commits (large), a tenth of that (medium), a hundredth (small).
 */
export const AUDIT_LOG_SIZES = {
  small: {
    batched: { appendCount: 20_000, perTransaction: 100 },
    single: { appendCount: 2_000, perTransaction: 1 },
  },
  medium: {
    batched: { appendCount: 200_000, perTransaction: 100 },
    single: { appendCount: 20_000, perTransaction: 1 },
  },
  large: {
    batched: { appendCount: 2_000_000, perTransaction: 100 },
    single: { appendCount: 200_000, perTransaction: 1 },
  },
} as const satisfies Record<string, Record<'batched' | 'single', LogSettings>>;

/**
 * Each phase gets its own deadline of this length, so that a stuck batched phase leaves time
 * for the single one.
 */
export const AUDIT_LOG_PHASE_BUDGET_MS = {
  small: 30_000,
  medium: 600_000,
  large: 900_000,
} as const;
