import { Cartridge, CartridgeError } from '../../src/index.js';
import { CRASHED_ERROR_CODE, type CrashMode, FaultStorage } from '../support/fault-storage.js';
import type { Figures } from './figures.js';
import { applyToCartridge, isCode, readState } from './model.js';
import { Oracle } from './oracle.js';
import { OrderingCheckStorage } from './ordering-check-storage.js';
import { reopenOptionsOf, type Workload } from './workloads.js';

/**
 * One crash state: run a workload on fault-injecting storage until the machine "dies" after
 * I/O operation k, build the disk a reboot sees under a crash mode, reopen, and judge the result
 * against the oracle. Then write once more and reopen again, so recovery's own writes are
 * exercised too. Every outcome lands in the figures.
 */

export const CARTRIDGE_PATH = '/torture/crash.cart';

/** Whether an error is the simulated machine dying (directly or wrapped by the engine). */
export function isCrash(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && depth < 8; depth++) {
    if (typeof current !== 'object' || current === null) return false;
    const record = current as { code?: unknown; systemCode?: unknown; cause?: unknown };
    if (record.code === CRASHED_ERROR_CODE || record.systemCode === CRASHED_ERROR_CODE) return true;
    current = record.cause;
  }
  return false;
}

export interface CrashPoint {
  readonly workload: Workload;
  /** Crash after this many I/O operations; `undefined` runs the workload to its end. */
  readonly crashAfter: number | undefined;
  readonly mode: CrashMode;
  readonly seed: number;
}

function describe(point: CrashPoint): string {
  return `workload=${point.workload.name} k=${point.crashAfter} mode=${JSON.stringify(point.mode)} seed=${point.seed}`;
}

/** Runs the workload; returns the oracle of what was issued and acknowledged. */
function runUntilCrash(point: CrashPoint, storage: CampaignStorage, figures: Figures): Oracle {
  const oracle = new Oracle();
  const durability = point.workload.options.durability ?? 'normal';
  if (point.crashAfter !== undefined) storage.fault.crashAfter(point.crashAfter);
  try {
    const cartridge = Cartridge.create(CARTRIDGE_PATH, { ...point.workload.options, storage: storage.checked });
    oracle.created();
    for (const operation of point.workload.operations) {
      oracle.issue(operation);
      applyToCartridge(cartridge, operation);
      oracle.acknowledge(operation, durability === 'full');
      if (operation.kind === 'flush') oracle.allDurable();
    }
    cartridge.close();
    if (durability !== 'off') oracle.allDurable();
  } catch (error) {
    if (!isCrash(error)) {
      figures.fail(error instanceof CartridgeError ? 'unexpected_errors' : 'untyped_errors', `${describe(point)}: ${String(error)}`);
    }
  }
  return oracle;
}

interface CampaignStorage {
  readonly fault: FaultStorage;
  readonly checked: OrderingCheckStorage;
}

/** Runs one crash state and records its outcome. */
export function runCrashPoint(point: CrashPoint, figures: Figures): void {
  const fault = new FaultStorage(point.seed);
  const storage = { fault, checked: new OrderingCheckStorage(fault) };
  const oracle = runUntilCrash(point, storage, figures);
  fault.crash(point.mode);
  figures.add('crash_states_tested');
  for (const violation of storage.checked.violations) figures.fail('ordering_violations', `${describe(point)}: ${violation}`);
  let reopened: Cartridge;
  try {
    reopened = Cartridge.open(CARTRIDGE_PATH, { ...reopenOptionsOf(point.workload), storage: fault });
  } catch (error) {
    // Before create returned, the file may never have reached the disk: that is a clean outcome.
    if (!oracle.createAcknowledged && isCode(error, 'ENOENT', 'NOT_A_CARTRIDGE')) {
      figures.add('crash_states_before_create');
      return;
    }
    const gate = error instanceof CartridgeError ? 'unexpected_errors' : 'untyped_errors';
    figures.fail(gate, `${describe(point)}: reopen ${String(error)}`);
    return;
  }
  judgeReopened(point, reopened, oracle, figures);
  writeAfterRecovery(point, reopened, fault, figures);
}

function judgeReopened(point: CrashPoint, reopened: Cartridge, oracle: Oracle, figures: Figures): void {
  if (reopened.recovery.decision !== 'accept') figures.add('crash_states_tail_repaired');
  const judgement = oracle.judge(readState(reopened));
  if (judgement.verdict === 'ok') figures.add('prefix_rule_conforming');
  else if (judgement.verdict === 'lost') figures.fail('acknowledged_durable_lost', describe(point));
  else figures.fail('prefix_rule_violations', describe(point));
  if (!reopened.verify().ok) figures.fail('verify_failures', describe(point));
}

function writeAfterRecovery(point: CrashPoint, reopened: Cartridge, fault: FaultStorage, figures: Figures): void {
  try {
    reopened.createFile('/after-recovery', 'still writable');
    const before = readState(reopened);
    reopened.close();
    const again = Cartridge.open(CARTRIDGE_PATH, { ...reopenOptionsOf(point.workload), storage: fault });
    const after = readState(again);
    const same = before.size === after.size && [...before].every(([path, value]) => {
      const other = after.get(path);
      return value === 'directory' ? other === 'directory' : other instanceof Buffer && other.equals(value);
    });
    if (!same) figures.fail('silent_wrong_data', `${describe(point)}: state changed across a clean reopen`);
    if (!again.verify().ok) figures.fail('verify_failures', `${describe(point)}: after recovery write`);
    again.close();
  } catch (error) {
    const gate = error instanceof CartridgeError ? 'unexpected_errors' : 'untyped_errors';
    figures.fail(gate, `${describe(point)}: write after recovery ${String(error)}`);
  }
}

/** Counts the I/O operations of a whole workload run (the crash points to enumerate). */
export function countOperations(workload: Workload): number {
  const fault = new FaultStorage(1);
  const cartridge = Cartridge.create(CARTRIDGE_PATH, { ...workload.options, storage: fault });
  for (const operation of workload.operations) applyToCartridge(cartridge, operation);
  cartridge.close();
  return fault.operationCount();
}
