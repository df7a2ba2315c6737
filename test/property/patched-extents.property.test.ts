import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Extent, JournalEvent, JournalRecord } from '../../src/journal/journal-event.js';
import { Catalog, type FileNode } from '../../src/projections/catalog.js';
import { PagedTree } from '../../src/projections/index/paged-tree.js';
import { UndoLog } from '../../src/projections/undo-log.js';
import { MemoryPages } from '../support/memory-pages.js';

/**
 * The catalog's fold of `file.patched` on a file whose extent map lives under index keys reads
 * and rewrites only the extents a patch touches, and counts record references to keep the live
 * bytes (see src/projections/patched-extents.ts). Its oracle is a model that knows, for every
 * byte of the file, which record and which byte of that record's blob holds it: after every
 * record the map must be exactly the run-length encoding of that model (the pieces a full
 * rebuild gives, joined the same way), and the file's `recordBytes` the bytes of the distinct
 * records it refers to. Appends and rewrites in between drop the reference counts, so that
 * the next patch rebuilds them. `PROPERTY_RUNS` / `PROPERTY_SEED` as elsewhere; fast-check
 * prints the seed of a failure.
 */

const NUM_RUNS = Number.parseInt(process.env['PROPERTY_RUNS'] ?? '60', 10) || 60;
const SEED =
  process.env['PROPERTY_SEED'] === undefined ? undefined : Number(process.env['PROPERTY_SEED']);

/** Where each byte of the file lives: a record and a byte of its blob. */
interface ByteModel {
  records: number[];
  blobOffsets: number[];
}

