import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CartridgeError, fromSystemError, limitExceeded } from '../errors.js';
import type { Storage, StorageFile } from '../journal/io/storage.js';
import { NodeStorage } from '../journal/io/node-storage.js';
import { FILE_SIZE_MAX_BYTES } from '../limits.js';
import { decompressPieceInto, frameCountOf, usesFrames } from './entry-codec.js';
import { EngramView } from './engram-view.js';
import {
  type CentralEntry,
  CENTRAL_ENTRY_SIZE_BYTES,
  decodeCentralEntry,
  decodeEndRecord,
  decodeHeader,
  decodeLocalEntry,
  END_RECORD_SIZE_BYTES,
  EngramMethod,
  engramCorrupt,
  engramUnsupported,
  ENGRAM_ENTRIES_MAX,
  FRAME_INPUT_BYTES,
  HEADER_SIZE_BYTES,
  LOCAL_ENTRY_FIXED_BYTES,
  localEntrySizeBytes,
  localPathLength,
} from './layout.js';
import { type EngramManifest, MANIFEST_PATH, parseManifest } from './manifest.js';
import { checkSignatures, type PublicKey, publicKeyHex, type SignatureCheck } from './signing.js';

/**
 * A read-only Engram archive (v1.x as engram-rs writes it, and the older 0.3 layout). Open
 * reads the header, the end record and the central directory and checks all of them against
 * each other and the file's size: every offset inside the file, entries that do not overlap,
 * safe and unique paths, declared sizes the stored bytes can plausibly hold. Reads then check
 * the local header against the directory, decode within the declared size and check the
 * CRC-32. Anything wrong is a typed error (`ENGRAM_CORRUPT`, `ENGRAM_UNSUPPORTED`), never a
 * hang or an allocation sized by a forged field.
 */

export type EngramCompressionMethod = 'none' | 'lz4' | 'zstd';

export interface EngramEntry {
  /** The path in the archive: no leading slash, `/` separators. */
  readonly path: string;
  readonly sizeBytes: number;
  readonly compressedSizeBytes: number;
  readonly compression: EngramCompressionMethod;
  /** Whether the payload is a container of independently compressed 64 KiB frames. */
  readonly framed: boolean;
  readonly crc32: number;
  /** Unix seconds, as the archive records it. */
  readonly modifiedTime: number;
}

export interface EngramOpenOptions {
  /** The I/O seam to read through; default the real file system. */
  readonly storage?: Storage;
  /**
   * How many times its stored size an entry larger than 64 MiB may declare (default 1024);
   * declarations beyond it are refused at open as decompression bombs.
   */
  readonly expansionRatioMax?: number;
}

export interface EngramVerifyReport {
  /** Whether the archive has a `manifest.json`. */
  readonly hasManifest: boolean;
  /** Why `manifest.json` could not be read (bad CRC, not the typed shape), or null. */
  readonly manifestError: string | null;
  /** Every signature entry, checked against its own public key. */
  readonly signatures: readonly SignatureCheck[];
  /** At least one signature, and every signature valid (engram-rs's `is_fully_signed`). */
  readonly signed: boolean;
  /** With a public key: whether a valid signature by that key is among them. */
  readonly trusted: boolean | undefined;
  /** Files the manifest lists whose content, size or SHA-256 do not match, or are missing. */
  readonly fileMismatches: readonly string[];
  /** Entries whose content fails to decode or fails its CRC-32. */
  readonly unreadable: readonly string[];
  /** Files checked against the manifest. */
  readonly filesChecked: number;
  /** Everything checked passed: signed (and trusted, when asked), every file matching. */
  readonly valid: boolean;
}

const METHOD_NAMES: Record<EngramMethod, EngramCompressionMethod> = {
  [EngramMethod.None]: 'none',
  [EngramMethod.Lz4]: 'lz4',
  [EngramMethod.Zstd]: 'zstd',
};

/** Entries up to this size are never refused for their expansion ratio. */
const EXPANSION_FREE_BYTES = 64 * 1024 * 1024;
const EXPANSION_RATIO_MAX_DEFAULT = 1024;
/** Lengths of the frame container: the count, then a length before each frame. */
const FRAME_LENGTH_BYTES = 4;

