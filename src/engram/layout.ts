import { CartridgeError } from '../errors.js';

/**
 * The fixed-size structures of an Engram archive, as engram-rs 1.1.x really writes and reads
 * them (which differs from its own specification in places; see docs/FORMAT.md):
 *
 *   [header 64 B] [LOCA entry + payload]... [central directory: 320 B per entry] [ENDR 64 B]
 *
 * Every integer is little-endian. Encoders take checked values; decoders take untrusted bytes
 * and refuse anything out of range with `ENGRAM_CORRUPT` or `ENGRAM_UNSUPPORTED`, before any
 * length read from the file is used to allocate.
 */

export const ENGRAM_MAGIC = Buffer.from([0x89, 0x45, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
export const LOCAL_ENTRY_MAGIC = Buffer.from('LOCA', 'latin1');
export const CENTRAL_ENTRY_MAGIC = Buffer.from('CENT', 'latin1');
export const END_RECORD_MAGIC = Buffer.from('ENDR', 'latin1');

export const HEADER_SIZE_BYTES = 64;
export const CENTRAL_ENTRY_SIZE_BYTES = 320;
export const END_RECORD_SIZE_BYTES = 64;
/** A local entry is this fixed part, then the path, then one NUL byte. */
export const LOCAL_ENTRY_FIXED_BYTES = 40;

/** The version this implementation writes; it reads 1.x and the 0.3 layout. */
export const VERSION_MAJOR = 1;
export const VERSION_MINOR = 0;

/** Archive paths are at most this many UTF-8 bytes (the central directory's field is 256). */
export const ENGRAM_PATH_MAX_BYTES = 255;
const CENTRAL_PATH_FIELD_BYTES = 256;

/** Files this large or larger are compressed as a container of independent frames. */
export const FRAME_THRESHOLD_BYTES = 52_428_800;
/** Each frame holds this much of the uncompressed file (the last one holds the rest). */
export const FRAME_INPUT_BYTES = 65_536;

/** The entry count of one archive is limited so that a forged count cannot size anything. */
export const ENGRAM_ENTRIES_MAX = 1_000_000;

export const enum EngramMethod {
  None = 0,
  Lz4 = 1,
  Zstd = 2,
}

/** Deflate (3) is named by the specification but implemented by no writer. */
const KNOWN_METHOD_MAX = 2;

export interface EngramHeader {
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly centralDirectoryOffset: number;
  readonly centralDirectorySizeBytes: number;
  readonly entryCount: number;
  /** Bits 0-1: encryption mode (0 none, 1 archive, 2 per file); read for v1 and later. */
  readonly flags: number;
}

/** What a local entry and its central-directory entry both say about a file. */
export interface EntryFields {
  readonly path: string;
  readonly uncompressedSizeBytes: number;
  readonly compressedSizeBytes: number;
  readonly crc32: number;
  /** Unix seconds. */
  readonly modifiedTime: number;
  readonly method: EngramMethod;
}

export interface CentralEntry extends EntryFields {
  /** v1: the offset of the entry's LOCA header; v0.3: the offset of its payload. */
  readonly dataOffset: number;
}

export interface EndRecord {
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly centralDirectoryOffset: number;
  readonly centralDirectorySizeBytes: number;
  readonly entryCount: number;
}

export function engramCorrupt(reason: string, path?: string): CartridgeError {
  return new CartridgeError('ENGRAM_CORRUPT', `engram archive ${reason}`, { path });
}

export function engramUnsupported(reason: string): CartridgeError {
  return new CartridgeError('ENGRAM_UNSUPPORTED', `engram archive ${reason}`);
}

/** A u64 read as a number: anything beyond 2^53 cannot be an offset or size in a real file. */
function readSize(bytes: Buffer, offset: number, what: string): number {
  const value = bytes.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw engramCorrupt(`${what} is out of range`);
  return Number(value);
}

export function encodeHeader(header: EngramHeader): Buffer {
  const bytes = Buffer.alloc(HEADER_SIZE_BYTES);
  ENGRAM_MAGIC.copy(bytes, 0);
  bytes.writeUInt16LE(header.versionMajor, 8);
  bytes.writeUInt16LE(header.versionMinor, 10);
  // Offset 12 is the header CRC: engram-rs writes 0 and never checks it, so we write 0 too.
  bytes.writeBigUInt64LE(BigInt(header.centralDirectoryOffset), 16);
  bytes.writeBigUInt64LE(BigInt(header.centralDirectorySizeBytes), 24);
  bytes.writeUInt32LE(header.entryCount, 32);
  // Offset 36 is the content version (0); offset 40 the flags; the rest is reserved zeros.
  bytes.writeUInt32LE(header.flags, 40);
  return bytes;
}

export function decodeHeader(bytes: Buffer): EngramHeader {
  if (bytes.length < HEADER_SIZE_BYTES) throw engramCorrupt('is shorter than its header');
  if (!bytes.subarray(0, 8).equals(ENGRAM_MAGIC)) throw engramCorrupt('has no Engram magic');
  const versionMajor = bytes.readUInt16LE(8);
  const versionMinor = bytes.readUInt16LE(10);
  if (versionMajor > VERSION_MAJOR) {
    throw engramUnsupported(`has version ${versionMajor}.${versionMinor}; 1.x is the newest`);
  }
  if (versionMajor === 0 && versionMinor < 3) {
    throw engramUnsupported(`has version 0.${versionMinor}; 0.3 is the oldest read`);
  }
  // As in engram-rs, the flags exist from 0.4 on; before that the bytes are reserved.
  const flags = versionMajor >= 1 || versionMinor >= 4 ? bytes.readUInt32LE(40) : 0;
  return {
    versionMajor,
    versionMinor,
    centralDirectoryOffset: readSize(bytes, 16, 'the central directory offset'),
    centralDirectorySizeBytes: readSize(bytes, 24, 'the central directory size'),
    entryCount: bytes.readUInt32LE(32),
    flags,
  };
}

export function encodeEndRecord(end: EndRecord): Buffer {
  const bytes = Buffer.alloc(END_RECORD_SIZE_BYTES);
  END_RECORD_MAGIC.copy(bytes, 0);
  bytes.writeUInt16LE(end.versionMajor, 4);
  bytes.writeUInt16LE(end.versionMinor, 6);
  bytes.writeBigUInt64LE(BigInt(end.centralDirectoryOffset), 8);
  bytes.writeBigUInt64LE(BigInt(end.centralDirectorySizeBytes), 16);
  bytes.writeUInt32LE(end.entryCount, 24);
  // Offset 28 is the archive CRC: always 0 in engram-rs (a TODO there); the rest is reserved.
  return bytes;
}

export function decodeEndRecord(bytes: Buffer): EndRecord {
  if (bytes.length !== END_RECORD_SIZE_BYTES || !bytes.subarray(0, 4).equals(END_RECORD_MAGIC)) {
    throw engramCorrupt('does not end with an ENDR record');
  }
  return {
    versionMajor: bytes.readUInt16LE(4),
    versionMinor: bytes.readUInt16LE(6),
    centralDirectoryOffset: readSize(bytes, 8, 'the end record central directory offset'),
    centralDirectorySizeBytes: readSize(bytes, 16, 'the end record central directory size'),
    entryCount: bytes.readUInt32LE(24),
  };
}

/** The UTF-8 bytes of an archive path, refused with `ENAMETOOLONG` over 255 bytes. */
export function encodePath(path: string): Buffer {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length > ENGRAM_PATH_MAX_BYTES) {
    throw new CartridgeError(
      'ENAMETOOLONG',
      `${path} is ${bytes.length} bytes; an Engram path is at most ${ENGRAM_PATH_MAX_BYTES}`,
      { path },
    );
  }
  return bytes;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * An archive path read from the file, checked: valid UTF-8, relative, no empty, `.` or `..`
 * segment, no NUL. engram-rs turns backslashes into `/` on read, and so do we; it accepts
 * `..` and absolute paths, which we refuse (they would escape wherever an archive is thawed).
 */
export function decodePath(bytes: Buffer): string {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw engramCorrupt('holds an entry path that is not UTF-8');
  }
  const path = text.replace(/\\/g, '/');
  if (path.length === 0) throw engramCorrupt('holds an entry with an empty path');
  if (path.includes('\0')) throw engramCorrupt('holds an entry path with a NUL byte', path);
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) {
    throw engramCorrupt('holds an absolute entry path', path);
  }
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw engramCorrupt('holds an entry path with an empty, "." or ".." segment', path);
    }
  }
  return path;
}

