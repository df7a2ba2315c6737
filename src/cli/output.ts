import type { Writable } from 'node:stream';

/**
 * How a command prints: one JSON document per result with `--json` (for scripts), or lines
 * and aligned tables for people. Diagnostics go to stderr either way, so stdout stays clean.
 */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {}

  /** A result: JSON with `--json`, else `human()` (default: the value as text). */
  result(value: unknown, human?: () => void): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value)}\n`);
    else if (human !== undefined) human();
    else this.line(String(value));
  }

  line(text: string): void {
    this.stdout.write(`${text}\n`);
  }

  bytes(content: Uint8Array): void {
    this.stdout.write(content);
  }

  error(text: string): void {
    this.stderr.write(`${text}\n`);
  }

  /** Rows as a table with a header, columns padded to their widest cell. */
  table(columns: readonly string[], rows: readonly (readonly unknown[])[]): void {
    const cells = [columns, ...rows.map((row) => row.map((cell) => formatCell(cell)))];
    const widths = columns.map((_, index) =>
      Math.max(...cells.map((row) => (row[index] ?? '').length)),
    );
    for (const row of cells) {
      this.line(
        row
          .map((cell, index) => (cell ?? '').padEnd(widths[index] ?? 0))
          .join('  ')
          .trimEnd(),
      );
    }
  }
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (value instanceof Date) return value.toISOString();
  return String(value);
}
