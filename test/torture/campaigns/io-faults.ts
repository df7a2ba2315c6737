import { Cartridge, CartridgeError } from '../../../src/index.js';
import {
  FaultStorage,
  type FaultOperation,
  type InjectedErrorCode,
} from '../../support/fault-storage.js';
import { CARTRIDGE_PATH } from '../crash-run.js';
import { bySize, type Campaign, type Figures, type TortureSize } from '../figures.js';
import { applyToCartridge, digestOfModel, isCode, type Operation, readState } from '../model.js';
import { Oracle } from '../oracle.js';
import { reopenOptionsOf, WORKLOADS, type Workload } from '../workloads.js';

/**
 * I/O fault loops (SQLite's "once" and "persistent" loops): for every workload, every kind of
 * I/O operation and every k, fail the k-th operation of that kind with EIO, ENOSPC or EROFS,
 * once or for ever after. Each failing call must throw a typed error and leave the visible
 * state as it was; later calls may succeed (transient faults) unless the cartridge is
 * poisoned; after the fault is gone, a reopen must give a state the oracle allows.
 */

const KINDS: readonly FaultOperation[] = ['write', 'sync', 'truncate', 'read', 'open', 'syncDirectory'];
/** Codes a failing operation may surface as; anything else is an unexpected error. */
const FAULT_CODES = ['IO_ERROR', 'ENOSPC', 'POISONED'];

interface Scenario {
  readonly workload: Workload;
  readonly kind: FaultOperation;
  readonly nth: number;
  readonly errorCode: InjectedErrorCode;
  readonly persistent: boolean;
}

function describe(scenario: Scenario): string {
  const { workload, kind, nth, errorCode, persistent } = scenario;
  return `workload=${workload.name} kind=${kind} nth=${nth} code=${errorCode} persistent=${persistent}`;
}

function countKinds(workload: Workload): Map<FaultOperation, number> {
  const fault = new FaultStorage(1);
  const cartridge = Cartridge.create(CARTRIDGE_PATH, { ...workload.options, storage: fault });
  for (const operation of workload.operations) applyToCartridge(cartridge, operation);
  cartridge.close();
  const reopened = Cartridge.open(CARTRIDGE_PATH, { ...reopenOptionsOf(workload), storage: fault });
  readState(reopened);
  reopened.close();
  return new Map(KINDS.map((kind) => [kind, fault.operationCount(kind)]));
}

/** Classifies an error thrown by a call under fault injection; true when it is acceptable. */
function acceptable(error: unknown, scenario: Scenario, figures: Figures, where: string): boolean {
  if (!(error instanceof CartridgeError)) {
    figures.fail('untyped_errors', `${describe(scenario)} ${where}: ${String(error)}`);
    return false;
  }
  if (!FAULT_CODES.includes(error.code)) {
    figures.fail('unexpected_errors', `${describe(scenario)} ${where}: ${error.code}`);
    return false;
  }
  return true;
}

function runWorkload(scenario: Scenario, fault: FaultStorage, figures: Figures): Oracle | undefined {
  const oracle = new Oracle();
  const durability = scenario.workload.options.durability ?? 'normal';
  let cartridge: Cartridge;
  try {
    cartridge = Cartridge.create(CARTRIDGE_PATH, { ...scenario.workload.options, storage: fault });
  } catch (error) {
    acceptable(error, scenario, figures, 'create');
    return undefined;
  }
  oracle.created();
  for (const operation of scenario.workload.operations) {
    // A refused call is retried once, as an application would after a transient fault; when
    // the retry fails too, the rest of the workload is skipped (it may depend on this call).
    if (!attempt(cartridge, operation, oracle, durability, scenario, figures)) {
      if (!attempt(cartridge, operation, oracle, durability, scenario, figures)) break;
      figures.add('io_fault_retries_succeeded');
    }
  }
  try {
    cartridge.close();
    if (durability !== 'off') oracle.allDurable();
  } catch (error) {
    acceptable(error, scenario, figures, 'close');
  }
  return oracle;
}

/** Runs one operation; true when it was acknowledged. */
function attempt(
  cartridge: Cartridge,
  operation: Operation,
  oracle: Oracle,
  durability: string,
  scenario: Scenario,
  figures: Figures,
): boolean {
  oracle.issue(operation);
  try {
    applyToCartridge(cartridge, operation);
  } catch (error) {
    if (acceptable(error, scenario, figures, operation.kind)) {
      figures.add('io_fault_calls_refused');
      // A refused call must leave what readers see exactly as it was.
      checkVisibleState(cartridge, oracle, scenario, figures);
    }
    return false;
  }
  oracle.acknowledge(operation, durability === 'full');
  if (operation.kind === 'flush') oracle.allDurable();
  return true;
}

function checkVisibleState(cartridge: Cartridge, oracle: Oracle, scenario: Scenario, figures: Figures): void {
  try {
    if (digestOfModel(readState(cartridge)) !== digestOfModel(oracle.model)) {
      figures.fail('silent_wrong_data', `${describe(scenario)}: visible state changed by a refused call`);
    }
  } catch (error) {
    // After a failed fsync the kernel may have dropped unsynced pages: reads of them fail typed.
    if (cartridge.poisoned && isCode(error, 'JOURNAL_CORRUPT')) {
      figures.add('io_fault_reads_refused_after_poison');
      return;
    }
    acceptable(error, scenario, figures, 'read after fault');
  }
}

function runScenario(scenario: Scenario, figures: Figures): void {
  const fault = new FaultStorage(scenario.nth);
  fault.failOn({ operation: scenario.kind, nth: scenario.nth, errorCode: scenario.errorCode, persistent: scenario.persistent });
  const oracle = runWorkload(scenario, fault, figures);
  figures.add('io_fault_scenarios');
  if (fault.operationCount(scenario.kind) >= scenario.nth) figures.add('io_faults_injected');
  fault.clearFailures();
  if (oracle === undefined) return;
  let reopened: Cartridge;
  try {
    reopened = Cartridge.open(CARTRIDGE_PATH, { ...reopenOptionsOf(scenario.workload), storage: fault });
  } catch (error) {
    if (!oracle.createAcknowledged && isCode(error, 'ENOENT', 'NOT_A_CARTRIDGE')) return;
    figures.fail(error instanceof CartridgeError ? 'unexpected_errors' : 'untyped_errors', `${describe(scenario)}: reopen ${String(error)}`);
    return;
  }
  const judgement = oracle.judge(readState(reopened));
  if (judgement.verdict === 'lost') figures.fail('acknowledged_durable_lost', describe(scenario));
  if (judgement.verdict === 'none') figures.fail('prefix_rule_violations', describe(scenario));
  if (!reopened.verify().ok) figures.fail('verify_failures', describe(scenario));
  reopened.close();
}

export const ioFaultsCampaign: Campaign = {
  name: 'io-faults',
  run(figures: Figures, size: TortureSize): void {
    const codes: InjectedErrorCode[] = bySize(size, {
      small: ['EIO', 'ENOSPC'],
      medium: ['EIO', 'ENOSPC', 'EROFS'],
      large: ['EIO', 'ENOSPC', 'EROFS'],
    });
    for (const workload of WORKLOADS) {
      if (workload.inFaultLoops === false) continue;
      const counts = countKinds(workload);
      for (const kind of KINDS) {
        const count = counts.get(kind) ?? 0;
        for (let nth = 1; nth <= count; nth++) {
          for (const errorCode of codes) {
            for (const persistent of [false, true]) runScenario({ workload, kind, nth, errorCode, persistent }, figures);
          }
        }
      }
    }
  },
};