export class Engram {
  private readonly entriesByPath = new Map<string, CentralEntry>();
  private cachedManifest: EngramManifest | null | undefined;
  private closed = false;

  private constructor(
    private readonly file: StorageFile,
    /** True for v1 (entries start with a LOCA header); false for the 0.3 layout. */
    private readonly localHeaders: boolean,
    private readonly entries: readonly CentralEntry[],
    /** The archive's version as its header states it, "major.minor". */
    readonly version: string,
  ) {
    for (const entry of entries) this.entriesByPath.set(entry.path, entry);
  }

  /** Opens the archive at `path` and checks its structure; see the class comment. */
  static open(path: string, options: EngramOpenOptions = {}): Engram {
    if (typeof path !== 'string' || path.length === 0) {
      throw new CartridgeError('INVALID_ARGUMENT', 'an archive path must be a non-empty string');
    }
    const ratio = options.expansionRatioMax ?? EXPANSION_RATIO_MAX_DEFAULT;
    if (!Number.isFinite(ratio) || ratio < 1) {
      throw new CartridgeError('INVALID_ARGUMENT', 'expansionRatioMax must be at least 1');
    }
    const storage = options.storage ?? new NodeStorage();
    let file: StorageFile;
    try {
      file = storage.open(path, { create: false, truncate: false, readOnly: true });
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') {
        throw new CartridgeError('ENOENT', `no archive at ${path}`, { path, cause: error });
      }
      throw fromSystemError(error, 'opening an Engram archive');
    }
    try {
      const { localHeaders, entries, version } = readStructure(file, ratio);
      return new Engram(file, localHeaders, entries, version);
    } catch (error) {
      file.close();
      // System errors (EIO) become typed; a failed assertion stays what it is.
      const systemCode = (error as { code?: unknown } | null)?.code;
      if (error instanceof CartridgeError || typeof systemCode !== 'string') throw error;
      throw fromSystemError(error, 'reading an archive');
    }
  }

  /** The entries in central-directory order. */
  list(): EngramEntry[] {
    this.ensureOpen();
    return this.entries.map(publicEntry);
  }

  /** The entry at an archive path (one leading slash is ignored), or undefined. */
  entry(path: string): EngramEntry | undefined {
    this.ensureOpen();
    const found = this.entriesByPath.get(archivePath(path));
    return found === undefined ? undefined : publicEntry(found);
  }

  /** The content of the file at an archive path, its CRC-32 checked. */
  readFile(path: string): Buffer {
    this.ensureOpen();
    const key = archivePath(path);
    const entry = this.entriesByPath.get(key);
    if (entry === undefined) throw new CartridgeError('ENOENT', `no entry ${key}`, { path: key });
    return this.contentOf(entry);
  }

  /** The typed manifest from `manifest.json`, or null when the archive has none. */
  manifest(): EngramManifest | null {
    this.ensureOpen();
    if (this.cachedManifest === undefined) {
      const entry = this.entriesByPath.get(MANIFEST_PATH);
      this.cachedManifest = entry === undefined ? null : parseManifest(this.contentOf(entry));
    }
    return this.cachedManifest;
  }

  /**
   * Checks the signatures of the manifest and every file it lists (size and SHA-256), and
   * decodes every entry (CRC-32). With `publicKey`, also whether that key signed it. Reports
   * what it found rather than throwing for damage.
   */
  verify(publicKey?: PublicKey): EngramVerifyReport {
    this.ensureOpen();
    const trustedKey = publicKey === undefined ? undefined : publicKeyHex(publicKey);
    let manifest: EngramManifest | null = null;
    let manifestError: string | null = null;
    try {
      manifest = this.manifest();
    } catch (error) {
      if (!(error instanceof CartridgeError) || error.code !== 'ENGRAM_CORRUPT') throw error;
      manifestError = error.message;
    }
    const signatures = manifest === null ? [] : checkSignatures(manifest);
    const signed = signatures.length > 0 && signatures.every((check) => check.valid);
    const trusted =
      trustedKey === undefined
        ? undefined
        : signatures.some((check) => check.valid && check.publicKey === trustedKey);
    const unreadable: string[] = [];
    const digests = new Map<string, { sizeBytes: number; sha256: string }>();
    for (const entry of this.entries) {
      try {
        const content = this.contentOf(entry);
        const sha256 = createHash('sha256').update(content).digest('hex');
        digests.set(entry.path, { sizeBytes: content.length, sha256 });
      } catch (error) {
        if (!(error instanceof CartridgeError) || error.code !== 'ENGRAM_CORRUPT') throw error;
        unreadable.push(entry.path);
      }
    }
    const fileMismatches: string[] = [];
    for (const listed of manifest?.files ?? []) {
      const found = digests.get(archivePath(listed.path));
      if (
        found === undefined ||
        found.sizeBytes !== listed.size ||
        found.sha256 !== listed.sha256.toLowerCase()
      ) {
        fileMismatches.push(listed.path);
      }
    }
    return {
      hasManifest: this.entriesByPath.has(MANIFEST_PATH),
      manifestError,
      signatures,
      signed,
      trusted,
      fileMismatches,
      unreadable,
      filesChecked: manifest?.files.length ?? 0,
      valid: signed && trusted !== false && fileMismatches.length === 0 && unreadable.length === 0,
    };
  }

  /** A read-only view with the cartridge's read API over the archive's files. */
  view(): EngramView {
    this.ensureOpen();
    return new EngramView(this.entries.map(publicEntry), {
      read: (path) => this.readFile(path),
      isOpen: () => !this.closed,
    });
  }

  /** Releases the file; later calls throw `CARTRIDGE_CLOSED`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }

  private ensureOpen(): void {
    if (this.closed) throw new CartridgeError('CARTRIDGE_CLOSED', 'the archive is closed');
  }

  /** The payload's offset, after the local header is checked against the directory entry. */
  private payloadOffset(entry: CentralEntry): number {
    if (!this.localHeaders) return entry.dataOffset;
    const fixed = readExactly(this.file, entry.dataOffset, LOCAL_ENTRY_FIXED_BYTES);
    const pathBytes = localPathLength(fixed);
    const local = decodeLocalEntry(
      readExactly(this.file, entry.dataOffset, localEntrySizeBytes(pathBytes)),
    );
    if (
      local.path !== entry.path ||
      local.uncompressedSizeBytes !== entry.uncompressedSizeBytes ||
      local.compressedSizeBytes !== entry.compressedSizeBytes ||
      local.crc32 !== entry.crc32 ||
      local.method !== entry.method
    ) {
      throw engramCorrupt('has a LOCA header that disagrees with its directory entry', entry.path);
    }
    return entry.dataOffset + localEntrySizeBytes(pathBytes);
  }

  private contentOf(entry: CentralEntry): Buffer {
    if (entry.uncompressedSizeBytes > FILE_SIZE_MAX_BYTES) {
      throw limitExceeded(
        `size of ${entry.path}`,
        entry.uncompressedSizeBytes,
        FILE_SIZE_MAX_BYTES,
      );
    }
    const stored = readExactly(this.file, this.payloadOffset(entry), entry.compressedSizeBytes);
    let content: Buffer;
    if (entry.method === EngramMethod.None) content = stored;
    else if (usesFrames(entry.method, entry.uncompressedSizeBytes)) {
      content = decodeFrames(entry, stored);
    } else {
      content = Buffer.allocUnsafe(entry.uncompressedSizeBytes);
      decompressPieceInto(entry.method, stored, content, entry.path);
    }
    if (crc32(content) !== entry.crc32) {
      throw engramCorrupt('has content that fails its CRC-32', entry.path);
    }
    return content;
  }
}

