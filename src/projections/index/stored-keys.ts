/**
 * Keys as a page stores them: UTF-8 bytes, each preceded by its `u16` length, compared with
 * the strings the tree's callers use, without decoding them.
 *
 * A page read from disk keeps its keys in its bytes: a lookup compares a few of them, and a
 * string per key (a hundred per page, kept as long as the page is cached) was most of what the
 * young generation had to copy on every scavenge while pages came and went.
 *
 * The order is JavaScript's (`<` on strings: UTF-16 code units), which the tree is sorted in.
 * It is the byte order where both sides are ASCII, so bytes below 0x80 are compared as they
 * are; at the first byte of 0x80 or more the key is decoded (as `toString('utf8')` decodes it,
 * malformed bytes included) and the strings are compared. Nearly every key is ASCII.
 */

/** Node's own UTF-8 slice, which `toString('utf8', start, end)` calls after its argument checks. */
interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

const hasUtf8Slice =
  typeof (Buffer.prototype as unknown as Partial<Utf8Slicer>).utf8Slice === 'function';

/** The length in bytes of the key that starts at `start` (its length field is just before). */
export function storedKeyLength(bytes: Buffer, start: number): number {
  return (bytes[start - 2] as number) | ((bytes[start - 1] as number) << 8);
}

/** The key that starts at `start`, decoded. */
export function storedKeyAt(bytes: Buffer, start: number): string {
  const end = start + storedKeyLength(bytes, start);
  return hasUtf8Slice
    ? (bytes as unknown as Utf8Slicer).utf8Slice(start, end)
    : bytes.toString('utf8', start, end);
}

function compareStrings(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * The characters the last `compareFrom` found equal, ASCII each, from the key's start (0 after
 * a comparison that had to decode): what the searches below skip in the next comparison.
 */
let lastCommonLength = 0;

/**
 * The stored key at `start` against `key`, their first `from` characters known equal and
 * ASCII: negative, zero or positive as `<`, `===`, `>`.
 */
function compareFrom(bytes: Buffer, start: number, key: string, from: number): number {
  const length = storedKeyLength(bytes, start);
  const common = length < key.length ? length : key.length;
  for (let at = from; at < common; at++) {
    const byte = bytes[start + at] as number;
    if (byte >= 0x80) {
      lastCommonLength = 0;
      return compareStrings(storedKeyAt(bytes, start), key);
    }
    const code = key.charCodeAt(at);
    // A code unit of 0x80 or more is greater than any ASCII character.
    if (byte !== code) {
      lastCommonLength = at;
      return byte - code;
    }
  }
  // Equal so far, character for byte: the longer is the greater.
  lastCommonLength = common;
  return length - key.length;
}

/** The stored key at `start` against `key`: negative, zero or positive as `<`, `===`, `>`. */
export function compareStoredKey(bytes: Buffer, start: number, key: string): number {
  return compareFrom(bytes, start, key, 0);
}

/** Two stored keys of one page compared, as `compareStoredKey` compares one with a string. */
export function compareStoredKeys(bytes: Buffer, leftStart: number, rightStart: number): number {
  const leftLength = storedKeyLength(bytes, leftStart);
  const rightLength = storedKeyLength(bytes, rightStart);
  const common = leftLength < rightLength ? leftLength : rightLength;
  for (let at = 0; at < common; at++) {
    const left = bytes[leftStart + at] as number;
    const right = bytes[rightStart + at] as number;
    if (left >= 0x80 || right >= 0x80) {
      return compareStrings(storedKeyAt(bytes, leftStart), storedKeyAt(bytes, rightStart));
    }
    if (left !== right) return left - right;
  }
  return leftLength - rightLength;
}

/** The string length (UTF-16 code units) of the key at `start`, as the size estimate counts. */
export function storedKeyStringLength(bytes: Buffer, start: number): number {
  const length = storedKeyLength(bytes, start);
  for (let at = start; at < start + length; at++) {
    if ((bytes[at] as number) >= 0x80) return storedKeyAt(bytes, start).length;
  }
  return length;
}

/*
 * The searches skip what `key` is known to share with the keys they compare it with. Keys of one
 * page share long prefixes (a directory's path), and comparing them character by character from
 * the start made a search eight times slower than one over strings. So a page keeps the length
 * of the ASCII prefix its first and last keys share (`sharedPrefixLength`), which every key in
 * between shares too: `key` is compared with it once, and then every comparison starts after
 * it, and after the shorter of the two prefixes `key` shares with the bounds of the range still
 * searched (a key between two that start with the same characters starts with them too).
 */

/** The length of the ASCII prefix two stored keys share. */
export function sharedPrefixLength(bytes: Buffer, leftStart: number, rightStart: number): number {
  const leftLength = storedKeyLength(bytes, leftStart);
  const rightLength = storedKeyLength(bytes, rightStart);
  const common = leftLength < rightLength ? leftLength : rightLength;
  let at = 0;
  while (at < common) {
    const byte = bytes[leftStart + at] as number;
    if (byte >= 0x80 || byte !== bytes[rightStart + at]) break;
    at++;
  }
  return at;
}

/**
 * Where `key` stands against the prefix every key of a page shares (`prefixLength` ASCII bytes
 * at `start`, the first key): -1 before every key, 1 after every key, 0 when it starts with it.
 */
function againstSharedPrefix(
  bytes: Buffer,
  start: number,
  prefixLength: number,
  key: string,
): number {
  for (let at = 0; at < prefixLength; at++) {
    // A key that is a proper prefix of the shared one comes before every key.
    if (at === key.length) return -1;
    const code = key.charCodeAt(at);
    const byte = bytes[start + at] as number;
    if (code !== byte) return code < byte ? -1 : 1;
  }
  return 0;
}

/**
 * A binary search over a page's stored keys: the first index whose key is >= `key` (as
 * `lowerBound` over strings), or with `countEqual` the number of keys <= `key`, which is the
 * child of a branch that holds it (as `childIndexOf`).
 */
export function storedSearch(
  bytes: Buffer,
  keyStarts: readonly number[],
  prefixLength: number,
  key: string,
  countEqual: boolean,
): number {
  let low = 0;
  let high = keyStarts.length;
  if (high === 0) return 0;
  const side = againstSharedPrefix(bytes, keyStarts[0] as number, prefixLength, key);
  if (side !== 0) return side < 0 ? 0 : high;
  let lowCommon = prefixLength;
  let highCommon = prefixLength;
  const below = countEqual ? 1 : 0;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const from = lowCommon < highCommon ? lowCommon : highCommon;
    // Below `key` (or equal to it, when equal keys are counted): the answer lies after it.
    if (compareFrom(bytes, keyStarts[middle] as number, key, from) < below) {
      low = middle + 1;
      lowCommon = lastCommonLength;
    } else {
      high = middle;
      highCommon = lastCommonLength;
    }
  }
  return low;
}
