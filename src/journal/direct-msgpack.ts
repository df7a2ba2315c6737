/**
 * A reader (and, at the end, writers) of the few msgpack encodings the engine handles on its
 * hottest paths. The reader takes counts (non-negative safe integers), array headers, nil and
 * byte strings. The direct decoders of a checkpoint root (`event-codec.ts`) and of a catalog
 * entry (`catalog-entry.ts`) read their values with it, byte by byte, where msgpackr's general
 * decoder costs a call per item and a read function per type in code V8 has not optimised yet
 * (right after open). It never throws:
 * on anything it does not read it answers `NOT_DIRECT` (or undefined), and the caller hands the
 * bytes to the general path, which decides, so damaged bytes are reported as before.
 */

/** What a count or length read returns for bytes it does not read (counts are never < 0). */
export const NOT_DIRECT = -1;

const NIL_TAG = 0xc0;

export class DirectReader {
  private bytes: Uint8Array = new Uint8Array(0);
  /** The offset of the next byte to read. */
  position = 0;

  /** Starts reading `bytes` at `position`. */
  reset(bytes: Uint8Array, position = 0): void {
    this.bytes = bytes;
    this.position = position;
  }

  /** Whether every byte was read. */
  get atEnd(): boolean {
    return this.position === this.bytes.length;
  }

  /** The byte at the reading position (undefined past the end), not consumed. */
  peek(): number | undefined {
    return this.bytes[this.position];
  }

  /** Consumes a nil if one is next; says whether it did. */
  nil(): boolean {
    if (this.bytes[this.position] !== NIL_TAG) return false;
    this.position++;
    return true;
  }

  /** A count (msgpack's encodings of a non-negative safe integer), or NOT_DIRECT. */
  count(): number {
    const { bytes } = this;
    const at = this.position;
    const tag = bytes[at];
    if (tag === undefined) return NOT_DIRECT;
    if (tag < 0x80) {
      this.position = at + 1;
      return tag;
    }
    if (tag === 0xcc && at + 2 <= bytes.length) {
      this.position = at + 2;
      return bytes[at + 1] as number;
    }
    if (tag === 0xcd && at + 3 <= bytes.length) {
      this.position = at + 3;
      return ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
    }
    if (tag === 0xce && at + 5 <= bytes.length) {
      this.position = at + 5;
      return (
        (bytes[at + 1] as number) * 0x100_0000 +
        (((bytes[at + 2] as number) << 16) |
          ((bytes[at + 3] as number) << 8) |
          (bytes[at + 4] as number))
      );
    }
    if (tag === 0xcb && at + 9 <= bytes.length) {
      const value = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 8).getFloat64(0);
      if (!Number.isSafeInteger(value) || value < 0) return NOT_DIRECT;
      this.position = at + 9;
      return value;
    }
    return NOT_DIRECT;
  }

  /** The item count of an array header (fixarray or array 16), or NOT_DIRECT. */
  arrayLength(): number {
    const { bytes } = this;
    const at = this.position;
    const tag = bytes[at];
    if (tag === undefined) return NOT_DIRECT;
    if (tag >= 0x90 && tag <= 0x9f) {
      this.position = at + 1;
      return tag - 0x90;
    }
    if (tag === 0xdc && at + 3 <= bytes.length) {
      this.position = at + 3;
      return ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
    }
    return NOT_DIRECT;
  }

  /** A byte string (bin 8 or bin 16) copied out of the bytes, or undefined. */
  byteString(): Buffer | undefined {
    const { bytes } = this;
    const at = this.position;
    const tag = bytes[at];
    let start: number;
    let length: number;
    if (tag === 0xc4 && at + 2 <= bytes.length) {
      start = at + 2;
      length = bytes[at + 1] as number;
    } else if (tag === 0xc5 && at + 3 <= bytes.length) {
      start = at + 3;
      length = ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
    } else {
      return undefined;
    }
    if (start + length > bytes.length) return undefined;
    this.position = start + length;
    return Buffer.from(bytes.subarray(start, start + length));
  }
}