/** A path as callers may spell it: one leading slash is allowed and ignored. */
function archivePath(path: string): string {
  if (typeof path !== 'string') {
    throw new CartridgeError('INVALID_ARGUMENT', 'an archive path must be a string');
  }
  return path.startsWith('/') ? path.slice(1) : path;
}

function publicEntry(entry: CentralEntry): EngramEntry {
  return {
    path: entry.path,
    sizeBytes: entry.uncompressedSizeBytes,
    compressedSizeBytes: entry.compressedSizeBytes,
    compression: METHOD_NAMES[entry.method],
    framed: usesFrames(entry.method, entry.uncompressedSizeBytes),
    crc32: entry.crc32,
    modifiedTime: entry.modifiedTime,
  };
}

function readExactly(file: StorageFile, position: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    let read: number;
    try {
      read = file.read(bytes, done, length - done, position + done);
    } catch (error) {
      throw fromSystemError(error, 'reading an Engram archive');
    }
    if (read === 0) throw engramCorrupt('ends before the data it declares');
    done += read;
  }
  return bytes;
}

/** The frame container: u32 count, then per frame a u32 length and an independent frame. */
function decodeFrames(entry: CentralEntry, stored: Buffer): Buffer {
  const frameCount = frameCountOf(entry.uncompressedSizeBytes);
  if (stored.length < FRAME_LENGTH_BYTES || stored.readUInt32LE(0) !== frameCount) {
    throw engramCorrupt('has a frame container with the wrong frame count', entry.path);
  }
  const content = Buffer.allocUnsafe(entry.uncompressedSizeBytes);
  let offset = FRAME_LENGTH_BYTES;
  for (let index = 0; index < frameCount; index++) {
    if (offset + FRAME_LENGTH_BYTES > stored.length) {
      throw engramCorrupt('has a frame container cut short', entry.path);
    }
    const length = stored.readUInt32LE(offset);
    offset += FRAME_LENGTH_BYTES;
    if (offset + length > stored.length) {
      throw engramCorrupt('has a frame longer than its container', entry.path);
    }
    const start = index * FRAME_INPUT_BYTES;
    const end = Math.min(start + FRAME_INPUT_BYTES, entry.uncompressedSizeBytes);
    decompressPieceInto(
      entry.method,
      stored.subarray(offset, offset + length),
      content.subarray(start, end),
      entry.path,
    );
    offset += length;
  }
  if (offset !== stored.length) {
    throw engramCorrupt('has bytes after the last frame', entry.path);
  }
  return content;
}

