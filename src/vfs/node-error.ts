import { constants } from 'node:os';
import { isCartridgeError } from '../errors.js';

/**
 * Errors of the fs facade look like Node's own: an `Error` whose `code`, `errno` (negative, as
 * libuv reports it), `syscall` and `path` say what failed, and whose message reads
 * `ENOENT: no such file or directory, open '/a'`. Code written for `node:fs` branches on
 * `code`; the engine's own error, when there is one, is the `cause`.
 */
export interface NodeStyleError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  readonly dest?: string;
}

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EEXIST: 'file already exists',
  EISDIR: 'illegal operation on a directory',
  ENOTDIR: 'not a directory',
  ENOTEMPTY: 'directory not empty',
  ENOSPC: 'no space left on device',
  EINVAL: 'invalid argument',
  ENAMETOOLONG: 'name too long',
  EACCES: 'permission denied',
  EROFS: 'read-only file system',
  EBADF: 'bad file descriptor',
  EIO: 'i/o error',
  EFBIG: 'file too large',
  EBUSY: 'resource busy or locked',
  EPERM: 'operation not permitted',
  ENODATA: 'no data available',
};

/**
 * Engine codes with no file-system meaning become the Node code a program written for
 * `node:fs` would handle the same way; the engine's error stays the `cause`.
 */
const ENGINE_TO_NODE: Readonly<Record<string, string>> = {
  READ_ONLY: 'EROFS',
  CARTRIDGE_CLOSED: 'EBADF',
  INVALID_ARGUMENT: 'EINVAL',
  LIMIT_EXCEEDED: 'EFBIG',
  IO_ERROR: 'EIO',
  JOURNAL_CORRUPT: 'EIO',
  POISONED: 'EIO',
  FILE_CHANGED: 'EIO',
  LOCKED: 'EBUSY',
  // Erased content is not damage (EIO would send an operator looking for a bad disk): the data
  // is gone on purpose. ENODATA says so, and `cause.code` tells a redaction from a shred.
  REDACTED: 'ENODATA',
  SHREDDED: 'ENODATA',
};

function errnoOf(code: string): number {
  const value = (constants.errno as Readonly<Record<string, number>>)[code];
  return value === undefined ? -1 : -value;
}

export function nodeError(
  code: string,
  syscall: string,
  path?: string,
  options: { dest?: string; cause?: unknown } = {},
): NodeStyleError {
  const where =
    path === undefined
      ? ''
      : options.dest === undefined
        ? ` '${path}'`
        : ` '${path}' -> '${options.dest}'`;
  const error = new Error(`${code}: ${DESCRIPTIONS[code] ?? 'error'}, ${syscall}${where}`, {
    cause: options.cause,
  }) as Error & Record<string, unknown>;
  error.errno = errnoOf(code);
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  if (options.dest !== undefined) error.dest = options.dest;
  return error as unknown as NodeStyleError;
}

/**
 * Runs `body` and turns a `CartridgeError` it throws into a Node-style error for `syscall` on
 * `path` (the path as the caller spelled it, as Node reports it). Other errors pass unchanged.
 */
export function asNodeCall<T>(syscall: string, path: string, body: () => T, dest?: string): T {
  try {
    return body();
  } catch (error) {
    throw toNodeError(error, syscall, path, dest);
  }
}

export function toNodeError(error: unknown, syscall: string, path: string, dest?: string): unknown {
  if (!isCartridgeError(error)) return error;
  const code = ENGINE_TO_NODE[error.code] ?? error.code;
  return nodeError(code, syscall, path, { dest, cause: error });
}

/** Whether `error` is a Node-style or engine error with this code. */
export function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
