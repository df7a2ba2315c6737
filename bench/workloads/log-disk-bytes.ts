import { Deadline } from '../measure.js';
import { atMost, type Workload } from '../report.js';
import {
  AUDIT_LOG_PHASE_BUDGET_MS,
  AUDIT_LOG_SIZES,
  type LogSettings,
  logPhase,
} from './append-log.js';

/**
 * Space used by an append-built log: the cartridge file's size after close, divided by the
 * bytes of log text appended. It reuses the logs of the `audit-log` workload when that ran in
 * the same process (same sizes), and writes them otherwise. A log cut short by an error or the
 * time budget is still measured, for the lines it holds.
 */

interface DiskBytesSettings {
  readonly batched: LogSettings;
  readonly single: LogSettings;
  readonly phaseBudgetMs: number;
}

const PHASES = [
  { phase: 'batched', target: 1.5 },
  { phase: 'single', target: 2 },
] as const;

export const workload: Workload<DiskBytesSettings> = {
  name: 'log-disk-bytes',
  description: 'cartridge file bytes per byte of audit-log text, batched and single-commit appends',
  sizes: {
    small: { ...AUDIT_LOG_SIZES.small, phaseBudgetMs: AUDIT_LOG_PHASE_BUDGET_MS.small },
    medium: { ...AUDIT_LOG_SIZES.medium, phaseBudgetMs: AUDIT_LOG_PHASE_BUDGET_MS.medium },
    large: { ...AUDIT_LOG_SIZES.large, phaseBudgetMs: AUDIT_LOG_PHASE_BUDGET_MS.large },
  },
  budgetMs: {
    small: 2 * AUDIT_LOG_PHASE_BUDGET_MS.small,
    medium: 2 * AUDIT_LOG_PHASE_BUDGET_MS.medium,
    large: 2 * AUDIT_LOG_PHASE_BUDGET_MS.large,
  },
  figures: PHASES.map(({ phase, target }) => ({
    name: `log_${phase}_disk_bytes_per_text_byte`,
    target: atMost(target),
  })),
  run: (settings, { report, checksum }) => {
    for (const { phase: name } of PHASES) {
      const phase = logPhase(
        settings[name],
        new Deadline(`log-disk-bytes ${name}`, settings.phaseBudgetMs),
        checksum,
      );
      if (phase.textBytes === 0) {
        report.failed(`log_${name}_disk_bytes_per_text_byte`, phase.appendError);
        continue;
      }
      report.figure(`log_${name}_disk_bytes_per_text_byte`, phase.fileBytes / phase.textBytes);
      report.line(`log_${name}_text_mib`, phase.textBytes / (1024 * 1024), 2);
      report.line(`log_${name}_lines_measured`, phase.completedAppends, 0);
    }
  },
};
