import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPlainCanonical } from '../path/canonical-path.js';
import { nodeError } from './node-error.js';

/**
 * Arguments of the fs facade in the shapes `node:fs` accepts: paths as strings, Buffers or
 * `file:` URLs, relative to `/` (a cartridge has no working directory); options as an object
 * or an encoding string; data as a string, a Buffer, a typed array or a DataView.
 */

export type PathLike = string | Buffer | URL;
export type FsData = string | NodeJS.ArrayBufferView;

/** Node's type error for an argument of the wrong type. */
function invalidType(name: string, value: unknown): TypeError {
  const error = new TypeError(
    `The "${name}" argument must be of type string or an instance of Buffer or URL. ` +
      `Received ${typeof value}`,
  ) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

/** The path as the caller spelled it, for error messages (as Node reports it). */
export function spelledPath(value: unknown, name = 'path'): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof URL) return fileURLToPath(value);
  throw invalidType(name, value);
}

/**
 * The cartridge path a facade path names: resolved against `/`, with a trailing slash kept
 * (it means "must be a directory", which the engine checks). An empty path names nothing, as
 * in Node.
 */
export function cartridgePathOf(spelled: string, syscall: string): string {
  // A plain canonical path (absolute, printable ASCII, no empty, `.` or `..` segment, no
  // trailing slash) is what `resolve` would return unchanged, and what programs pass almost
  // always: it skips the resolution, a fifth of a warm 4 KiB read through the facade.
  if (isPlainCanonical(spelled)) return spelled;
  if (spelled.length === 0) throw nodeError('ENOENT', syscall, spelled);
  if (spelled.includes('\0')) {
    const error = new TypeError(
      "The argument 'path' must be a string without null bytes",
    ) as TypeError & { code: string };
    error.code = 'ERR_INVALID_ARG_VALUE';
    throw error;
  }
  const resolved = posix.resolve('/', spelled);
  return spelled.endsWith('/') && resolved !== '/' ? `${resolved}/` : resolved;
}

/** The path without a trailing slash (what a parent lookup wants). */
export function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export interface EncodingOptions {
  readonly encoding?: BufferEncoding | null;
  readonly flag?: string;
}

/** Options given as an encoding string or an object (or nothing). */
export function encodingOptions(options: unknown): EncodingOptions {
  if (options === undefined || options === null) return {};
  if (typeof options === 'string') return { encoding: options as BufferEncoding };
  if (typeof options === 'object') return options as EncodingOptions;
  const error = new TypeError(
    'The "options" argument must be of type string or object',
  ) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  throw error;
}

/** Bytes of data given as text (in `encoding`, UTF-8 by default) or as binary views. */
export function bytesOf(data: unknown, encoding: BufferEncoding | null | undefined): Buffer {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const error = new TypeError(
    'The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView',
  ) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  throw error;
}

/** Content returned as a Buffer, or as text when an encoding is asked for. */
export function decoded(
  bytes: Buffer,
  encoding: BufferEncoding | null | undefined,
): Buffer | string {
  return encoding === undefined || encoding === null || (encoding as string) === 'buffer'
    ? bytes
    : bytes.toString(encoding);
}
