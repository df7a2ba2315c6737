import { CartridgeError, limitExceeded } from '../errors.js';
import { NAME_MAX_BYTES, PATH_DEPTH_MAX, PATH_MAX_BYTES } from '../limits.js';

/**
 * The one function that turns a caller's path into the key the catalog stores. Storage,
 * listing and (later) access control all use it, so a path cannot mean one thing to a policy
 * and another to the store. Rules: POSIX separators; relative paths are taken from the root
 * (`a.txt` is `/a.txt`); `.` and empty segments vanish; `..` climbs but never above the root;
 * NUL is refused; the result and each name are bounded in bytes, and depth is bounded.
 */

export const ROOT_PATH = '/';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function canonicalPath(input: unknown): string {
  if (typeof input !== 'string') {
    throw new CartridgeError('EINVAL', 'a path must be a string');
  }
  if (input.length === 0) throw new CartridgeError('EINVAL', 'a path must not be empty');
  if (input.includes('\0')) throw new CartridgeError('EINVAL', 'a path must not contain NUL');
  // Reject absurd inputs before splitting them; the canonical form can only be shorter.
  if (input.length > PATH_MAX_BYTES * 4) {
    throw new CartridgeError('ENAMETOOLONG', `path of ${input.length} characters is too long`);
  }
  // The journal stores paths as UTF-8, where a lone surrogate becomes U+FFFD: the entry would
  // come back under another name after a reopen, or collide with a sibling and fail the open.
  if (LONE_SURROGATE.test(input)) {
    throw new CartridgeError('EINVAL', 'a path must not contain a lone surrogate');
  }
  const segments: string[] = [];
  for (const segment of input.split('/')) {
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
  return path;
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
