import { SingleBar } from 'cli-progress';

/**
 * A progress bar on stderr for long commands (import, export), shown only when stderr is a
 * terminal and `--json` is off, so scripts and pipes see nothing of it.
 */
export interface Progress {
  advance(count?: number): void;
  stop(): void;
}

const SILENT: Progress = { advance: () => {}, stop: () => {} };

export function progressBar(label: string, total: number, enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY || total === 0) return SILENT;
  const bar = new SingleBar({
    format: `${label} [{bar}] {value}/{total} ({percentage}%)`,
    stream: process.stderr,
    hideCursor: true,
  });
  bar.start(total, 0);
  return {
    advance: (count = 1) => bar.increment(count),
    stop: () => bar.stop(),
  };
}
