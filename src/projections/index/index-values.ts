import { Packr } from 'msgpackr';
import { CartridgeError } from '../../errors.js';

/**
 * What every fold that keeps values in the index shares: fixed-width hex numbers in keys (so
 * keys sort as the numbers do), and msgpack arrays in values, read as untrusted bytes (anything
 * malformed is `JOURNAL_CORRUPT`, naming the fold).
 */

const HEX_DIGITS = 12;
const packer = new Packr({ useRecords: false, mapsAsObjects: false });

/** A number as 12 hex digits: keys holding it sort in numeric order. */
export function hexKey(value: number): string {
  return value.toString(16).padStart(HEX_DIGITS, '0');
}

/** The number a key ends with (see `hexKey`). */
export function numberAtKeyEnd(key: string): number {
  return Number.parseInt(key.slice(-HEX_DIGITS), 16);
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function packValue(value: unknown[]): Buffer {
  // Copied out of msgpackr's shared output buffer, which the next pack call reuses.
  return Buffer.from(packer.pack(value));
}

/** An index value as an array (of `length` items, when given); `fold` names the owner in errors. */
export function unpackValue(bytes: Buffer, fold: string, length?: number): unknown[] {
  let value: unknown = unpackNumbersDirect(bytes);
  if (value === undefined) {
    try {
      value = packer.unpack(bytes);
    } catch (error) {
      throw new CartridgeError('JOURNAL_CORRUPT', `${fold} value is not msgpack`, {
        cause: error,
      });
    }
  }
  if (!Array.isArray(value) || (length !== undefined && value.length !== length)) {
    throw new CartridgeError('JOURNAL_CORRUPT', `${fold} value malformed`);
  }
  return value as unknown[];
}

/*
 * Most index values are arrays of numbers (a catalog entry, an extent), with a null or a nested
 * array of numbers here and there (a file's inline extents). They are decoded on every lookup
 * that misses the decoded-entry cache, and right after open that runs in code V8 has not
 * optimised, where msgpackr's general decoder (a call per item, a read function per type) was
 * a tenth of a cold read. `unpackNumbersDirect` reads exactly that shape with a few byte reads
 * per item and gives the same array msgpackr gives; for any other byte it returns undefined and
 * msgpackr decides (so damaged bytes are reported as before).
 */

/** Where the direct reader stands in the bytes; reset by each `unpackNumbersDirect`. */
let directPosition = 0;
/** What `directItem` returns for a byte the direct reader leaves to msgpackr. */
const NOT_DIRECT = Symbol('not direct');

/** The value of `bytes` if it is an array of numbers, nulls and arrays of numbers. */
function unpackNumbersDirect(bytes: Buffer): unknown[] | undefined {
  directPosition = 0;
  const value = directArray(bytes, 1);
  if (value === undefined || directPosition !== bytes.length) return undefined;
  return value;
}

/** An array at `directPosition` whose items may nest `depthLeft` more arrays. */
function directArray(bytes: Buffer, depthLeft: number): unknown[] | undefined {
  const at = directPosition;
  if (at >= bytes.length) return undefined;
  const tag = bytes[at] as number;
  let count: number;
  if (tag >= 0x90 && tag <= 0x9f) {
    count = tag - 0x90;
    directPosition = at + 1;
  } else if (tag === 0xdc && at + 3 <= bytes.length) {
    count = bytes.readUInt16BE(at + 1);
    directPosition = at + 3;
  } else {
    return undefined;
  }
  // Each item takes at least one byte: a count past the end is not read by this path.
  if (count > bytes.length - directPosition) return undefined;
  const items = new Array<unknown>(count);
  for (let index = 0; index < count; index++) {
    const item = directItem(bytes, depthLeft);
    if (item === NOT_DIRECT) return undefined;
    items[index] = item;
  }
  return items;
}

function directItem(bytes: Buffer, depthLeft: number): unknown {
  const at = directPosition;
  if (at >= bytes.length) return NOT_DIRECT;
  const tag = bytes[at] as number;
  if (tag < 0x80) {
    directPosition = at + 1;
    return tag;
  }
  if (tag >= 0xe0) {
    directPosition = at + 1;
    return tag - 0x100;
  }
  if (tag === 0xc0) {
    directPosition = at + 1;
    return null;
  }
  if ((tag & 0xf0) === 0x90 || tag === 0xdc) {
    if (depthLeft === 0) return NOT_DIRECT;
    return directArray(bytes, depthLeft - 1) ?? NOT_DIRECT;
  }
  const width = DIRECT_WIDTHS[tag];
  if (width === undefined || at + 1 + width > bytes.length) return NOT_DIRECT;
  directPosition = at + 1 + width;
  switch (tag) {
    case 0xcc:
      return bytes[at + 1] as number;
    case 0xcd:
      return bytes.readUInt16BE(at + 1);
    case 0xce:
      return bytes.readUInt32BE(at + 1);
    case 0xd0:
      return bytes.readInt8(at + 1);
    case 0xd1:
      return bytes.readInt16BE(at + 1);
    case 0xd2:
      return bytes.readInt32BE(at + 1);
    default:
      return bytes.readDoubleBE(at + 1);
  }
}

/** The number types the direct reader takes, by tag, and the bytes after the tag. */
const DIRECT_WIDTHS: Readonly<Record<number, number>> = {
  0xcc: 1,
  0xcd: 2,
  0xce: 4,
  0xd0: 1,
  0xd1: 2,
  0xd2: 4,
  0xcb: 8,
};
