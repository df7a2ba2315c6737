/**
 * Matching with wildcards in time proportional to the pattern times the text at worst, with no
 * regular expression to backtrack: a policy is untrusted, and a pattern with several `**`
 * segments against a path 255 segments deep must not cost seconds. The classic greedy algorithm
 * (remember the last run wildcard, retry one step later on a mismatch) is correct for any
 * element that matches exactly one item, so one function serves characters inside a name
 * (`*`, `?`) and segments inside a path (`**`).
 */

/** A pattern element that matches any run of items, the empty run included. */
export const ANY_RUN: unique symbol = Symbol('any run');

/** A pattern element that matches exactly one item, whatever it is. */
export const ANY_ONE: unique symbol = Symbol('any one');

export type PatternElement<Element> = Element | typeof ANY_RUN;

export function matchesWithRuns<Element, Item>(
  pattern: readonly PatternElement<Element>[],
  items: readonly Item[],
  matchesOne: (element: Element, item: Item) => boolean,
): boolean {
  let patternIndex = 0;
  let itemIndex = 0;
  let runPatternIndex = -1;
  let runItemIndex = 0;
  while (itemIndex < items.length) {
    const element = pattern[patternIndex];
    if (element === ANY_RUN) {
      runPatternIndex = patternIndex;
      runItemIndex = itemIndex;
      patternIndex += 1;
      continue;
    }
    if (patternIndex < pattern.length && matchesOne(element as Element, items[itemIndex] as Item)) {
      patternIndex += 1;
      itemIndex += 1;
      continue;
    }
    if (runPatternIndex < 0) return false;
    // The last run takes one more item, and the rest of the pattern is tried from there.
    patternIndex = runPatternIndex + 1;
    runItemIndex += 1;
    itemIndex = runItemIndex;
  }
  while (pattern[patternIndex] === ANY_RUN) patternIndex += 1;
  return patternIndex === pattern.length;
}

/** A compiled text pattern: `*` any run of characters, `?` one character (a code point). */
export interface TextPattern {
  readonly source: string;
  /** The `*` and `?` it holds. */
  readonly wildcardCount: number;
  matches(text: string): boolean;
}

type CharacterElement = string | typeof ANY_ONE;

function matchesCharacter(element: CharacterElement, character: string): boolean {
  return element === ANY_ONE || element === character;
}

/** Compiles `*` and `?` in `source`; every other character is literal. */
export function compileTextPattern(source: string): TextPattern {
  const elements: PatternElement<CharacterElement>[] = [];
  let wildcardCount = 0;
  for (const character of source) {
    if (character === '*') {
      wildcardCount += 1;
      // Adjacent runs mean the same as one and would only slow the retries down.
      if (elements[elements.length - 1] !== ANY_RUN) elements.push(ANY_RUN);
    } else if (character === '?') {
      wildcardCount += 1;
      elements.push(ANY_ONE);
    } else {
      elements.push(character);
    }
  }
  if (wildcardCount === 0) return { source, wildcardCount, matches: (text) => text === source };
  return {
    source,
    wildcardCount,
    matches: (text) => matchesWithRuns(elements, Array.from(text), matchesCharacter),
  };
}
