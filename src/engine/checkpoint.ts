import { Packr } from 'msgpackr';
import { CartridgeError, journalCorrupt, limitExceeded } from '../errors.js';
import { extentsFromFlat, flattenExtents } from '../journal/event-codec.js';
import { BLOB_MAX_BYTES, CHECKPOINT_PART_MAX_BYTES, CHECKPOINT_PARTS_MAX } from '../limits.js';
import type { Allocator } from '../projections/allocator.js';
import type { Catalog, CatalogNode } from '../projections/catalog.js';

/**
 * A checkpoint is the projection state written into the journal as records, so open can
 * start from it and replay only the tail. Its state is the catalog (every entry with its
 * extents) and the journal spans of live records; the allocator's account is rebuilt from
 * those.
 *
 * The state is a stream of msgpack values, cut into parts (one record each, all in one commit)
 * only between values, so each part decodes on its own and open never holds the decoded state
 * of the whole catalog at once:
 *
 * 1. `[version = 1, nextInode, entryCount, spanCount]`;
 * 2. span chunks `['spans', [offset, lengthBytes, ...]]`, at most 8192 spans each;
 * 3. one value per catalog entry, parents before children:
 *    `[path, kind (0 file, 1 directory), inode, mode, createdAtMs, modifiedAtMs, sizeBytes,
 *    extents]` with extents flat as in record bodies.
 */

const STATE_VERSION = 1;
const SPANS_PER_CHUNK = 8192;
const SPANS_TAG = 'spans';
const packer = new Packr({ useRecords: false, mapsAsObjects: false });

/** Packs values into parts of about CHECKPOINT_PART_MAX_BYTES, cutting only between values. */
class PartWriter {
  readonly parts: Buffer[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  add(value: unknown): void {
    const encoded = Buffer.from(packer.pack(value));
    if (encoded.length > BLOB_MAX_BYTES) {
      throw limitExceeded('checkpoint value bytes', encoded.length, BLOB_MAX_BYTES);
    }
    if (this.pendingBytes + encoded.length > CHECKPOINT_PART_MAX_BYTES) this.cut();
    this.pending.push(encoded);
    this.pendingBytes += encoded.length;
  }

  cut(): void {
    if (this.pending.length === 0) return;
    this.parts.push(Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
    if (this.parts.length > CHECKPOINT_PARTS_MAX) {
      throw limitExceeded('checkpoint parts', this.parts.length, CHECKPOINT_PARTS_MAX);
    }
  }
}

export function encodeCheckpointState(catalog: Catalog, allocator: Allocator): Buffer[] {
  const writer = new PartWriter();
  const spans = allocator.liveSpans();
  writer.add([STATE_VERSION, catalog.nextInode, catalog.entryCount, spans.length]);
  for (let start = 0; start < spans.length; start += SPANS_PER_CHUNK) {
    writer.add([SPANS_TAG, spans.slice(start, start + SPANS_PER_CHUNK).flat()]);
  }
  for (const [path, node] of catalog.allEntries()) {
    const isFile = node.kind === 'file';
    writer.add([
      path,
      isFile ? 0 : 1,
      node.inode,
      node.mode,
      node.createdAtMs,
      node.modifiedAtMs,
      isFile ? node.sizeBytes : 0,
      isFile ? flattenExtents(node.extents) : [],
    ]);
  }
  writer.cut();
  return writer.parts;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function malformed(what: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `checkpoint ${what} malformed`);
}

function countsOf(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount)) throw malformed(what);
  return value as number[];
}

function decodeEntry(value: unknown[]): [string, CatalogNode] {
  // Field by field, without intermediate arrays or spreads: open decodes one entry per file.
  const [path, kind, inode, mode, createdAtMs, modifiedAtMs, sizeBytes, flat] = value;
  if (value.length !== 8 || typeof path !== 'string' || (kind !== 0 && kind !== 1)) {
    throw malformed('entry');
  }
  if (!isCount(inode) || !isCount(mode) || !isCount(createdAtMs) || !isCount(modifiedAtMs)) {
    throw malformed('entry');
  }
  if (!isCount(sizeBytes) || !Array.isArray(flat)) throw malformed('entry');
  if (kind === 1) {
    const children = new Set<string>();
    return [path, { kind: 'directory', inode, mode, createdAtMs, modifiedAtMs, children }];
  }
  const extents = extentsFromFlat(flat);
  return [path, { kind: 'file', inode, mode, createdAtMs, modifiedAtMs, sizeBytes, extents }];
}

interface StateHeader {
  readonly nextInode: number;
  readonly entryCount: number;
  readonly spanCount: number;
}

