import { CartridgeError, limitExceeded } from '../errors.js';
import { NAME_MAX_BYTES, PATH_DEPTH_MAX, PATH_MAX_BYTES } from '../limits.js';

/**
 * The one function that turns a caller's path into the key the catalog stores. Storage,
 * listing and (later) access control all use it, so a path cannot mean one thing to a policy
 * and another to the store. Rules: POSIX separators; relative paths are taken from the root
 * (`a.txt` is `/a.txt`); `.` and empty segments vanish; `..` climbs but never above the root;
 * control characters and bidirectional formatting characters are refused, so that a listing
 * printed to a terminal or a log cannot be forged; names are normalised to Unicode NFC, so
 * that one name cannot exist twice in two spellings that look the same; the result and each
 * name are bounded in bytes, and depth is bounded.
 */

export const ROOT_PATH = '/';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * C0 controls (NUL, newline, ESC ...), DEL and C1 controls, and the bidirectional marks,
 * embeddings, overrides and isolates (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069).
 */
/**
 * Characters no name may hold: C0 and C1 controls and the bidirectional marks and overrides,
 * which make a printed name (a path, an actor in an audit trail) read as something else.
 */
export const FORBIDDEN_CHARACTER =
  /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;

/** A canonical path, and whether the caller's spelling can only name a directory. */
export interface ParsedPath {
  readonly path: string;
  /** The input ended in `/`, `/.` or `/..`: POSIX resolves it only to a directory. */
  readonly mustBeDirectory: boolean;
}

export function canonicalPath(input: unknown): string {
  return parsePath(input).path;
}

const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * Whether `input` is already canonical and plain: absolute, printable ASCII only (which NFC
 * leaves alone and which holds no forbidden character or surrogate), no empty, `.` or `..`
 * segment, no trailing slash, and within every bound. Such a path canonicalises to itself, so
 * one pass over its characters replaces the full parse; it is what programs pass almost always
 * (paths they built, paths read back from a listing), on every read and write.
 */
export function isPlainCanonical(input: string): boolean {
  const length = input.length;
  // The root is left to the full parse: it is canonical, but only as a directory.
  if (length < 2 || length > PATH_MAX_BYTES || input.charCodeAt(0) !== SLASH) return false;
  let segmentStart = 1;
  let depth = 0;
  for (let index = 1; index <= length; index++) {
    const code = index === length ? SLASH : input.charCodeAt(index);
    if (code === SLASH) {
      const segmentLength = index - segmentStart;
      if (segmentLength === 0 || segmentLength > NAME_MAX_BYTES) return false;
      if (input.charCodeAt(segmentStart) === DOT) {
        if (segmentLength === 1) return false;
        if (segmentLength === 2 && input.charCodeAt(segmentStart + 1) === DOT) return false;
      }
      depth++;
      segmentStart = index + 1;
    } else if (code < 0x20 || code > 0x7e) {
      return false;
    }
  }
  return depth <= PATH_DEPTH_MAX;
}

export function parsePath(input: unknown): ParsedPath {
  if (typeof input === 'string' && isPlainCanonical(input)) {
    return { path: input, mustBeDirectory: false };
  }
  return parsePathInFull(input);
}

/** The full parse, for every spelling (exported so that tests compare the two paths). */
export function parsePathInFull(input: unknown): ParsedPath {
  if (typeof input !== 'string') {
    throw new CartridgeError('EINVAL', 'a path must be a string');
  }
  if (input.length === 0) throw new CartridgeError('EINVAL', 'a path must not be empty');
  const forbidden = FORBIDDEN_CHARACTER.exec(input);
  if (forbidden !== null) {
    const codePoint = (forbidden[0].codePointAt(0) ?? 0).toString(16).toUpperCase();
    throw new CartridgeError('EINVAL', `a path must not contain U+${codePoint.padStart(4, '0')}`);
  }
  // Reject absurd inputs before splitting them; the canonical form can only be shorter.
  if (input.length > PATH_MAX_BYTES * 4) {
    throw new CartridgeError('ENAMETOOLONG', `path of ${input.length} characters is too long`);
  }
  // The journal stores paths as UTF-8, where a lone surrogate becomes U+FFFD: the entry would
  // come back under another name after a reopen, or collide with a sibling and fail the open.
  if (LONE_SURROGATE.test(input)) {
    throw new CartridgeError('EINVAL', 'a path must not contain a lone surrogate');
  }
  const rawSegments = input.normalize('NFC').split('/');
  const last = rawSegments[rawSegments.length - 1];
  const mustBeDirectory = last === '' || last === '.' || last === '..';
  const segments: string[] = [];
  for (const segment of rawSegments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      segments.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > NAME_MAX_BYTES) {
      throw new CartridgeError('ENAMETOOLONG', `a name is longer than ${NAME_MAX_BYTES} bytes`);
    }
    segments.push(segment);
  }
  if (segments.length > PATH_DEPTH_MAX)
    throw limitExceeded('path depth', segments.length, PATH_DEPTH_MAX);
  const path = ROOT_PATH + segments.join('/');
  if (Buffer.byteLength(path) > PATH_MAX_BYTES) {
    throw new CartridgeError('ENAMETOOLONG', `path is longer than ${PATH_MAX_BYTES} bytes`);
  }
  return { path, mustBeDirectory };
}

/** The parent of a canonical path; the root is its own parent. */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? ROOT_PATH : path.slice(0, slash);
}

/** The last segment of a canonical path; empty for the root. */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Every ancestor of a canonical path from the root down, excluding the root and the path. */
export function ancestorsOf(path: string): string[] {
  const ancestors: string[] = [];
  let index = path.indexOf('/', 1);
  while (index !== -1) {
    ancestors.push(path.slice(0, index));
    index = path.indexOf('/', index + 1);
  }
  return ancestors;
}