type Step =
  | {
      kind: 'patch';
      sizeDelta: number;
      pieces: { gap: number; lengthBytes: number }[];
      dataChunkBytes: number;
    }
  | { kind: 'append'; lengthBytes: number }
  | { kind: 'write'; chunks: number[] }
  | { kind: 'flush' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('patch' as const),
      sizeDelta: fc.integer({ min: -3000, max: 3000 }),
      pieces: fc.array(
        fc.record({ gap: fc.nat(2500), lengthBytes: fc.integer({ min: 1, max: 1500 }) }),
        { maxLength: 6 },
      ),
      // Content longer than this is split into data records, as the write path does.
      dataChunkBytes: fc.constantFrom(700, 100_000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      lengthBytes: fc.integer({ min: 1, max: 2000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      chunks: fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 5, maxLength: 9 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
);

/** The canonical map of a byte model: runs of one record's consecutive blob bytes. */
function expectedExtents(model: ByteModel, lengths: Map<number, number>): Extent[] {
  const extents: Extent[] = [];
  for (let index = 0; index < model.records.length; index++) {
    const recordOffset = model.records[index] as number;
    const blobOffset = model.blobOffsets[index] as number;
    const last = extents[extents.length - 1];
    if (
      last !== undefined &&
      last.recordOffset === recordOffset &&
      last.blobOffset + last.lengthBytes === blobOffset
    ) {
      extents[extents.length - 1] = { ...last, lengthBytes: last.lengthBytes + 1 };
    } else {
      extents.push({
        recordOffset,
        recordSequence: recordOffset,
        blobOffset,
        lengthBytes: 1,
        recordLengthBytes: lengths.get(recordOffset) as number,
      });
    }
  }
  return extents;
}

class Journal {
  private nextOffset = 8192;
  readonly lengths = new Map<number, number>();

  record(event: JournalEvent, rawBlobLength: number): JournalRecord {
    const offset = this.nextOffset;
    // A record's journal length is its blob plus a body of some size: any length will do.
    const lengthBytes = 44 + 20 + rawBlobLength;
    this.nextOffset += lengthBytes;
    this.lengths.set(offset, lengthBytes);
    return {
      offset,
      sequence: offset,
      lengthBytes,
      rawBlobLength,
      event,
      leafHash: Buffer.alloc(0),
    };
  }

  dataExtent(lengthBytes: number): Extent {
    const record = this.record({ type: 'data' }, lengthBytes);
    return {
      recordOffset: record.offset,
      recordSequence: record.sequence,
      blobOffset: 0,
      lengthBytes,
      recordLengthBytes: record.lengthBytes,
    };
  }

  /** Data records for all but the last `chunkBytes` of `lengthBytes`, as the write path stages. */
  dataExtents(lengthBytes: number, chunkBytes: number): { extents: Extent[]; inlineBytes: number } {
    const extents: Extent[] = [];
    let remaining = lengthBytes;
    while (remaining > chunkBytes) {
      extents.push(this.dataExtent(chunkBytes));
      remaining -= chunkBytes;
    }
    return { extents, inlineBytes: remaining };
  }
}

/** The model bytes a list of content extents (data records, then the own blob) provides. */
function sourceBytes(extents: readonly Extent[], own?: JournalRecord): ByteModel {
  const model: ByteModel = { records: [], blobOffsets: [] };
  for (const extent of extents) {
    for (let at = 0; at < extent.lengthBytes; at++) {
      model.records.push(extent.recordOffset);
      model.blobOffsets.push(extent.blobOffset + at);
    }
  }
  for (let at = 0; at < (own?.rawBlobLength ?? 0); at++) {
    model.records.push((own as JournalRecord).offset);
    model.blobOffsets.push(at);
  }
  return model;
}

describe('a patch of a keyed extent map', () => {
  it('leaves the map and the live bytes a full rebuild gives', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 5, maxLength: 12 }),
        fc.array(step, { minLength: 1, maxLength: 40 }),
        (initialChunks, steps) => {
          const pages = new MemoryPages();
          let tree = new PagedTree(pages, new UndoLog());
          let catalog = new Catalog(tree, new UndoLog());
          const journal = new Journal();
          const path = '/db';
          let model: ByteModel = { records: [], blobOffsets: [] };
          // A write of data records only: every chunk is one record.
          const write = (chunks: readonly number[], first: boolean): void => {
            const content: Extent[] = [];
            for (const chunk of chunks) content.push(journal.dataExtent(chunk));
            const sizeBytes = content.reduce((total, extent) => total + extent.lengthBytes, 0);
            const node = catalog.get(path) as FileNode | undefined;
            const event: JournalEvent = first
              ? {
                  type: 'file.created',
                  path,
                  inode: 2,
                  mode: 0o644,
                  atMs: 1,
                  sizeBytes,
                  extents: content,
                  previous: null,
                }
              : {
                  type: 'file.written',
                  path,
                  atMs: 1,
                  sizeBytes,
                  extents: content,
                  previous: (node as FileNode).versionOffset,
                };
            catalog.evolve(journal.record(event, 0));
            model = sourceBytes(content);
          };
          write(initialChunks, true);
          for (const current of steps) {
            const file = catalog.get(path) as FileNode;
            const oldSize = model.records.length;
            if (current.kind === 'flush') {
              tree.flush((node) => pages.write(node));
              tree = new PagedTree(pages, new UndoLog(), tree.rootRef);
              catalog = new Catalog(tree, new UndoLog(), catalog.state);
            } else if (current.kind === 'write') {
              write(current.chunks, false);
            } else if (current.kind === 'append') {
              const record = journal.record(
                {
                  type: 'file.appended',
                  path,
                  atMs: 2,
                  sizeBytes: oldSize + current.lengthBytes,
                  extents: [],
                  previous: file.versionOffset,
                },
                current.lengthBytes,
              );
              catalog.evolve(record);
              const added = sourceBytes([], record);
              model = {
                records: [...model.records, ...added.records],
                blobOffsets: [...model.blobOffsets, ...added.blobOffsets],
              };
            } else {
              const sizeBytes = Math.max(0, oldSize + current.sizeDelta);
              const ranges: number[] = [];
              let position = 0;
              for (const piece of current.pieces) {
                const offset = Math.min(position + piece.gap, Math.min(oldSize, sizeBytes));
                const lengthBytes = Math.min(piece.lengthBytes, sizeBytes - offset);
                if (offset < position || lengthBytes <= 0) break;
                ranges.push(offset, lengthBytes);
                position = offset + lengthBytes;
              }
              const covered = Math.max(Math.min(oldSize, sizeBytes), position);
              if (covered < sizeBytes) ranges.push(covered, sizeBytes - covered);
              let contentBytes = 0;
              for (let index = 1; index < ranges.length; index += 2) {
                contentBytes += ranges[index] as number;
              }
              const { extents, inlineBytes } = journal.dataExtents(
                contentBytes,
                current.dataChunkBytes,
              );
              const record = journal.record(
                {
                  type: 'file.patched',
                  path,
                  atMs: 3,
                  sizeBytes,
                  ranges,
                  extents,
                  previous: file.versionOffset,
                },
                inlineBytes,
              );
              catalog.evolve(record);
              const source = sourceBytes(extents, record);
              const next: ByteModel = {
                records: model.records.slice(0, sizeBytes),
                blobOffsets: model.blobOffsets.slice(0, sizeBytes),
              };
              let sourceIndex = 0;
              for (let index = 0; index < ranges.length; index += 2) {
                const offset = ranges[index] as number;
                const lengthBytes = ranges[index + 1] as number;
                for (let at = 0; at < lengthBytes; at++) {
                  next.records[offset + at] = source.records[sourceIndex] as number;
                  next.blobOffsets[offset + at] = source.blobOffsets[sourceIndex] as number;
                  sourceIndex++;
                }
              }
              model = next;
            }
            const after = catalog.get(path) as FileNode;
            const expected = expectedExtents(model, journal.lengths);
            const extents = catalog.extentsOf(after);
            expect(after.sizeBytes).toBe(model.records.length);
            expect(after.extentCount).toBe(extents.length);
            expect(extents).toEqual(expected);
            const live = new Set(extents.map((extent) => extent.recordOffset));
            let recordBytes = 0;
            for (const recordOffset of live)
              recordBytes += journal.lengths.get(recordOffset) as number;
            expect(after.recordBytes).toBe(recordBytes);
          }
        },
      ),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  });
});
