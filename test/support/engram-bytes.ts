import { crc32 } from 'node:zlib';

/**
 * An independent writer of Engram archive bytes for tests, written from the layout tables of
 * docs/FORMAT.md and nothing in src/: the golden test compares against it, and the hostile
 * archive tests forge fields with it (overlaps, offsets outside the file, bad paths, bombs).
 */

export interface RawEntry {
  readonly path: string;
  /** The payload as stored. */
  readonly stored: Buffer;
  readonly uncompressedSizeBytes?: number;
  readonly crc32?: number;
  readonly method?: number;
  readonly modifiedTime?: number;
  /** Forge the central directory's offset for this entry. */
  readonly dataOffset?: number;
  /** Forge the path length field of the central directory. */
  readonly centralPathLength?: number;
}

export interface RawArchive {
  readonly versionMajor?: number;
  readonly versionMinor?: number;
  readonly flags?: number;
  readonly entries: readonly RawEntry[];
}

function u64(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(value));
  return bytes;
}

/** Builds a v1 archive (or, for version 0.3, the layout without LOCA headers and ENDR). */
export function buildArchive(archive: RawArchive): Buffer {
  const major = archive.versionMajor ?? 1;
  const minor = archive.versionMinor ?? 0;
  const local = major >= 1;
  const parts: Buffer[] = [Buffer.alloc(64)];
  let position = 64;
  const central: Buffer[] = [];
  for (const entry of archive.entries) {
    const path = Buffer.from(entry.path, 'utf8');
    const uncompressed = entry.uncompressedSizeBytes ?? entry.stored.length;
    const checksum = entry.crc32 ?? crc32(entry.stored);
    const method = entry.method ?? 0;
    const time = entry.modifiedTime ?? 1_800_000_000;
    const offset = position;
    if (local) {
      const header = Buffer.alloc(40 + path.length + 1);
      header.write('LOCA', 0, 'latin1');
      u64(uncompressed).copy(header, 4);
      u64(entry.stored.length).copy(header, 12);
      header.writeUInt32LE(checksum, 20);
      u64(time).copy(header, 24);
      header.writeUInt8(method, 32);
      header.writeUInt16LE(path.length, 34);
      path.copy(header, 40);
      parts.push(header);
      position += header.length;
    }
    parts.push(entry.stored);
    position += entry.stored.length;
    const record = Buffer.alloc(320);
    record.write('CENT', 0, 'latin1');
    u64(entry.dataOffset ?? offset).copy(record, 4);
    u64(uncompressed).copy(record, 12);
    u64(entry.stored.length).copy(record, 20);
    record.writeUInt32LE(checksum, 28);
    u64(time).copy(record, 32);
    record.writeUInt8(method, 40);
    record.writeUInt16LE(entry.centralPathLength ?? path.length, 42);
    path.copy(record, 44);
    central.push(record);
  }
  const directoryOffset = position;
  const directorySize = central.length * 320;
  parts.push(...central);
  const header = parts[0] as Buffer;
  Buffer.from([0x89, 0x45, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt16LE(major, 8);
  header.writeUInt16LE(minor, 10);
  u64(directoryOffset).copy(header, 16);
  u64(directorySize).copy(header, 24);
  header.writeUInt32LE(central.length, 32);
  header.writeUInt32LE(archive.flags ?? 0, 40);
  if (local) {
    const end = Buffer.alloc(64);
    end.write('ENDR', 0, 'latin1');
    end.writeUInt16LE(major, 4);
    end.writeUInt16LE(minor, 6);
    u64(directoryOffset).copy(end, 8);
    u64(directorySize).copy(end, 16);
    end.writeUInt32LE(central.length, 24);
    parts.push(end);
  }
  return Buffer.concat(parts);
}
