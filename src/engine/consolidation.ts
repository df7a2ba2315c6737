import {
  CONSOLIDATED_EXTENT_BYTES,
  CONSOLIDATION_RUN_COUNT,
  DATA_RECORD_MAX_BYTES,
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
  if (file.runCount < 2) return undefined;
  const sizeBytes = file.sizeBytes - file.runStartOffset;
  if (file.runCount < CONSOLIDATION_RUN_COUNT && sizeBytes < CONSOLIDATED_EXTENT_BYTES) {
    return undefined;
  }
  // Only a damaged or forged catalog makes a longer run; it is left alone rather than
  // rewritten into a record larger than a data record.
  if (sizeBytes > DATA_RECORD_MAX_BYTES) return undefined;
  return { fileOffset: file.runStartOffset, sizeBytes, replacedCount: file.runCount };
}