function methodOf(value: number, path: string): EngramMethod {
  if (value === 3) throw engramUnsupported(`entry ${path} uses Deflate, which nothing writes`);
  if (value > KNOWN_METHOD_MAX) throw engramCorrupt(`entry names compression ${value}`, path);
  return value as EngramMethod;
}

/** The local entry header (everything before the payload) of a file. */
export function encodeLocalEntry(fields: EntryFields, pathBytes: Buffer): Buffer {
  const bytes = Buffer.alloc(LOCAL_ENTRY_FIXED_BYTES + pathBytes.length + 1);
  LOCAL_ENTRY_MAGIC.copy(bytes, 0);
  bytes.writeBigUInt64LE(BigInt(fields.uncompressedSizeBytes), 4);
  bytes.writeBigUInt64LE(BigInt(fields.compressedSizeBytes), 12);
  bytes.writeUInt32LE(fields.crc32 >>> 0, 20);
  bytes.writeBigUInt64LE(BigInt(fields.modifiedTime), 24);
  bytes.writeUInt8(fields.method, 32);
  // Offset 33: entry flags, always 0. Offset 34: the path length. Offset 36: reserved.
  bytes.writeUInt16LE(pathBytes.length, 34);
  pathBytes.copy(bytes, LOCAL_ENTRY_FIXED_BYTES);
  // The path is followed by one NUL byte, left by Buffer.alloc.
  return bytes;
}