interface Structure {
  readonly localHeaders: boolean;
  readonly entries: CentralEntry[];
  readonly version: string;
}

function readStructure(file: StorageFile, expansionRatioMax: number): Structure {
  const fileSizeBytes = file.sizeBytes();
  if (fileSizeBytes < HEADER_SIZE_BYTES) throw engramCorrupt('is shorter than its header');
  const header = decodeHeader(readExactly(file, 0, HEADER_SIZE_BYTES));
  const localHeaders = header.versionMajor >= 1;
  if ((header.flags & 0b11) !== 0) {
    throw engramUnsupported('is encrypted; encrypted archives are not read');
  }
  let directoryEnd = fileSizeBytes;
  if (localHeaders) {
    // engram-rs reads the end record from exactly the last 64 bytes; so do we (no scan back).
    if (fileSizeBytes < HEADER_SIZE_BYTES + END_RECORD_SIZE_BYTES) {
      throw engramCorrupt('is too short to hold its end record');
    }
    directoryEnd = fileSizeBytes - END_RECORD_SIZE_BYTES;
    const end = decodeEndRecord(readExactly(file, directoryEnd, END_RECORD_SIZE_BYTES));
    if (
      end.versionMajor !== header.versionMajor ||
      end.versionMinor !== header.versionMinor ||
      end.centralDirectoryOffset !== header.centralDirectoryOffset ||
      end.centralDirectorySizeBytes !== header.centralDirectorySizeBytes ||
      end.entryCount !== header.entryCount
    ) {
      throw engramCorrupt('has an end record that disagrees with its header');
    }
  }
  const { entryCount, centralDirectoryOffset, centralDirectorySizeBytes } = header;
  if (entryCount > ENGRAM_ENTRIES_MAX) {
    throw engramCorrupt(`declares ${entryCount} entries, over the limit ${ENGRAM_ENTRIES_MAX}`);
  }
  if (centralDirectorySizeBytes !== entryCount * CENTRAL_ENTRY_SIZE_BYTES) {
    throw engramCorrupt('declares a central directory size that does not fit its entry count');
  }
  if (
    centralDirectoryOffset < HEADER_SIZE_BYTES ||
    centralDirectoryOffset + centralDirectorySizeBytes !== directoryEnd
  ) {
    throw engramCorrupt('has a central directory outside its place in the file');
  }
  const directory = readExactly(file, centralDirectoryOffset, centralDirectorySizeBytes);
  const entries: CentralEntry[] = [];
  const paths = new Set<string>();
  for (let index = 0; index < entryCount; index++) {
    const start = index * CENTRAL_ENTRY_SIZE_BYTES;
    const entry = decodeCentralEntry(directory.subarray(start, start + CENTRAL_ENTRY_SIZE_BYTES));
    if (paths.has(entry.path)) throw engramCorrupt('holds a path twice', entry.path);
    paths.add(entry.path);
    checkEntryBounds(entry, localHeaders, centralDirectoryOffset, expansionRatioMax);
    entries.push(entry);
  }
  checkNoOverlap(entries, localHeaders);
  checkTreeShape(paths);
  return { localHeaders, entries, version: `${header.versionMajor}.${header.versionMinor}` };
}

