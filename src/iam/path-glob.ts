import { CartridgeError } from '../errors.js';
import { PolicyRejection } from './policy-rejection.js';
import { compileResourcePattern, segmentsOf } from './resource-pattern.js';

/**
 * A glob over canonical paths for filters (change streams, audit queries), with exactly the
 * syntax and matching of policy resources (`*` one name, `?` one character, `**` zero or more
 * names; made canonical first): a subscriber's filter and the policy that guards it read a
 * pattern the same way, and matching is bounded in time however the pattern is written.
 */
export function compilePathGlob(glob: unknown): (canonicalPath: string) => boolean {
  let pattern;
  try {
    pattern = compileResourcePattern(glob);
  } catch (error) {
    if (!(error instanceof PolicyRejection)) throw error;
    throw new CartridgeError('INVALID_ARGUMENT', `path pattern: ${error.message}`);
  }
  return (path) => pattern.matchesSegments(segmentsOf(path));
}
