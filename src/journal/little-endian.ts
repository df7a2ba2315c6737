import { assert } from '../assert.js';

/**
 * Little-endian integers read and written with plain byte arithmetic. Frame headers and index
 * pages are encoded and decoded on every record and every page: `Buffer`'s checked methods (a
 * call into Node's internals, range checks, a `BigInt` for 64-bit fields) cost more there than
 * the rest of the work, and right after open they run in code V8 has not optimised yet.
 */

export function u16At(bytes: Buffer, position: number): number {
  return (bytes[position] as number) | ((bytes[position + 1] as number) << 8);
}

export function u32At(bytes: Buffer, position: number): number {
  return u16At(bytes, position) + u16At(bytes, position + 2) * 0x1_0000;
}

/** Stores a 16-bit unsigned integer (the caller has bounded `value`). */
export function putU16(target: Buffer, position: number, value: number): void {
  assert(value >= 0 && value <= 0xffff, 'a 16-bit field is out of range');
  target[position] = value & 0xff;
  target[position + 1] = value >>> 8;
}

/** Stores a 32-bit unsigned integer (the caller has bounded `value`). */
export function putU32(target: Buffer, position: number, value: number): void {
  assert(value >= 0 && value <= 0xffff_ffff, 'a 32-bit field is out of range');
  target[position] = value & 0xff;
  target[position + 1] = (value >>> 8) & 0xff;
  target[position + 2] = (value >>> 16) & 0xff;
  target[position + 3] = (value >>> 24) & 0xff;
}