export function localEntrySizeBytes(pathBytes: number): number {
  return LOCAL_ENTRY_FIXED_BYTES + pathBytes + 1;
}

/** The fixed part of a local entry: its path length, then the whole entry is read. */
export function localPathLength(fixed: Buffer): number {
  if (!fixed.subarray(0, 4).equals(LOCAL_ENTRY_MAGIC)) {
    throw engramCorrupt('has a central directory entry that points at no LOCA header');
  }
  const pathBytes = fixed.readUInt16LE(34);
  if (pathBytes > ENGRAM_PATH_MAX_BYTES) throw engramCorrupt('holds a LOCA path over 255 bytes');
  return pathBytes;
}

export function decodeLocalEntry(bytes: Buffer): EntryFields {
  const pathBytes = localPathLength(bytes);
  if (bytes.length !== localEntrySizeBytes(pathBytes)) throw engramCorrupt('has a short LOCA');
  if (bytes[LOCAL_ENTRY_FIXED_BYTES + pathBytes] !== 0) {
    throw engramCorrupt('has a LOCA path without its NUL terminator');
  }
  const path = decodePath(
    bytes.subarray(LOCAL_ENTRY_FIXED_BYTES, LOCAL_ENTRY_FIXED_BYTES + pathBytes),
  );
  return {
    path,
    uncompressedSizeBytes: readSize(bytes, 4, 'a LOCA uncompressed size'),
    compressedSizeBytes: readSize(bytes, 12, 'a LOCA compressed size'),
    crc32: bytes.readUInt32LE(20),
    modifiedTime: readSize(bytes, 24, 'a LOCA time'),
    method: methodOf(bytes.readUInt8(32), path),
  };
}

export function encodeCentralEntry(entry: CentralEntry, pathBytes: Buffer): Buffer {
  const bytes = Buffer.alloc(CENTRAL_ENTRY_SIZE_BYTES);
  CENTRAL_ENTRY_MAGIC.copy(bytes, 0);
  bytes.writeBigUInt64LE(BigInt(entry.dataOffset), 4);
  bytes.writeBigUInt64LE(BigInt(entry.uncompressedSizeBytes), 12);
  bytes.writeBigUInt64LE(BigInt(entry.compressedSizeBytes), 20);
  bytes.writeUInt32LE(entry.crc32 >>> 0, 28);
  bytes.writeBigUInt64LE(BigInt(entry.modifiedTime), 32);
  bytes.writeUInt8(entry.method, 40);
  // Offset 41: flags, always 0. Offset 44: the path, zero-padded to 256 bytes; 300: reserved.
  bytes.writeUInt16LE(pathBytes.length, 42);
  pathBytes.copy(bytes, 44);
  return bytes;
}

export function decodeCentralEntry(bytes: Buffer): CentralEntry {
  if (!bytes.subarray(0, 4).equals(CENTRAL_ENTRY_MAGIC)) {
    throw engramCorrupt('has a central directory entry without its CENT magic');
  }
  const pathBytes = bytes.readUInt16LE(42);
  // engram-rs panics on a length over 256; a length of 256 would leave no room for the NUL.
  if (pathBytes > ENGRAM_PATH_MAX_BYTES || pathBytes >= CENTRAL_PATH_FIELD_BYTES) {
    throw engramCorrupt(`has a central directory path length of ${pathBytes}`);
  }
  const path = decodePath(bytes.subarray(44, 44 + pathBytes));
  return {
    path,
    dataOffset: readSize(bytes, 4, 'an entry offset'),
    uncompressedSizeBytes: readSize(bytes, 12, 'an uncompressed size'),
    compressedSizeBytes: readSize(bytes, 20, 'a compressed size'),
    crc32: bytes.readUInt32LE(28),
    modifiedTime: readSize(bytes, 32, 'an entry time'),
    method: methodOf(bytes.readUInt8(40), path),
  };
}
