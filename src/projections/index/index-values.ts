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
  let value: unknown;
  try {
    value = packer.unpack(bytes);
  } catch (error) {
    throw new CartridgeError('JOURNAL_CORRUPT', `${fold} value is not msgpack`, { cause: error });
  }
  if (!Array.isArray(value) || (length !== undefined && value.length !== length)) {
    throw new CartridgeError('JOURNAL_CORRUPT', `${fold} value malformed`);
  }
  return value as unknown[];
}
