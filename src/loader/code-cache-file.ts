import { createHash } from 'node:crypto';
import { assert } from '../assert.js';

/**
 * The file that holds V8's code cache for a bundle: a first line naming the format, a second
 * line of JSON saying what the cache was made for and the digest of what follows, then V8's
 * bytes.
 *
 *     cartridge-vfs code cache 1\n
 *     {"bundleDigest":"<sha256 hex>","node":"v20.20.2","arch":"x64","dataDigest":"<sha256>"}\n
 *     <the bytes of vm.Script#createCachedData()>
 *
 * V8 checks its own version, its flags and the source's length before it uses a cache; it does
 * not check the source's text. The bundle's digest (its first line, written by the build) is
 * what ties a cache to the code it was made from, so a rebuilt bundle of the same length never
 * runs the previous build's bytecode. Nor does a release build of V8 check the cache's own
 * bytes: it would deserialise a damaged file as bytecode, so the header states their SHA-256,
 * checked before V8 is offered them (about 0.2 ms for the engine's 470 KB).
 */

const MAGIC_LINE = 'cartridge-vfs code cache 1';
/** The two text lines are short; anything longer is not a cache of ours. */
const HEADER_LIMIT_BYTES = 4096;
const NEWLINE = 0x0a;

export interface CodeCacheTarget {
  /** The SHA-256 of the bundle's code, as its first line states it. */
  readonly bundleDigest: string;
  readonly node: string;
  readonly arch: string;
}

export interface CodeCacheContents {
  readonly target: CodeCacheTarget;
  readonly data: Buffer;
}

/** The target of a cache made in this process for a bundle of this digest. */
export function currentTarget(bundleDigest: string): CodeCacheTarget {
  return { bundleDigest, node: process.version, arch: process.arch };
}

export function encodeCodeCache(target: CodeCacheTarget, data: Uint8Array): Buffer {
  const header = `${MAGIC_LINE}\n${JSON.stringify({ ...target, dataDigest: digestOf(data) })}\n`;
  assert(Buffer.byteLength(header) <= HEADER_LIMIT_BYTES, 'code cache header too long');
  return Buffer.concat([Buffer.from(header, 'utf8'), data]);
}

/**
 * The cache's target and bytes; `'damaged'` when the bytes after the header are not those its
 * digest names; null when these bytes are not a cache file of ours.
 */
export function decodeCodeCache(bytes: Buffer): CodeCacheContents | 'damaged' | null {
  const magicEnd = bytes.indexOf(NEWLINE);
  if (magicEnd < 0 || bytes.toString('utf8', 0, magicEnd) !== MAGIC_LINE) return null;
  const headerEnd = bytes.indexOf(NEWLINE, magicEnd + 1);
  if (headerEnd < 0 || headerEnd > HEADER_LIMIT_BYTES) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8', magicEnd + 1, headerEnd));
  } catch {
    return null;
  }
  if (!isHeader(parsed)) return null;
  const data = bytes.subarray(headerEnd + 1);
  if (digestOf(data) !== parsed.dataDigest) return 'damaged';
  const target = { bundleDigest: parsed.bundleDigest, node: parsed.node, arch: parsed.arch };
  return { target, data };
}

export function sameTarget(left: CodeCacheTarget, right: CodeCacheTarget): boolean {
  return (
    left.bundleDigest === right.bundleDigest && left.node === right.node && left.arch === right.arch
  );
}

function digestOf(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function isHeader(value: unknown): value is CodeCacheTarget & { readonly dataDigest: string } {
  if (typeof value !== 'object' || value === null) return false;
  const fields = value as Record<string, unknown>;
  return (
    typeof fields.bundleDigest === 'string' &&
    typeof fields.node === 'string' &&
    typeof fields.arch === 'string' &&
    typeof fields.dataDigest === 'string'
  );
}
