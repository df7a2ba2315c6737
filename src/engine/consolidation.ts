import {
  CONSOLIDATED_EXTENT_BYTES,
  CONSOLIDATION_RUN_COUNT,
  DATA_RECORD_MAX_BYTES,
  TAIL_CONSOLIDATION_FILES_MAX,
  TAIL_CONSOLIDATION_RUN_COUNT_MIN,
} from '../limits.js';
import type { FileNode } from '../projections/catalog.js';

/**
 * When a file's trailing run of small extents is rewritten into one record. A file appended to
 * a million times would otherwise be a million extents: a million records to read, a million
 * keys in the index. The rewrite is an ordinary `extents.consolidated` record (replayable, in
 * the chain), so the step is bounded: at most CONSOLIDATED_EXTENT_BYTES plus one small extent,
 * or CONSOLIDATION_RUN_COUNT extents. Each byte is rewritten at most once, because a
 * consolidated extent never joins a run again.
 */
export interface ConsolidationStep {
  readonly fileOffset: number;
  readonly sizeBytes: number;
  readonly replacedCount: number;
}

export function consolidationDue(file: FileNode): ConsolidationStep | undefined {
  const sizeBytes = file.sizeBytes - file.runStartOffset;
  if (file.runCount < CONSOLIDATION_RUN_COUNT && sizeBytes < CONSOLIDATED_EXTENT_BYTES) {
    return undefined;
  }
  return stepOf(file);
}

/**
 * The step that rewrites a file's trailing run at close, when the run is long enough to be
 * worth a record of its own. Without it, the run a handle leaves behind (up to
 * CONSOLIDATION_RUN_COUNT - 1 small extents) is read record by record by every later read of
 * the file, and its extents fill the index, until more appends complete it; a log appended
 * one line per commit is read after a restart with hundreds of records more than it needs.
 * Shorter runs are left to grow: a record for a handful of lines would only add a frame.
 */
export function tailConsolidationDue(file: FileNode): ConsolidationStep | undefined {
  if (file.runCount < TAIL_CONSOLIDATION_RUN_COUNT_MIN) return undefined;
  return stepOf(file);
}

function stepOf(file: FileNode): ConsolidationStep | undefined {
  if (file.runCount < 2) return undefined;
  const sizeBytes = file.sizeBytes - file.runStartOffset;
  // Only a damaged or forged catalog makes a longer run; it is left alone rather than
  // rewritten into a record larger than a data record.
  if (sizeBytes > DATA_RECORD_MAX_BYTES) return undefined;
  return { fileOffset: file.runStartOffset, sizeBytes, replacedCount: file.runCount };
}

/**
 * The paths small appends went to lately, the most recent last, at most
 * TAIL_CONSOLIDATION_FILES_MAX of them: close looks at these files' trailing runs instead of
 * walking a catalog that may hold millions of files. A path is only a hint (the file may have
 * been renamed or deleted since, or its appends rolled back): whoever takes them checks.
 */
export class AppendedFiles {
  private paths = new Set<string>();

  touch(path: string): void {
    this.paths.delete(path);
    this.paths.add(path);
    if (this.paths.size > TAIL_CONSOLIDATION_FILES_MAX) {
      const oldest = this.paths.values().next().value as string;
      this.paths.delete(oldest);
    }
  }

  /** The paths, oldest first; the set is empty afterwards. */
  take(): string[] {
    const paths = [...this.paths];
    this.paths = new Set();
    return paths;
  }
}
