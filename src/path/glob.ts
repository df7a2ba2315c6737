import { CartridgeError, limitExceeded } from '../errors.js';
import { PATH_MAX_BYTES } from '../limits.js';
import { canonicalPath } from './canonical-path.js';

/**
 * Globs over canonical paths, for change-stream filters (and policies later): `*` matches
 * within one path segment, `**` zero or more whole segments, `?` one character of a segment.
 * The pattern is made canonical by the same function as the paths it is matched against, so
 * no spelling of a path (`//`, `.`, `..`) escapes a pattern its canonical form would match.
 */

export type PathMatcher = (path: string) => boolean;

function escapeLiteral(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}

function segmentPattern(segment: string): string {
  let pattern = '';
  for (const character of segment) {
    if (character === '*') pattern += '[^/]*';
    else if (character === '?') pattern += '[^/]';
    else pattern += escapeLiteral(character);
  }
  return pattern;
}

export function compileGlob(glob: string): PathMatcher {
  if (typeof glob !== 'string' || !glob.startsWith('/')) {
    throw new CartridgeError('INVALID_ARGUMENT', 'a path pattern must start with /');
  }
  const sizeBytes = Buffer.byteLength(glob, 'utf8');
  if (sizeBytes > PATH_MAX_BYTES) throw limitExceeded('pattern length', sizeBytes, PATH_MAX_BYTES);
  const canonical = canonicalPath(glob);
  if (canonical === '/') return (path) => path === '/';
  const segments = canonical.slice(1).split('/');
  let pattern = '';
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '**') {
      // Zero or more whole segments: `/a/**` matches `/a` and everything below it.
      pattern += last ? '(?:/.*)?' : '(?:/[^/]+)*';
      return;
    }
    if (segment.includes('**')) {
      throw new CartridgeError('INVALID_ARGUMENT', '** must be a whole path segment');
    }
    pattern += `/${segmentPattern(segment)}`;
  });
  const expression = new RegExp(`^${pattern}$`, 'u');
  return (path) => expression.test(path);
}
