/**
 * Every error Cartridge raises on purpose is a `CartridgeError` with a stable string `code`.
 * Callers branch on `code`, never on the message; codes are never renamed or reused.
 */

/** Codes shared with Node's fs module, used where the operation is file-system shaped. */
export type FileSystemErrorCode =
  | 'ENOENT'
  | 'EEXIST'
  | 'EISDIR'
  | 'ENOTDIR'
  | 'ENOTEMPTY'
  | 'ENOSPC'
  | 'EINVAL'
  | 'ENAMETOOLONG'
  | 'EACCES';

/** Codes that belong to the engine and the journal. */
export type EngineErrorCode =
  | 'JOURNAL_CORRUPT'
  | 'NOT_A_CARTRIDGE'
  | 'UNSUPPORTED_VERSION'
  | 'CARTRIDGE_CLOSED'
  | 'READ_ONLY'
  | 'LIMIT_EXCEEDED'
  | 'IO_ERROR'
  | 'POISONED'
  | 'INVALID_ARGUMENT'
  | 'LOCKED'
  | 'FILE_CHANGED'
  | 'SNAPSHOT_EXISTS'
  | 'SNAPSHOT_NOT_FOUND'
  | 'HISTORY_UNAVAILABLE'
  | 'SUBSCRIBER_OVERFLOW'
  | 'SQLITE_ERROR'
  | 'SQLITE_BUSY'
  | 'SQLITE_NOT_LOADED'
  | 'ENGRAM_CORRUPT'
  | 'ENGRAM_UNSUPPORTED'
  | 'KEY_REQUIRED'
  | 'DECRYPTION_FAILED'
  | 'REDACTED'
  | 'SHREDDED'
  | 'AUDIT_RETAINED'
  | 'NOT_SUPPORTED'
  | ProofErrorCode;

/**
 * Codes of tamper evidence: thrown by signing and proofs, and named by a verify report as the
 * reason it is not ok.
 */
export type ProofErrorCode =
  | 'KEY_INVALID'
  | 'SIGNATURE_INVALID'
  | 'NOT_SIGNED'
  | 'HEAD_MISMATCH'
  | 'ROLLBACK_DETECTED'
  | 'FORK_DETECTED'
  | 'PROOF_INVALID';

export type CartridgeErrorCode = FileSystemErrorCode | EngineErrorCode;

/** Every code, in one list, so that documentation and tests can check they are all described. */
export const CARTRIDGE_ERROR_CODES: readonly CartridgeErrorCode[] = [
  'ENOENT',
  'EEXIST',
  'EISDIR',
  'ENOTDIR',
  'ENOTEMPTY',
  'ENOSPC',
  'EINVAL',
  'ENAMETOOLONG',
  'EACCES',
  'JOURNAL_CORRUPT',
  'NOT_A_CARTRIDGE',
  'UNSUPPORTED_VERSION',
  'CARTRIDGE_CLOSED',
  'READ_ONLY',
  'LIMIT_EXCEEDED',
  'IO_ERROR',
  'POISONED',
  'INVALID_ARGUMENT',
  'LOCKED',
  'FILE_CHANGED',
  'SNAPSHOT_EXISTS',
  'SNAPSHOT_NOT_FOUND',
  'HISTORY_UNAVAILABLE',
  'SUBSCRIBER_OVERFLOW',
  'ENGRAM_CORRUPT',
  'ENGRAM_UNSUPPORTED',
  'KEY_REQUIRED',
  'DECRYPTION_FAILED',
  'AUDIT_RETAINED',
  'NOT_SUPPORTED',
  'KEY_INVALID',
  'SIGNATURE_INVALID',
  'NOT_SIGNED',
  'HEAD_MISMATCH',
  'ROLLBACK_DETECTED',
  'FORK_DETECTED',
  'PROOF_INVALID',
  'SQLITE_ERROR',
  'SQLITE_BUSY',
  'SQLITE_NOT_LOADED',
  'REDACTED',
  'SHREDDED',
];

export interface CartridgeErrorDetails {
  /** The canonical path the failed operation named, when there was one. */
  readonly path?: string;
  /**
   * The journal offset where damage was found, for `JOURNAL_CORRUPT`, or of the record that
   * could not be opened, for `KEY_REQUIRED` and `DECRYPTION_FAILED`, or whose content was
   * erased, for `REDACTED` and `SHREDDED`.
   */
  readonly offset?: number;
  /** The operating system's code (`EIO`, `EROFS`, ...) behind an `IO_ERROR` or `ENOSPC`. */
  readonly systemCode?: string;
  /** For `LOCKED`: the process holding the writer lock and its host, where they are known. */
  readonly holderPid?: number;
  readonly holderHost?: string;
  /** For `SUBSCRIBER_OVERFLOW`: the resume token of the last event the subscriber received. */
  readonly token?: string;
  /** For `SQLITE_ERROR` and `SQLITE_BUSY`: SQLite's extended result code and its name. */
  readonly sqliteCode?: number;
  readonly sqliteCodeName?: string;
  readonly cause?: unknown;
}

export class CartridgeError extends Error {
  readonly code: CartridgeErrorCode;
  readonly path: string | undefined;
  readonly offset: number | undefined;
  readonly systemCode: string | undefined;
  readonly holderPid: number | undefined;
  readonly holderHost: string | undefined;
  readonly token: string | undefined;
  readonly sqliteCode: number | undefined;
  readonly sqliteCodeName: string | undefined;

  constructor(code: CartridgeErrorCode, detail: string, details: CartridgeErrorDetails = {}) {
    super(`${code}: ${detail}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CartridgeError';
    this.code = code;
    this.path = details.path;
    this.offset = details.offset;
    this.systemCode = details.systemCode;
    this.holderPid = details.holderPid;
    this.holderHost = details.holderHost;
    this.token = details.token;
    this.sqliteCode = details.sqliteCode;
    this.sqliteCodeName = details.sqliteCodeName;
  }
}

export function isCartridgeError(value: unknown): value is CartridgeError {
  return value instanceof CartridgeError;
}

export function journalCorrupt(offset: number, reason: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `${reason} at journal offset ${offset}`, { offset });
}

export function limitExceeded(what: string, value: number, limit: number): CartridgeError {
  return new CartridgeError('LIMIT_EXCEEDED', `${what} is ${value}, the limit is ${limit}`);
}

/**
 * Wraps an error thrown by the operating system. Disk-full conditions keep the `ENOSPC` code
 * callers already handle; everything else becomes `IO_ERROR` with the system code attached.
 */
export function fromSystemError(error: unknown, operation: string): CartridgeError {
  if (error instanceof CartridgeError) return error;
  const systemCode =
    typeof error === 'object' && error !== null && 'code' in error
      ? String((error as { code: unknown }).code)
      : 'UNKNOWN';
  const code = systemCode === 'ENOSPC' || systemCode === 'EDQUOT' ? 'ENOSPC' : 'IO_ERROR';
  return new CartridgeError(code, `${operation} failed with ${systemCode}`, {
    systemCode,
    cause: error,
  });
}
