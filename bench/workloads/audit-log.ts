import { Deadline } from '../measure.js';
import { atMost, type BenchSize, type FigureSpec, type Workload } from '../report.js';
import { errorCodeOf } from '../support.js';
import {
  AUDIT_LOG_PHASE_BUDGET_MS,
  AUDIT_LOG_SIZES,
  LOG_CHUNKS,
  LOG_DURABILITY,
  logPhase,
  type LogPhase,
  type LogSettings,
} from './append-log.js';

/**
 * The call-centre audit log: 2 000 000 appends of ~120-byte lines to one file in transactions
 * of 100, and 200 000 appends as single commits, each phase in its own cartridge (durability
 * 'normal'). Per phase: whether any error happened (thrown, or an automatic checkpoint that
 * failed in the background), the cost per append of the last tenth against the first tenth
 * (flat means no cost grows with the log), and the time of `close()` and of a reopen.
 */

interface AuditLogSettings {
  readonly batched: LogSettings;
  readonly single: LogSettings;
  readonly phaseBudgetMs: number;
}

const PHASES = ['batched', 'single'] as const;

const figuresOf = (phase: string): FigureSpec[] => [
  { name: `audit_log_${phase}_error_count`, target: atMost(0), digits: 0 },
  { name: `audit_log_${phase}_last_first_tenth_ratio`, target: atMost(1.5) },
  { name: `audit_log_${phase}_close_ms`, target: atMost(1000), digits: 1 },
  { name: `audit_log_${phase}_reopen_ms`, target: atMost(1000), digits: 1 },
];

const sizesWithBudget = (size: BenchSize): AuditLogSettings => ({
  ...AUDIT_LOG_SIZES[size],
  phaseBudgetMs: AUDIT_LOG_PHASE_BUDGET_MS[size],
});

/** Mean nanoseconds per append over the first (or the last completed) tenth of the chunks. */
function tenthNsPerAppend(phase: LogPhase, fromEnd: boolean): number {
  const chunks = fromEnd
    ? phase.chunkNs.slice(-LOG_CHUNKS / 10)
    : phase.chunkNs.slice(0, LOG_CHUNKS / 10);
  return chunks.reduce((sum, ns) => sum + ns, 0) / (chunks.length * phase.chunkAppends);
}

export const workload: Workload<AuditLogSettings> = {
  name: 'audit-log',
  description: '2 000 000 batched and 200 000 single-commit appends of ~120-byte lines to one file',
  sizes: {
    small: sizesWithBudget('small'),
    medium: sizesWithBudget('medium'),
    large: sizesWithBudget('large'),
  },
  budgetMs: {
    small: 2 * AUDIT_LOG_PHASE_BUDGET_MS.small,
    medium: 2 * AUDIT_LOG_PHASE_BUDGET_MS.medium,
    large: 2 * AUDIT_LOG_PHASE_BUDGET_MS.large,
  },
  figures: PHASES.flatMap(figuresOf),
  run: (settings, { report, checksum }) => {
    report.line('audit_log_durability', LOG_DURABILITY);
    for (const name of PHASES) {
      const phaseSettings = settings[name];
      const phase = logPhase(
        phaseSettings,
        new Deadline(`audit-log ${name}`, settings.phaseBudgetMs),
        checksum,
      );
      const prefix = `audit_log_${name}`;
      const complete = phase.appendError === undefined;
      const firstError = phase.appendError ?? phase.closeError ?? phase.reopenError;
      if (firstError === undefined) report.figure(`${prefix}_error_count`, 0);
      else report.failed(`${prefix}_error_count`, firstError);
      if (complete) {
        report.figure(
          `${prefix}_last_first_tenth_ratio`,
          tenthNsPerAppend(phase, true) / tenthNsPerAppend(phase, false),
        );
      } else {
        report.failed(`${prefix}_last_first_tenth_ratio`, phase.appendError);
      }
      // Close and reopen only count for the whole log; for a log cut short they are printed
      // as raw lines, for what they tell about the state the engine reached.
      for (const [step, ms, error] of [
        ['close', phase.closeMs, phase.closeError],
        ['reopen', phase.reopenMs, phase.reopenError],
      ] as const) {
        if (!complete) {
          report.failed(`${prefix}_${step}_ms`, phase.appendError);
          // The time is printed even when the step threw: a close that fails after seconds, or
          // a reopen that works and then cannot close, is what the log cut short leads to.
          report.line(`${prefix}_${step}_partial_log_ms`, ms, 1);
          if (error !== undefined)
            report.line(`${prefix}_${step}_partial_log_error`, errorCodeOf(error));
        } else if (error !== undefined) report.failed(`${prefix}_${step}_ms`, error);
        else report.figure(`${prefix}_${step}_ms`, ms);
      }
      report.line(`${prefix}_appends_planned`, phaseSettings.appendCount, 0);
      report.line(`${prefix}_appends_done`, phase.completedAppends, 0);
      report.line(`${prefix}_per_transaction`, phaseSettings.perTransaction, 0);
      if (phase.chunkNs.length >= LOG_CHUNKS / 10) {
        report.line(
          `${prefix}_first_tenth_us_per_append`,
          tenthNsPerAppend(phase, false) / 1000,
          2,
        );
        report.line(
          `${prefix}_last_done_tenth_us_per_append`,
          tenthNsPerAppend(phase, true) / 1000,
          2,
        );
      }
      report.line(`${prefix}_file_mib`, phase.fileBytes / (1024 * 1024), 1);
    }
  },
};
