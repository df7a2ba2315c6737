/**
 * How figures are printed, and what a workload is. Every line is `name: value`, so that a
 * script can read the output; a figure with a target adds the target and `met` or `missed`
 * after the value. A figure that could not be measured (an engine error, a time budget) is
 * printed with the error code in place of its value and counts as missed.
 */
import type { Checksum, Deadline } from './measure.js';
import { CARTRIDGE_ERROR_CODES } from '../src/index.js';
import { errorCodeOf } from './support.js';

export type BenchSize = 'small' | 'medium' | 'large';

export interface Target {
  /** `at-most`: lower is better; `at-least`: higher is better. */
  readonly direction: 'at-most' | 'at-least';
  readonly value: number;
}

export const atMost = (value: number): Target => ({ direction: 'at-most', value });
export const atLeast = (value: number): Target => ({ direction: 'at-least', value });

export interface FigureSpec {
  readonly name: string;
  readonly target: Target;
  readonly digits?: number;
}

/**
 * A workload as data: its name (what `BENCH_ONLY` selects), what it measures, its settings for
 * each size, its time budget, the figures it reports with their targets, and the code that
 * runs it. Setup inside `run` is never timed; the figures come from same-run comparisons.
 */
export interface Workload<Settings> {
  readonly name: string;
  readonly description: string;
  readonly sizes: Record<BenchSize, Settings>;
  readonly budgetMs: Record<BenchSize, number>;
  readonly figures: readonly FigureSpec[];
  /** A workload that measures an asynchronous peer returns a promise; the runner awaits it. */
  readonly run: (settings: Settings, context: WorkloadContext) => void | Promise<void>;
}

/** A workload with its settings type hidden, so that workloads of every kind fit in one list. */
export interface RunnableWorkload {
  readonly name: string;
  readonly description: string;
  readonly budgetMs: Record<BenchSize, number>;
  readonly figures: readonly FigureSpec[];
  readonly runAt: (size: BenchSize, context: WorkloadContext) => void | Promise<void>;
}

export function runnable<Settings>(workload: Workload<Settings>): RunnableWorkload {
  return { ...workload, runAt: (size, context) => workload.run(workload.sizes[size], context) };
}

export interface WorkloadContext {
  readonly report: Report;
  readonly checksum: Checksum;
  readonly deadline: Deadline;
}

interface Outcome {
  readonly name: string;
  readonly text: string;
  readonly target: Target;
  readonly met: boolean;
}

/** The document `--json` prints: every line, and every figure with its target and result. */
export interface JsonReport {
  readonly lines: Record<string, number | string>;
  readonly figures: {
    readonly name: string;
    readonly value: number | string;
    readonly target: string;
    readonly met: boolean;
  }[];
  readonly targetsMet: number;
  readonly targetsMissed: number;
}

const ENGINE_CODES: ReadonlySet<string> = new Set(CARTRIDGE_ERROR_CODES);

/**
 * An engine error, a time budget, or a child killed by a signal (the kernel's out-of-memory
 * killer, at scale) is a result: the figure is missed, with the code. Any other error is a
 * fault of the bench itself, and fails the run once every workload has run.
 */
export function isExpectedFailure(error: unknown): boolean {
  const code = errorCodeOf(error);
  return ENGINE_CODES.has(code) || code === 'TIME_BUDGET' || code.startsWith('SIG');
}

function targetText(target: Target): string {
  return `${target.direction === 'at-most' ? '≤' : '≥'} ${target.value}`;
}

export class Report {
  private readonly specs = new Map<string, FigureSpec>();
  private readonly outcomes = new Map<string, Outcome>();
  private readonly lines = new Map<string, number | string>();
  private faults = 0;

  /**
   * With `json`, the human-readable lines go to stderr, so that stdout carries only the JSON
   * document `printJson` writes at the end and a script can parse it as a whole.
   */
  constructor(private readonly json = false) {}

  private print(text: string): void {
    if (this.json) console.error(text);
    else console.log(text);
  }

  /** Figures that failed with an error that is not an expected failure (`isExpectedFailure`). */
  get benchFaults(): number {
    return this.faults;
  }

  /** Registers the figures (and targets) of a workload before it runs. */
  expect(figures: readonly FigureSpec[]): void {
    for (const figure of figures) this.specs.set(figure.name, figure);
  }

  /** A raw figure without a target (the numbers behind a ratio, setup sizes, and so on). */
  line(name: string, value: number | string, digits = 3): void {
    const text = typeof value === 'number' ? value.toFixed(digits) : value;
    this.lines.set(name, typeof value === 'number' ? Number(text) : value);
    this.print(`${name}: ${text}`);
  }

  /** A figure with a target, which must have been registered with `expect`. */
  figure(name: string, value: number): void {
    const spec = this.specOf(name);
    const met =
      Number.isFinite(value) &&
      (spec.target.direction === 'at-most'
        ? value <= spec.target.value
        : value >= spec.target.value);
    this.settle(spec, value.toFixed(spec.digits ?? 3), met);
  }

  /** A figure that could not be measured: printed with the error's code, counted as missed. */
  failed(name: string, error: unknown): void {
    if (!isExpectedFailure(error)) this.faults++;
    this.settle(this.specOf(name), errorCodeOf(error), false);
  }

  /** Marks as failed every registered figure of `figures` that has no outcome yet. */
  failRemaining(figures: readonly FigureSpec[], error: unknown): void {
    // Counted here too, for a workload that has no figure with a target.
    if (!isExpectedFailure(error)) this.faults++;
    for (const figure of figures)
      if (!this.outcomes.has(figure.name)) this.failed(figure.name, error);
  }

  /** The table a person reads, at the end of the run. */
  printSummary(): void {
    const outcomes = [...this.outcomes.values()];
    if (outcomes.length === 0) return;
    const width = Math.max(...outcomes.map((outcome) => outcome.name.length));
    this.print('');
    this.print(`${'figure'.padEnd(width)}  value        target     result`);
    for (const outcome of outcomes) {
      this.print(
        [
          outcome.name.padEnd(width),
          outcome.text.padStart(12),
          targetText(outcome.target).padEnd(10),
          outcome.met ? 'met' : 'missed',
        ].join(' '),
      );
    }
    const missed = outcomes.filter((outcome) => !outcome.met).length;
    this.print(`targets: ${outcomes.length - missed} met, ${missed} missed`);
  }

  /** `--json`: one document on stdout with every line and every figure, target and result. */
  printJson(): void {
    const outcomes = [...this.outcomes.values()];
    const missed = outcomes.filter((outcome) => !outcome.met).length;
    const document: JsonReport = {
      lines: Object.fromEntries(this.lines),
      figures: outcomes.map((outcome) => ({
        name: outcome.name,
        value: Number.isNaN(Number(outcome.text)) ? outcome.text : Number(outcome.text),
        target: targetText(outcome.target),
        met: outcome.met,
      })),
      targetsMet: outcomes.length - missed,
      targetsMissed: missed,
    };
    console.log(JSON.stringify(document, null, 2));
  }

  private specOf(name: string): FigureSpec {
    const spec = this.specs.get(name);
    if (spec === undefined) throw new Error(`figure ${name} was reported but never declared`);
    return spec;
  }

  private settle(spec: FigureSpec, text: string, met: boolean): void {
    this.outcomes.set(spec.name, { name: spec.name, text, target: spec.target, met });
    this.print(
      `${spec.name}: ${text} (target ${targetText(spec.target)}, ${met ? 'met' : 'missed'})`,
    );
  }
}
