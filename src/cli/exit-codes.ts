import { isCartridgeError } from '../errors.js';

/**
 * The exit codes of the `cartridge` command, documented in docs/CLI.md. Scripts branch on
 * them, so they never change meaning: 0 success, 1 an error the command could not get past,
 * 2 a usage mistake, 3 nothing at the path or target named, 4 damage (`verify` found some, or
 * a command met a record that does not check out), 5 refused by the policy, 6 another process
 * holds the writer lock.
 */
export const EXIT_SUCCESS = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOT_FOUND = 3;
export const EXIT_CHECK_FAILED = 4;
export const EXIT_DENIED = 5;
export const EXIT_LOCKED = 6;

/** The exit code an error ends the command with. */
export function exitCodeOf(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  if (isCartridgeError(error) || typeof code === 'string') {
    if (code === 'ENOENT' || code === 'SNAPSHOT_NOT_FOUND') return EXIT_NOT_FOUND;
    if (code === 'EACCES') return EXIT_DENIED;
    if (code === 'JOURNAL_CORRUPT') return EXIT_CHECK_FAILED;
    if (code === 'LOCKED') return EXIT_LOCKED;
    if (code === 'INVALID_ARGUMENT' || code === 'USAGE') return EXIT_USAGE;
  }
  return EXIT_FAILURE;
}

/** A mistake in how the command was called (a bad option value). */
export class UsageError extends Error {
  readonly code = 'USAGE';
}
