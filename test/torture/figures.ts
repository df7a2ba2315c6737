/**
 * The figures a torture run reports, as `name: value` lines, and the gates that fail the run.
 * Campaigns add to one shared `Figures`; each failure keeps a short, reproducible description
 * (campaign, workload, crash point, mode, seed) so that it can become a regression test.
 */

export type TortureSize = 'small' | 'medium' | 'large';

export function tortureSize(): TortureSize {
  const value = process.env.TORTURE_SIZE ?? 'small';
  if (value !== 'small' && value !== 'medium' && value !== 'large') {
    throw new Error(`TORTURE_SIZE must be small, medium or large, not ${value}`);
  }
  return value;
}

/** Picks the parameter for the current size. */
export function bySize<T>(size: TortureSize, values: { small: T; medium: T; large: T }): T {
  return values[size];
}

/** Names of figures that must be zero for the run to pass. */
export const GATES = [
  'silent_wrong_data',
  'acknowledged_durable_lost',
  'two_live_writers',
  'prefix_rule_violations',
  'untyped_errors',
  'hangs',
  'ordering_violations',
  'verify_failures',
  'unexpected_errors',
  'bomb_rejections_too_slow',
  'bomb_rejections_too_large',
] as const;

export class Figures {
  private readonly values = new Map<string, number>();
  private readonly failures: string[] = [];

  add(name: string, amount = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + amount);
  }

  max(name: string, value: number): void {
    this.values.set(name, Math.max(this.values.get(name) ?? 0, value));
  }

  set(name: string, value: number): void {
    this.values.set(name, value);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** Counts a gate failure and keeps its description (the first 50 are printed). */
  fail(gate: (typeof GATES)[number], description: string): void {
    this.add(gate);
    if (this.failures.length < 50) this.failures.push(`${gate}: ${description}`);
  }

  get failureDescriptions(): readonly string[] {
    return this.failures;
  }

  lines(): string[] {
    for (const gate of GATES) if (!this.values.has(gate)) this.values.set(gate, 0);
    return [...this.values.entries()]
      .sort(([left], [right]) => left.localeCompare(right))
      .map(([name, value]) => `${name}: ${Number.isInteger(value) ? value : value.toFixed(3)}`);
  }

  gatesPassed(): boolean {
    return GATES.every((gate) => this.get(gate) === 0);
  }
}

/** A campaign: runs at a size, adds to the figures. */
export interface Campaign {
  readonly name: string;
  run(figures: Figures, size: TortureSize): void | Promise<void>;
}