/*
 * The writers give exactly msgpackr's bytes (with `useRecords: false`) for the values they
 * take: the direct encoders of record bodies (`event-codec.ts`) use them, and a test holds the
 * two paths together.
 */

/**
 * Texts up to this many UTF-16 units are first tried as ASCII, a byte per unit copied in a
 * loop: `Buffer.byteLength` and `write` are two calls into native code, which cost more than
 * the copy for the short paths, actors and statement names written most often.
 */
const ASCII_LOOP_MAX_UNITS = 64;

/** A msgpack string as msgpackr writes it: the smallest header for its UTF-8 length. */
export function writeString(target: Buffer, position: number, text: string): number {
  const units = text.length;
  if (units < ASCII_LOOP_MAX_UNITS) {
    // A fixstr (under 32 bytes) or a str 8 header, then the units while they are ASCII.
    const header = units < 0x20 ? 1 : 2;
    let index = 0;
    while (index < units) {
      const unit = text.charCodeAt(index);
      if (unit >= 0x80) break;
      target[position + header + index] = unit;
      index++;
    }
    if (index === units) {
      if (header === 1) {
        target[position] = 0xa0 | units;
      } else {
        target[position] = 0xd9;
        target[position + 1] = units;
      }
      return position + header + units;
    }
    // Not ASCII: the general path below writes over what the loop wrote.
  }
  const lengthBytes = Buffer.byteLength(text, 'utf8');
  let start = position;
  if (lengthBytes < 0x20) {
    target[start++] = 0xa0 | lengthBytes;
  } else if (lengthBytes < 0x100) {
    target[start++] = 0xd9;
    target[start++] = lengthBytes;
  } else if (lengthBytes < 0x10000) {
    target[start++] = 0xda;
    target.writeUInt16BE(lengthBytes, start);
    start += 2;
  } else {
    target[start++] = 0xdb;
    target.writeUInt32BE(lengthBytes, start);
    start += 4;
  }
  return start + target.write(text, start, lengthBytes, 'utf8');
}

/**
 * A msgpack number as msgpackr writes it (with `useRecords: false`): an unsigned integer of 32
 * bits or less in its smallest form, a signed one likewise, anything else as a float64.
 */
export function writeNumber(target: Buffer, position: number, value: number): number {
  if (value >>> 0 === value) {
    if (value < 0x80) {
      target[position] = value;
      return position + 1;
    }
    if (value < 0x100) {
      target[position] = 0xcc;
      target[position + 1] = value;
      return position + 2;
    }
    if (value < 0x10000) {
      target[position] = 0xcd;
      target.writeUInt16BE(value, position + 1);
      return position + 3;
    }
    target[position] = 0xce;
    target.writeUInt32BE(value, position + 1);
    return position + 5;
  }
  if (value >> 0 === value) {
    if (value >= -0x20) {
      target[position] = 0x100 + value;
      return position + 1;
    }
    if (value >= -0x80) {
      target[position] = 0xd0;
      target[position + 1] = value + 0x100;
      return position + 2;
    }
    if (value >= -0x8000) {
      target[position] = 0xd1;
      target.writeInt16BE(value, position + 1);
      return position + 3;
    }
    target[position] = 0xd2;
    target.writeInt32BE(value, position + 1);
    return position + 5;
  }
  target[position] = 0xcb;
  target.writeDoubleBE(value, position + 1);
  return position + 9;
}

export function writeArrayHeader(target: Buffer, position: number, count: number): number {
  if (count < 0x10) {
    target[position] = 0x90 | count;
    return position + 1;
  }
  if (count < 0x10000) {
    target[position] = 0xdc;
    target.writeUInt16BE(count, position + 1);
    return position + 3;
  }
  target[position] = 0xdd;
  target.writeUInt32BE(count, position + 1);
  return position + 5;
}
