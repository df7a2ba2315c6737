import { Readable, Writable } from 'node:stream';
import type { CartridgeFs } from './cartridge-fs.js';

/**
 * `createReadStream` and `createWriteStream` over the facade's descriptors. A read stream
 * reads `highWaterMark` bytes at a time with ranged reads, from `start` to `end` (inclusive,
 * as Node counts it); a write stream appends each chunk, or writes from `start`. Opening
 * happens in `construct`, so a missing file is an `'error'` event, as with `node:fs`.
 */

export interface ReadStreamOptions {
  readonly encoding?: BufferEncoding;
  readonly start?: number;
  readonly end?: number;
  readonly highWaterMark?: number;
  readonly flags?: string;
}

export interface WriteStreamOptions {
  readonly encoding?: BufferEncoding;
  readonly start?: number;
  readonly flags?: string;
  readonly highWaterMark?: number;
}

const READ_CHUNK_BYTES = 64 * 1024;

function rangeError(name: string, value: unknown): RangeError {
  const error = new RangeError(
    `The value of "${name}" is out of range. ` +
      `It must be >= 0 and <= ${Number.MAX_SAFE_INTEGER}. Received ${String(value)}`,
  ) as RangeError & { code: string };
  error.code = 'ERR_OUT_OF_RANGE';
  return error;
}

function checkPosition(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw rangeError(name, value);
  }
}

export function readStream(fs: CartridgeFs, path: string, options: ReadStreamOptions): Readable {
  checkPosition('start', options.start);
  checkPosition('end', options.end);
  if (options.start !== undefined && options.end !== undefined && options.start > options.end) {
    throw rangeError('start', options.start);
  }
  const chunkBytes = options.highWaterMark ?? READ_CHUNK_BYTES;
  let descriptor: number | undefined;
  let position = options.start ?? 0;
  /** One past the last byte to read (Node's `end` is inclusive). */
  const stop = options.end === undefined ? Infinity : options.end + 1;
  const stream = new Readable({
    highWaterMark: chunkBytes,
    encoding: options.encoding,
    construct(callback) {
      try {
        descriptor = fs.openSync(path, options.flags ?? 'r');
        callback();
        stream.emit('open', descriptor);
        stream.emit('ready');
      } catch (error) {
        callback(error as Error);
      }
    },
    read(size) {
      try {
        const length = Math.min(Math.max(size, 1), stop - position);
        if (length <= 0) {
          this.push(null);
          return;
        }
        const buffer = Buffer.allocUnsafe(length);
        const read = fs.readSync(descriptor as number, buffer, 0, length, position);
        position += read;
        this.push(read === 0 ? null : buffer.subarray(0, read));
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    destroy(error, callback) {
      if (descriptor !== undefined) {
        fs.closeSync(descriptor);
        descriptor = undefined;
      }
      callback(error);
    },
  });
  return Object.assign(stream, { path });
}

export function writeStream(fs: CartridgeFs, path: string, options: WriteStreamOptions): Writable {
  checkPosition('start', options.start);
  let descriptor: number | undefined;
  let bytesWritten = 0;
  const flags = options.flags ?? (options.start === undefined ? 'w' : 'r+');
  const stream = new Writable({
    highWaterMark: options.highWaterMark,
    decodeStrings: true,
    defaultEncoding: options.encoding ?? 'utf8',
    construct(callback) {
      try {
        descriptor = fs.openSync(path, flags);
        callback();
        stream.emit('open', descriptor);
        stream.emit('ready');
      } catch (error) {
        callback(error as Error);
      }
    },
    write(chunk: Buffer, _encoding, callback) {
      try {
        const position = options.start === undefined ? null : options.start + bytesWritten;
        bytesWritten += fs.writeSync(descriptor as number, chunk, 0, chunk.length, position);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    destroy(error, callback) {
      if (descriptor !== undefined) {
        fs.closeSync(descriptor);
        descriptor = undefined;
      }
      callback(error);
    },
  });
  return Object.defineProperties(stream, {
    path: { value: path, enumerable: true },
    bytesWritten: { get: () => bytesWritten, enumerable: true },
  });
}
