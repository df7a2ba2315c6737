import { createHash, type KeyObject, randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { assert } from '../assert.js';
import { CartridgeError, fromSystemError } from '../errors.js';
import type { Storage, StorageFile } from '../journal/io/storage.js';
import {
  compressPiece,
  type EngramCompression,
  chooseMethod,
  frameCountOf,
  usesFrames,
} from './entry-codec.js';
import {
  type CentralEntry,
  EngramMethod,
  encodeCentralEntry,
  encodeEndRecord,
  encodeHeader,
  encodeLocalEntry,
  encodePath,
  ENGRAM_ENTRIES_MAX,
  FRAME_INPUT_BYTES,
  HEADER_SIZE_BYTES,
  localEntrySizeBytes,
  VERSION_MAJOR,
  VERSION_MINOR,
  CENTRAL_ENTRY_SIZE_BYTES,
} from './layout.js';
import {
  compactManifestJson,
  type EngramFileEntry,
  type EngramManifest,
  MANIFEST_PATH,
} from './manifest.js';
import { SIGNATURE_HEX_DIGITS, signManifest } from './signing.js';

/**
 * Writes an Engram v1 archive in one pass with bounded memory: each file is read as a stream
 * of pieces, hashed and compressed as it goes, and written at once. `manifest.json` must come
 * first in the file, yet it lists every file's SHA-256; its length, though, is known before
 * any file is read (every digest is 64 hex digits, a signature 128), so the writer leaves
 * exactly that room after the header and fills it in at the end. The archive is written to a
 * temporary file beside `outPath` and renamed over it once synced, so a failure never leaves
 * half an archive at `outPath`.
 *
 * Memory: a file under 50 MiB is held whole once (with its compressed form) because an LZ4
 * block and the stored-or-compressed decision need all of it; larger files are compressed in
 * 64 KiB frames and written in batches of about 1 MiB.
 */

/** One file to archive: its path in the archive and its content as a stream of pieces. */
export interface EntrySource {
  readonly path: string;
  readonly sizeBytes: number;
  /** Unix seconds. */
  readonly modifiedTime: number;
  /** The content in pieces of any size, `sizeBytes` in all. */
  pieces(): Iterable<Buffer>;
}

export interface WriteProgress {
  /** Uncompressed bytes of the files written so far. */
  readonly bytesDone: number;
  /** Uncompressed bytes of all the files. */
  readonly bytesTotal: number;
}

export interface EngramWritePlan {
  /** The manifest without `files` and `signatures`: the writer fills them in. */
  readonly manifest: Omit<EngramManifest, 'files' | 'signatures'>;
  readonly entries: readonly EntrySource[];
  readonly compression: EngramCompression;
  readonly signing?: {
    readonly key: KeyObject;
    readonly signer?: string;
    readonly timestamp: number;
  };
  readonly onProgress?: (progress: WriteProgress) => void;
}

export interface EngramWriteResult {
  readonly entryCount: number;
  readonly archiveSizeBytes: number;
  readonly manifest: EngramManifest;
}

const PLACEHOLDER_DIGEST = '0'.repeat(64);
const WRITE_BATCH_BYTES = 1024 * 1024;

/** Checks every path before a byte is written: length, repeats, the manifest's own name. */
function checkedPaths(entries: readonly EntrySource[]): Buffer[] {
  if (entries.length + 1 > ENGRAM_ENTRIES_MAX) {
    throw new CartridgeError(
      'LIMIT_EXCEEDED',
      `an archive holds at most ${ENGRAM_ENTRIES_MAX} entries, this one ${entries.length + 1}`,
    );
  }
  const seen = new Set<string>([MANIFEST_PATH]);
  return entries.map((entry) => {
    if (seen.has(entry.path)) {
      throw new CartridgeError('EEXIST', `${entry.path} is twice in the archive`, {
        path: entry.path,
      });
    }
    seen.add(entry.path);
    return encodePath(entry.path);
  });
}

function manifestWith(
  plan: EngramWritePlan,
  files: EngramFileEntry[],
  signatureDigits: boolean,
): EngramManifest {
  const base: EngramManifest = { ...plan.manifest, files, signatures: [] };
  const signing = plan.signing;
  if (signing === undefined || !signatureDigits) return base;
  return {
    ...base,
    signatures: [
      {
        algorithm: 'ed25519',
        public_key: PLACEHOLDER_DIGEST,
        signature: '0'.repeat(SIGNATURE_HEX_DIGITS),
        timestamp: signing.timestamp,
        signer: signing.signer,
      },
    ],
  };
}

/** Writes the archive described by `plan` to `outPath` through `storage`. */
export function writeEngram(
  storage: Storage,
  outPath: string,
  plan: EngramWritePlan,
): EngramWriteResult {
  const pathBytes = checkedPaths(plan.entries);
  const placeholderFiles = plan.entries.map((entry) => ({
    path: entry.path,
    sha256: PLACEHOLDER_DIGEST,
    size: entry.sizeBytes,
  }));
  const manifestSizeBytes = Buffer.byteLength(
    compactManifestJson(manifestWith(plan, placeholderFiles, true)),
  );
  const manifestPathBytes = encodePath(MANIFEST_PATH);
  const temporaryPath = `${outPath}.partial-${randomBytes(6).toString('hex')}`;
  let file: StorageFile | undefined;
  try {
    file = storage.open(temporaryPath, { create: true, truncate: true, readOnly: false });
    const writer = new EntryWriter(file, plan);
    writer.position =
      HEADER_SIZE_BYTES + localEntrySizeBytes(manifestPathBytes.length) + manifestSizeBytes;
    const written: CentralEntry[] = [];
    const files: EngramFileEntry[] = [];
    plan.entries.forEach((entry, index) => {
      const result = writer.writeEntry(entry, pathBytes[index] as Buffer);
      written.push(result.central);
      files.push({ path: entry.path, sha256: result.sha256, size: entry.sizeBytes });
    });

    let manifest = manifestWith(plan, files, false);
    if (plan.signing !== undefined) {
      const { key, signer, timestamp } = plan.signing;
      manifest = { ...manifest, signatures: [signManifest(manifest, key, timestamp, signer)] };
    }
    const manifestBytes = Buffer.from(compactManifestJson(manifest), 'utf8');
    assert(manifestBytes.length === manifestSizeBytes, 'the manifest fills the room left for it');
    const manifestEntry: CentralEntry = {
      path: MANIFEST_PATH,
      dataOffset: HEADER_SIZE_BYTES,
      uncompressedSizeBytes: manifestBytes.length,
      compressedSizeBytes: manifestBytes.length,
      crc32: crc32(manifestBytes),
      modifiedTime: plan.manifest.metadata.created,
      method: EngramMethod.None,
    };
    file.write(
      [encodeLocalEntry(manifestEntry, manifestPathBytes), manifestBytes],
      HEADER_SIZE_BYTES,
    );

    const central = [manifestEntry, ...written];
    const centralDirectoryOffset = writer.position;
    const centralDirectorySizeBytes = central.length * CENTRAL_ENTRY_SIZE_BYTES;
    const directory = central.map((entry, index) =>
      encodeCentralEntry(entry, index === 0 ? manifestPathBytes : (pathBytes[index - 1] as Buffer)),
    );
    const shape = {
      versionMajor: VERSION_MAJOR,
      versionMinor: VERSION_MINOR,
      centralDirectoryOffset,
      centralDirectorySizeBytes,
      entryCount: central.length,
    };
    for (let start = 0; start < directory.length; start += 1024) {
      file.write(
        directory.slice(start, start + 1024),
        centralDirectoryOffset + start * CENTRAL_ENTRY_SIZE_BYTES,
      );
    }
    const endOffset = centralDirectoryOffset + centralDirectorySizeBytes;
    file.write([encodeEndRecord(shape)], endOffset);
    file.write([encodeHeader({ ...shape, flags: 0 })], 0);
    file.sync();
    file.close();
    file = undefined;
    storage.rename(temporaryPath, outPath);
    storage.syncDirectory(dirname(outPath));
    return {
      entryCount: central.length,
      archiveSizeBytes: endOffset + encodeEndRecord(shape).length,
      manifest,
    };
  } catch (error) {
    try {
      file?.close();
    } finally {
      storage.remove(temporaryPath);
    }
    // System errors (EIO, ENOSPC) become typed; a failed assertion stays what it is.
    if (error instanceof CartridgeError || !hasSystemCode(error)) throw error;
    throw fromSystemError(error, 'writing an Engram archive');
  }
}

function hasSystemCode(error: unknown): boolean {
  return typeof (error as { code?: unknown } | null)?.code === 'string';
}

interface WrittenEntry {
  readonly central: CentralEntry;
  readonly sha256: string;
}

/** Writes entries one after another from `position`, reporting progress. */
class EntryWriter {
  position = 0;
  private bytesDone = 0;
  private readonly bytesTotal: number;

  constructor(
    private readonly file: StorageFile,
    private readonly plan: EngramWritePlan,
  ) {
    this.bytesTotal = plan.entries.reduce((sum, entry) => sum + entry.sizeBytes, 0);
  }

  writeEntry(entry: EntrySource, pathBytes: Buffer): WrittenEntry {
    const method = chooseMethod(this.plan.compression, entry.path, entry.sizeBytes);
    const result = usesFrames(method, entry.sizeBytes)
      ? this.writeFramed(entry, pathBytes, method)
      : this.writeWhole(entry, pathBytes, method);
    this.position += localEntrySizeBytes(pathBytes.length) + result.central.compressedSizeBytes;
    return result;
  }

  private progressed(sizeBytes: number): void {
    this.bytesDone += sizeBytes;
    this.plan.onProgress?.({ bytesDone: this.bytesDone, bytesTotal: this.bytesTotal });
  }

  /** A file under the frame threshold: compressed in one piece, stored when that is not smaller. */
  private writeWhole(entry: EntrySource, pathBytes: Buffer, method: EngramMethod): WrittenEntry {
    const pieces: Buffer[] = [];
    let sizeBytes = 0;
    for (const piece of entry.pieces()) {
      pieces.push(piece);
      sizeBytes += piece.length;
    }
    assert(sizeBytes === entry.sizeBytes, `${entry.path} yields the size it declared`);
    const content = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
    let stored = content;
    let storedMethod = EngramMethod.None;
    if (method !== EngramMethod.None && content.length > 0) {
      const compressed = compressPiece(method, content);
      if (compressed.length < content.length) {
        stored = compressed;
        storedMethod = method;
      }
    }
    const central: CentralEntry = {
      path: entry.path,
      dataOffset: this.position,
      uncompressedSizeBytes: content.length,
      compressedSizeBytes: stored.length,
      crc32: crc32(content),
      modifiedTime: entry.modifiedTime,
      method: storedMethod,
    };
    this.file.write([encodeLocalEntry(central, pathBytes), stored], this.position);
    this.progressed(content.length);
    return { central, sha256: createHash('sha256').update(content).digest('hex') };
  }

  /**
   * A file at or over the threshold: a u32 frame count, then per 64 KiB of input a u32
   * compressed length and the frame. Like engram-rs, a framed entry is never stored instead.
   */
  private writeFramed(entry: EntrySource, pathBytes: Buffer, method: EngramMethod): WrittenEntry {
    const payloadStart = this.position + localEntrySizeBytes(pathBytes.length);
    const hash = createHash('sha256');
    let checksum = 0;
    let sizeBytes = 0;
    let payloadBytes = 0;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = (): void => {
      if (batch.length === 0) return;
      this.file.write(batch, payloadStart + payloadBytes);
      payloadBytes += batchBytes;
      batch = [];
      batchBytes = 0;
    };
    const add = (bytes: Buffer): void => {
      batch.push(bytes);
      batchBytes += bytes.length;
      if (batchBytes >= WRITE_BATCH_BYTES) flush();
    };
    const count = Buffer.alloc(4);
    count.writeUInt32LE(frameCountOf(entry.sizeBytes));
    add(count);
    const frame = Buffer.allocUnsafe(FRAME_INPUT_BYTES);
    let frameFill = 0;
    const emit = (input: Buffer): void => {
      // The compressor may return a view of its scratch buffer: the frame is copied out.
      const compressed = compressPiece(method, input);
      const framed = Buffer.allocUnsafe(4 + compressed.length);
      framed.writeUInt32LE(compressed.length, 0);
      compressed.copy(framed, 4);
      add(framed);
    };
    for (const piece of entry.pieces()) {
      hash.update(piece);
      checksum = crc32(piece, checksum);
      sizeBytes += piece.length;
      let offset = 0;
      while (offset < piece.length) {
        const taken = Math.min(FRAME_INPUT_BYTES - frameFill, piece.length - offset);
        piece.copy(frame, frameFill, offset, offset + taken);
        frameFill += taken;
        offset += taken;
        if (frameFill === FRAME_INPUT_BYTES) {
          emit(frame);
          frameFill = 0;
        }
      }
      this.progressed(piece.length);
    }
    if (frameFill > 0) emit(frame.subarray(0, frameFill));
    flush();
    assert(sizeBytes === entry.sizeBytes, `${entry.path} yields the size it declared`);
    const central: CentralEntry = {
      path: entry.path,
      dataOffset: this.position,
      uncompressedSizeBytes: sizeBytes,
      compressedSizeBytes: payloadBytes,
      crc32: checksum,
      modifiedTime: entry.modifiedTime,
      method,
    };
    this.file.write([encodeLocalEntry(central, pathBytes)], this.position);
    return { central, sha256: hash.digest('hex') };
  }
}