/** Where decoded checkpoint values go: fresh projections at open, or a collector in tests. */
export interface CheckpointSink {
  span(offset: number, lengthBytes: number): void;
  entry(path: string, node: CatalogNode): void;
  finish(nextInode: number): void;
}

/**
 * Decodes the value stream part by part from untrusted bytes, in the order the format
 * prescribes, checking the counts the first value declares. Malformed input is
 * `JOURNAL_CORRUPT` at the checkpoint's offset.
 */
export class CheckpointDecoder {
  private header: StateHeader | undefined;
  private spansSeen = 0;
  private entriesSeen = 0;

  constructor(
    private readonly sink: CheckpointSink,
    private readonly offset: number,
  ) {}

  addPart(blob: Buffer): void {
    try {
      packer.unpackMultiple(blob, (value: unknown) => {
        this.take(value);
        return true;
      });
    } catch (error) {
      if (error instanceof CartridgeError) throw journalCorrupt(this.offset, error.message);
      throw new CartridgeError('JOURNAL_CORRUPT', 'checkpoint is not msgpack', {
        offset: this.offset,
        cause: error,
      });
    }
  }

  private take(value: unknown): void {
    if (!Array.isArray(value)) throw malformed('value');
    if (this.header === undefined) {
      const [version, nextInode, entryCount, spanCount] = value as unknown[];
      if (value.length !== 4 || version !== STATE_VERSION) throw malformed('header');
      if (!isCount(nextInode) || !isCount(entryCount) || !isCount(spanCount)) {
        throw malformed('header');
      }
      this.header = { nextInode, entryCount, spanCount };
    } else if (value.length === 2 && value[0] === SPANS_TAG) {
      this.takeSpans(countsOf(value[1], 'spans'), this.header);
    } else {
      if (this.spansSeen !== this.header.spanCount) throw malformed('span count');
      if (++this.entriesSeen > this.header.entryCount) throw malformed('entry count');
      const [path, node] = decodeEntry(value as unknown[]);
      this.sink.entry(path, node);
    }
  }

  private takeSpans(flat: number[], header: StateHeader): void {
    if (flat.length % 2 !== 0 || this.entriesSeen > 0) throw malformed('spans');
    this.spansSeen += flat.length / 2;
    if (this.spansSeen > header.spanCount) throw malformed('span count');
    for (let index = 0; index < flat.length; index += 2) {
      const [offset, lengthBytes] = [flat[index] as number, flat[index + 1] as number];
      // Live records lie before the checkpoint; a span past it would size the space map by a
      // forged offset (gigabytes for an offset of 2^40).
      if (offset + lengthBytes > this.offset) throw malformed('span');
      this.sink.span(offset, lengthBytes);
    }
  }

  finish(): void {
    const header = this.header;
    if (header === undefined || this.entriesSeen !== header.entryCount) {
      throw journalCorrupt(this.offset, 'checkpoint is incomplete');
    }
    if (this.spansSeen !== header.spanCount) throw journalCorrupt(this.offset, 'spans missing');
    try {
      this.sink.finish(header.nextInode);
    } catch (error) {
      if (error instanceof CartridgeError) throw journalCorrupt(this.offset, error.message);
      throw error;
    }
  }
}

/** The sink of open: loads straight into fresh projections. */
export function projectionSink(catalog: Catalog, allocator: Allocator): CheckpointSink {
  catalog.beginLoad();
  return {
    span: (offset, lengthBytes) => allocator.loadSpan(offset, lengthBytes),
    entry: (path, node) => {
      catalog.loadEntry(path, node);
      if (node.kind === 'file') allocator.loadFile(node.sizeBytes, node.extents);
    },
    finish: (nextInode) => catalog.finishLoad(nextInode),
  };
}

export interface CheckpointState {
  readonly nextInode: number;
  readonly entries: [string, CatalogNode][];
  readonly spans: [number, number][];
}

/** Decodes a whole encoded state into plain values (tests and fuzzing). */
export function decodeCheckpointState(encoded: Buffer, offset: number): CheckpointState {
  const state = {
    nextInode: 0,
    entries: [] as [string, CatalogNode][],
    spans: [] as [number, number][],
  };
  const decoder = new CheckpointDecoder(
    {
      span: (spanOffset, lengthBytes) => state.spans.push([spanOffset, lengthBytes]),
      entry: (path, node) => state.entries.push([path, node]),
      finish: (nextInode) => {
        state.nextInode = nextInode;
      },
    },
    offset,
  );
  decoder.addPart(encoded);
  decoder.finish();
  return state;
}