/** The bytes an entry takes in the file: its local header (v1) and its payload. */
function spanOf(entry: CentralEntry, localHeaders: boolean): number {
  const local = localHeaders ? localEntrySizeBytes(Buffer.byteLength(entry.path)) : 0;
  return local + entry.compressedSizeBytes;
}

function checkEntryBounds(
  entry: CentralEntry,
  localHeaders: boolean,
  centralDirectoryOffset: number,
  expansionRatioMax: number,
): void {
  const { path, dataOffset, compressedSizeBytes, uncompressedSizeBytes, method } = entry;
  if (
    dataOffset < HEADER_SIZE_BYTES ||
    dataOffset + spanOf(entry, localHeaders) > centralDirectoryOffset
  ) {
    throw engramCorrupt('has an entry that lies outside the data area', path);
  }
  if (method === EngramMethod.None) {
    if (compressedSizeBytes !== uncompressedSizeBytes) {
      throw engramCorrupt('has a stored entry whose two sizes differ', path);
    }
    return;
  }
  if (
    uncompressedSizeBytes > EXPANSION_FREE_BYTES &&
    uncompressedSizeBytes > compressedSizeBytes * expansionRatioMax
  ) {
    throw engramCorrupt(
      `has an entry declaring ${uncompressedSizeBytes} bytes from ${compressedSizeBytes}`,
      path,
    );
  }
  if (usesFrames(method, uncompressedSizeBytes)) {
    const frameCount = frameCountOf(uncompressedSizeBytes);
    if (compressedSizeBytes < FRAME_LENGTH_BYTES * (frameCount + 1)) {
      throw engramCorrupt('has a frame container too short for its frames', path);
    }
  }
}

function checkNoOverlap(entries: readonly CentralEntry[], localHeaders: boolean): void {
  const sorted = [...entries].sort((left, right) => left.dataOffset - right.dataOffset);
  for (let index = 1; index < sorted.length; index++) {
    const before = sorted[index - 1] as CentralEntry;
    const after = sorted[index] as CentralEntry;
    if (before.dataOffset + spanOf(before, localHeaders) > after.dataOffset) {
      throw engramCorrupt(`has entries ${before.path} and ${after.path} that overlap`, after.path);
    }
  }
}

/** No path may be both a file and the directory of another (`a` and `a/b`). */
function checkTreeShape(paths: ReadonlySet<string>): void {
  for (const path of paths) {
    let slash = path.indexOf('/');
    while (slash !== -1) {
      const directory = path.slice(0, slash);
      if (paths.has(directory)) {
        throw engramCorrupt(`holds ${directory} both as a file and as a directory`, path);
      }
      slash = path.indexOf('/', slash + 1);
    }
  }
}
