import { CartridgeError } from '../errors.js';
import { canonicalPath } from '../path/canonical-path.js';
import { PATTERN_WILDCARDS_MAX, RESOURCE_PATTERN_MAX_BYTES } from './policy-limits.js';
import { PolicyRejection, quoted } from './policy-rejection.js';
import { ANY_RUN, compileTextPattern, matchesWithRuns, type PatternElement } from './wildcard.js';
import type { TextPattern } from './wildcard.js';

/**
 * A statement's `Resource`: a path pattern where `*` matches any run of characters inside one
 * segment, `?` one character of a segment, and a `**` segment zero or more whole segments.
 * Dot-files are names like any other (`/docs/*` matches `/docs/.env`). The pattern is made
 * canonical by the same function as the paths it is matched against, so no spelling of a path
 * reaches a file its canonical form would be denied: `/docs/../secret/*` is `/secret/*`.
 *
 * Why not the change streams' `compileGlob`: it compiles to a regular expression, whose
 * backtracking over several `**` segments grows with the depth to the power of their number, and
 * its `/*` matches the root; a policy pattern is untrusted and decides every operation, so it is
 * matched segment by segment in bounded time, and `*` always stands for one name.
 */

export interface ResourcePattern {
  /** The canonical spelling: what a serialised policy stores. */
  readonly source: string;
  /** Whether a canonical path, split into its names, matches. The root has no names. */
  matchesSegments(segments: readonly string[]): boolean;
}

/** `Resource: "*"` is AWS's spelling of "everything": here, every path. */
const EVERYTHING = '*';

/** A segment is a literal name, or a compiled `*`/`?` pattern. */
type SegmentElement = string | TextPattern;

function matchesSegment(element: SegmentElement, segment: string): boolean {
  return typeof element === 'string' ? element === segment : element.matches(segment);
}

/** The names of a canonical path: none for the root. */
export function segmentsOf(canonical: string): string[] {
  return canonical === '/' ? [] : canonical.slice(1).split('/');
}

/**
 * `..` resolves lexically, which is only what the author meant after a literal name:
 * `/a/*\/..` could mean `/a` or nothing, and `/a/**\/..` either `/` or `/a` and below.
 */
function refuseClimbOutOfWildcard(pattern: string): void {
  const stack: string[] = [];
  for (const segment of pattern.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      const climbed = stack.pop();
      if (climbed !== undefined && /[*?]/.test(climbed)) {
        throw new PolicyRejection(`pattern ${quoted(pattern)} climbs out of a wildcard with ..`);
      }
      continue;
    }
    stack.push(segment);
  }
}

function canonicalPatternOf(pattern: string): string {
  try {
    return canonicalPath(pattern);
  } catch (error) {
    if (!(error instanceof CartridgeError)) throw error;
    throw new PolicyRejection(`pattern ${quoted(pattern)} is not a valid path: ${error.message}`);
  }
}

export function compileResourcePattern(pattern: unknown): ResourcePattern {
  if (typeof pattern !== 'string') {
    throw new PolicyRejection(`a resource must be a string, not ${quoted(pattern)}`);
  }
  const spelling = pattern === EVERYTHING ? '/**' : pattern;
  if (!spelling.startsWith('/')) {
    throw new PolicyRejection(`pattern ${quoted(pattern)} must start with / (or be "*")`);
  }
  // Bytes are at least characters, so the cheap check first keeps a huge string from a scan.
  const sizeBytes =
    spelling.length > RESOURCE_PATTERN_MAX_BYTES ? spelling.length : Buffer.byteLength(spelling);
  if (sizeBytes > RESOURCE_PATTERN_MAX_BYTES) {
    throw new PolicyRejection(
      `pattern of ${sizeBytes} bytes is longer than ${RESOURCE_PATTERN_MAX_BYTES} bytes`,
    );
  }
  // `${aws:username}` is a variable in AWS; read literally it would silently match nothing.
  if (spelling.includes('${')) {
    throw new PolicyRejection(`pattern ${quoted(pattern)}: policy variables are not supported`);
  }
  refuseClimbOutOfWildcard(spelling);
  const canonical = canonicalPatternOf(spelling);
  const segments: string[] = [];
  for (const segment of segmentsOf(canonical)) {
    if (segment === '**') {
      // `/**/**` means what `/**` means; one run keeps the matcher's retries few.
      if (segments[segments.length - 1] !== '**') segments.push(segment);
      continue;
    }
    if (segment.includes('**')) {
      throw new PolicyRejection(`pattern ${quoted(pattern)}: ** must be a whole path segment`);
    }
    segments.push(segment);
  }
  const elements: PatternElement<SegmentElement>[] = [];
  let wildcardCount = 0;
  for (const segment of segments) {
    if (segment === '**') {
      wildcardCount += 1;
      elements.push(ANY_RUN);
      continue;
    }
    const compiled = compileTextPattern(segment);
    wildcardCount += compiled.wildcardCount;
    elements.push(compiled.wildcardCount === 0 ? segment : compiled);
  }
  if (wildcardCount > PATTERN_WILDCARDS_MAX) {
    throw new PolicyRejection(
      `pattern ${quoted(pattern)} has ${wildcardCount} wildcards, ` +
        `the limit is ${PATTERN_WILDCARDS_MAX}`,
    );
  }
  return {
    source: `/${segments.join('/')}`,
    matchesSegments: (pathSegments) => matchesWithRuns(elements, pathSegments, matchesSegment),
  };
}
