import type { KeyObject } from 'node:crypto';
import { assert } from '../assert.js';
import { CartridgeError, limitExceeded } from '../errors.js';
import type { CompressionEffort } from '../journal/compression.js';
import type { Extent, JournalEvent, JournalRecord } from '../journal/journal-event.js';
import { Slab } from '../journal/slab.js';
import {
  DATA_RECORD_MAX_BYTES,
  FILE_SIZE_MAX_BYTES,
  PATCH_RANGES_MAX,
  SMALL_EXTENT_BYTES,
} from '../limits.js';
import { nameOf, parentOf, parsePath, ROOT_PATH } from '../path/canonical-path.js';
import {
  DIRECTORY_MODE_DEFAULT,
  type DirectoryNode,
  FILE_MODE_DEFAULT,
  type FileChange,
  type FileNode,
} from '../projections/catalog.js';
import { applyRecord } from '../projections/projection-set.js';
import { AppendBuffer, lengthBytesAtMost } from './append-buffer.js';
import {
  AppendedFiles,
  type ConsolidationStep,
  consolidationDue,
  tailConsolidationDue,
} from './consolidation.js';
import { type MovedPath, planMove, requireMovable } from './move-plan.js';
import type { ContentReader } from './content-reader.js';
import type { OpenedJournal } from './open-journal.js';
import type { OperationGate, Principal } from './operation-gate.js';
import type { AuditLane } from './audit-lane.js';
import { blocksFor, type ReadModel } from './read-model.js';

/** The file of the last buffered appends, and where the journal stood after their record. */
interface AppendedFile {
  readonly journal: OpenedJournal;
  readonly path: string;
  /** The path as the caller spelled it. */
  readonly spelling: unknown;
  readonly file: FileNode;
  readonly nextSequence: number;
  readonly nextOffset: number;
}

/** Content accepted by the write calls: bytes, or text stored as UTF-8. */
export type Content = Uint8Array | string;

/** Bytes that replace the file's bytes from `offsetBytes` on. */
export interface FilePatch {
  readonly offsetBytes: number;
  readonly content: Content;
}

/** What the write path needs of the handle it writes for. */
export interface WritePathHost {
  /** The journal written to (replaced only by `refresh()` of a read-only handle). */
  journal(): OpenedJournal;
  /** The read model over that journal: operand paths and the entries at them. */
  reads(): ReadModel;
  readonly content: () => ContentReader;
  readonly gate: OperationGate;
  /** The audit lane, where the entries of buffered appends learn their record. */
  readonly lane: AuditLane;
  /** The actor operations run as now. */
  actor(): Principal;
  /** The time of the open transaction's commit: one clock reading per commit. */
  commitTimeMs(): number;
  /** How many transactions are open: 0 outside one, more than 1 inside a savepoint. */
  transactionDepth(): number;
  /**
   * The subject data key sealing the content of `path` (staging its key record first when
   * the subject has none yet); undefined for the cartridge key. See `subject-keys.ts`.
   */
  blobKeyFor(path: string): KeyObject | undefined;
}

/**
 * Caller content staged inside a transaction is copied (the caller may change its buffer before
 * the commit writes it), and the copy lives only until then: nothing keeps a created or written
 * file's raw bytes past its commit. Copies up to COPIED_SLAB_MAX_BYTES are cut from a shared
 * slab. `Buffer.from` gave each 4 KiB copy memory of its own, which cost as much again as the
 * copy (1.7-1.9 µs against 0.7 here, about a twentieth of a 4 KiB file created in a batch).
 */
const copies = new Slab(1024 * 1024);
const COPIED_SLAB_MAX_BYTES = 64 * 1024;

function copyOf(content: Uint8Array): Uint8Array {
  if (content.length === 0 || content.length > COPIED_SLAB_MAX_BYTES) return Buffer.from(content);
  const copy = copies.take(content.length);
  copy.set(content);
  return copy;
}

function toBytes(content: unknown, copy: boolean): Uint8Array {
  let bytes: Uint8Array;
  if (typeof content === 'string') bytes = Buffer.from(content, 'utf8');
  else if (content instanceof Uint8Array) bytes = copy ? copyOf(content) : content;
  else throw new CartridgeError('EINVAL', 'content must be a string or a Uint8Array');
  if (bytes.length > FILE_SIZE_MAX_BYTES)
    throw limitExceeded('content length', bytes.length, FILE_SIZE_MAX_BYTES);
  return bytes;
}

/**
 * The write path: the checks of each mutation (the entry exists or not, its parents, the size
 * limit, the capacity), then its records, staged and applied to the projections. It runs inside
 * the handle's transaction and operation gate; committing is the transaction's business.
 */
export class WritePath {
  private readonly appends = new AppendBuffer();
  /** The audit lane places of the appends buffered now: linked to their record at settle. */
  private appendAudits: number[] = [];
  /** The files small appends went to lately: close looks at their trailing runs. */
  private readonly appendedFiles = new AppendedFiles();
  /** The file the last buffered appends went to, as their record left it (`appendedFileFor`). */
  private appendedFile: AppendedFile | undefined;
  /** The catalog change of the last record `append` applied. */
  private lastChange: FileChange | undefined;

  constructor(private readonly host: WritePathHost) {}

  private get journal(): OpenedJournal {
    return this.host.journal();
  }

  createAt(canonical: string, content: Content): void {
    const bytes = toBytes(content, this.host.transactionDepth() > 1);
    if (this.journal.catalog.get(canonical) !== undefined) {
      throw new CartridgeError('EEXIST', `${canonical} already exists`, { path: canonical });
    }
    if (canonical === ROOT_PATH)
      throw new CartridgeError('EEXIST', 'the root exists', { path: canonical });
    // Path errors (ENOTDIR) before space errors, as in writeFile; a refusal undoes the parents.
    this.ensureParents(canonical);
    this.requireSpace(blocksFor(bytes.length), 0, canonical);
    const inode = this.journal.catalog.nextInode;
    const atMs = this.host.commitTimeMs();
    // The entry is absent (checked above; only ancestors were created since).
    const previous = this.journal.catalog.absentLinkOf(canonical);
    this.appendWithContent(canonical, bytes, (extents) => ({
      type: 'file.created',
      path: canonical,
      inode,
      mode: FILE_MODE_DEFAULT,
      atMs,
      sizeBytes: bytes.length,
      extents,
      previous,
    }));
  }

  writeAt(canonical: string, content: Content): void {
    const file = this.existingFile(canonical);
    const bytes = toBytes(content, this.host.transactionDepth() > 1);
    this.requireSpace(blocksFor(bytes.length), blocksFor(file.sizeBytes), canonical);
    const atMs = this.host.commitTimeMs();
    this.appendWithContent(canonical, bytes, (extents) => ({
      type: 'file.written',
      path: canonical,
      atMs,
      sizeBytes: bytes.length,
      extents,
      previous: file.versionOffset,
    }));
  }

  /**
   * Replaces byte ranges of a file in place, after cutting or keeping it to `sizeBytes`, as one
   * `file.patched` record (its content beyond the first megabytes goes into data records, as for
   * a write). Only the bytes given are written: the rest of the file stays where it is.
   */
  patchAt(canonical: string, patches: readonly FilePatch[], sizeBytes: number): void {
    const file = this.existingFile(canonical);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0)
      throw new CartridgeError('EINVAL', 'sizeBytes must be a count of bytes', { path: canonical });
    if (sizeBytes > FILE_SIZE_MAX_BYTES)
      throw limitExceeded('file size', sizeBytes, FILE_SIZE_MAX_BYTES);
    if (patches.length > PATCH_RANGES_MAX)
      throw limitExceeded('patch ranges', patches.length, PATCH_RANGES_MAX);
    const ranges: number[] = [];
    const pieces: Uint8Array[] = [];
    let end = 0;
    let covered = Math.min(file.sizeBytes, sizeBytes);
    for (const patch of patches) {
      const bytes = toBytes(patch.content, false);
      const offset = patch.offsetBytes;
      if (!Number.isSafeInteger(offset) || offset < end || offset + bytes.length > sizeBytes) {
        throw new CartridgeError('EINVAL', 'patches must ascend without overlap inside the size', {
          path: canonical,
        });
      }
      if (bytes.length === 0) continue;
      if (offset > covered)
        throw new CartridgeError('EINVAL', 'a patch would leave a hole in the file', {
          path: canonical,
        });
      ranges.push(offset, bytes.length);
      pieces.push(bytes);
      end = offset + bytes.length;
      covered = Math.max(covered, end);
    }
    if (covered < sizeBytes)
      throw new CartridgeError('EINVAL', 'a patch would leave a hole in the file', {
        path: canonical,
      });
    this.requireSpace(blocksFor(sizeBytes), blocksFor(file.sizeBytes), canonical);
    const atMs = this.host.commitTimeMs();
    this.appendWithContent(canonical, Buffer.concat(pieces), (extents) => ({
      type: 'file.patched',
      path: canonical,
      atMs,
      sizeBytes,
      ranges,
      extents,
      previous: file.versionOffset,
    }));
  }

  /**
   * Adds an append to the buffer (see `AppendBuffer`), after every check. `copy` keeps a copy
   * of the caller's bytes, for a buffer that outlives the call.
   */
  bufferAppend(path: string, content: Content, copy: boolean): void {
    // The hot path of a log written in transactions: the same file as the bytes buffered.
    let file = this.appends.fileFor(path);
    let canonical = this.appends.path as string;
    if (file === undefined && this.appends.path === undefined) {
      const appended = this.appendedFileFor(path);
      if (appended !== undefined) {
        file = appended.file;
        canonical = appended.path;
      }
    }
    if (file === undefined) {
      // Decided before the path is looked up: an error must not tell a refused actor more.
      const parsed = parsePath(path);
      const noted = this.host.gate.check(this.host.actor(), 'Write', parsed.path);
      canonical = this.host.reads().fileOperand(parsed);
      if (this.appends.path !== undefined && this.appends.path !== canonical) this.settle();
      file = this.existingFile(canonical);
      if (noted >= 0) this.appendAudits.push(noted);
    } else {
      const noted = this.host.gate.check(this.host.actor(), 'Write', canonical);
      if (noted >= 0) this.appendAudits.push(noted);
    }
    // Text stays text in the buffer: one conversion for the whole record when it is staged.
    const piece = typeof content === 'string' ? content : toBytes(content, copy);
    if (piece.length === 0) return;
    // Text is measured only when its upper bound could fail a check (see `AppendBuffer`).
    const sizeBytesAtMost =
      file.sizeBytes + this.appends.sizeBytesAtMost + lengthBytesAtMost(piece);
    const withinBound =
      sizeBytesAtMost <= FILE_SIZE_MAX_BYTES &&
      this.journal.allocator.fits(blocksFor(sizeBytesAtMost), blocksFor(file.sizeBytes));
    if (!withinBound) {
      const lengthBytes =
        typeof piece === 'string' ? Buffer.byteLength(piece, 'utf8') : piece.length;
      if (lengthBytes > FILE_SIZE_MAX_BYTES)
        throw limitExceeded('content length', lengthBytes, FILE_SIZE_MAX_BYTES);
      const sizeBytes = file.sizeBytes + this.appends.sizeBytes + lengthBytes;
      if (sizeBytes > FILE_SIZE_MAX_BYTES)
        throw limitExceeded('file size', sizeBytes, FILE_SIZE_MAX_BYTES);
      this.requireSpace(blocksFor(sizeBytes), blocksFor(file.sizeBytes), canonical);
    }
    this.appends.add(canonical, path, file, piece);
    if (
      this.appends.sizeBytesAtMost >= DATA_RECORD_MAX_BYTES &&
      this.appends.sizeBytes >= DATA_RECORD_MAX_BYTES
    ) {
      this.settle();
    }
  }

  /** Stages the buffered appends, if any, as one record (then consolidates if it is due). */
  settle(): void {
    const pending = this.appends.take();
    const audits = this.appendAudits;
    this.appendAudits = [];
    if (pending === undefined) return;
    // The audit entries of the appends name the record their bytes became.
    if (audits.length > 0) this.host.lane.linkChange(audits, this.journal.writer.nextOffset());
    const atMs = this.host.commitTimeMs();
    // The entry the buffer captured is current: every other operation stages the buffer first.
    const sizeBytes = pending.file.sizeBytes + pending.bytes.length;
    // A small piece will be rewritten, compressed, by consolidation: compressing it now too
    // would spend the codec twice on the same bytes. A larger one (a transaction's lines) is
    // compressed at the codec's fast setting, as it comes on every commit of a log.
    const effort = pending.bytes.length < SMALL_EXTENT_BYTES ? 'none' : 'quick';
    const record = this.appendWithContent(
      pending.path,
      pending.bytes,
      (extents) => ({
        type: 'file.appended',
        path: pending.path,
        atMs,
        sizeBytes,
        extents,
        previous: pending.file.versionOffset,
      }),
      effort,
    );
    // The record's own blob is the file's last extent. One of SMALL_EXTENT_BYTES or more ends
    // the file's run of small extents, so no consolidation can be due: the check (a lookup of
    // the entry just written) is skipped.
    const after = this.lastChange?.after;
    if (after?.kind === 'file') {
      const writer = this.journal.writer;
      this.appendedFile = {
        journal: this.journal,
        path: pending.path,
        spelling: pending.spelling,
        file: after,
        nextSequence: writer.nextSequence(),
        nextOffset: writer.nextOffset(),
      };
    }
    if (record.rawBlobLength < SMALL_EXTENT_BYTES) {
      this.appendedFiles.touch(pending.path);
      // The entry the record just left is the file's entry now: no lookup needed.
      const file = after?.kind === 'file' ? after : this.existingFile(pending.path);
      this.consolidate(pending.path, file, consolidationDue(file));
    }
  }

  /**
   * Rewrites the trailing runs of small extents that the files appended to lately end with,
   * where they are long enough (see `tailConsolidationDue`); what close does before its
   * checkpoint. Returns how many runs were rewritten.
   */
  consolidateTails(): number {
    let count = 0;
    for (const path of this.appendedFiles.take()) {
      const node = this.journal.catalog.get(path);
      // Renamed or deleted since, or replaced by a directory: nothing of it to rewrite.
      if (node === undefined || node.kind !== 'file') continue;
      const step = tailConsolidationDue(node);
      if (step === undefined) continue;
      this.consolidate(path, node, step);
      count++;
    }
    return count;
  }

  /**
   * The file a transaction's first append names, without looking it up, when it is the file
   * the last buffered appends went to and nothing was staged or committed since their record:
   * the entry their record left in the catalog is then still the file's entry. A log written
   * in transactions looked its file up again at the start of each one (an index lookup and an
   * entry decoded, a few per cent of its commit). Any other record moves the journal's next
   * sequence and offset (a rollback forgets the file outright, see `discardBufferedAppends`),
   * and a new journal (after a compaction) is another object, so the check is exact.
   */
  private appendedFileFor(spelling: string): AppendedFile | undefined {
    const appended = this.appendedFile;
    if (appended === undefined || appended.spelling !== spelling) return undefined;
    const journal = this.journal;
    if (
      appended.journal !== journal ||
      appended.nextSequence !== journal.writer.nextSequence() ||
      appended.nextOffset !== journal.writer.nextOffset()
    ) {
      return undefined;
    }
    return appended;
  }

  /** Drops the buffered appends: the transaction or savepoint they belong to rolled back. */
  discardBufferedAppends(): void {
    this.appends.clear();
    this.appendAudits = [];
    this.appendedFile = undefined;
  }

  /**
   * Rewrites the trailing run of small extents of `file` (the catalog's entry for `path` now)
   * as `step` says, if it says anything.
   */
  private consolidate(path: string, file: FileNode, step: ConsolidationStep | undefined): void {
    if (step === undefined) return;
    const { catalog } = this.journal;
    const extents = catalog.extentsFrom(file, step.fileOffset);
    const bytes = this.host.content().read(extents, step.sizeBytes, path);
    this.append(
      {
        type: 'extents.consolidated',
        path,
        fileOffset: step.fileOffset,
        replacedCount: step.replacedCount,
      },
      bytes,
      'dense',
      this.host.blobKeyFor(path),
    );
  }

  deleteAt(canonical: string): void {
    if (canonical === ROOT_PATH)
      throw new CartridgeError('EINVAL', 'the root cannot be deleted', { path: canonical });
    const node = this.host.reads().nodeAt(canonical);
    if (node.kind === 'directory' && node.childCount > 0) {
      throw new CartridgeError('ENOTEMPTY', `${canonical} is not empty`, { path: canonical });
    }
    this.append({
      type: 'entry.deleted',
      path: canonical,
      atMs: this.host.commitTimeMs(),
      previous: node.versionOffset,
    });
  }

  /**
   * Moves the entry at `from` (with its subtree) to `to`, which must not exist and whose parent
   * must be a directory: `path.moved` records that carry paths, never content. `authorize`
   * is asked for every entry the move changes, the moved entry itself included.
   */
  moveAt(from: string, to: string, authorize: (moved: MovedPath) => void): void {
    requireMovable(from, to);
    const node = this.host.reads().nodeAt(from);
    if (from === to) return;
    if (this.journal.catalog.get(to) !== undefined) {
      throw new CartridgeError('EEXIST', `${to} already exists`, { path: to });
    }
    this.requireParent(to);
    const { catalog } = this.journal;
    const plan = planMove(catalog, from, to, node);
    for (const moved of plan.paths) authorize(moved);
    const atMs = this.host.commitTimeMs();
    for (const entries of plan.records)
      this.append({ type: 'path.moved', from, to, atMs, entries });
  }

  createDirAt(canonical: string, recursive: boolean): void {
    const existing = this.journal.catalog.get(canonical);
    if (existing !== undefined) {
      if (recursive && existing.kind === 'directory') return;
      throw new CartridgeError('EEXIST', `${canonical} already exists`, { path: canonical });
    }
    if (recursive) this.ensureParents(canonical);
    else this.requireParent(canonical);
    this.append({
      type: 'directory.created',
      path: canonical,
      inode: this.journal.catalog.nextInode,
      mode: DIRECTORY_MODE_DEFAULT,
      atMs: this.host.commitTimeMs(),
      previous: this.journal.catalog.absentLinkOf(canonical),
    });
  }

  private existingFile(path: string): FileNode {
    const node = this.host.reads().nodeAt(path);
    if (node.kind !== 'file')
      throw new CartridgeError('EISDIR', `${path} is a directory`, { path });
    return node;
  }

  private requireSpace(addedBlocks: number, releasedBlocks: number, path: string): void {
    if (!this.journal.allocator.fits(addedBlocks, releasedBlocks)) {
      throw new CartridgeError('ENOSPC', `no room for ${addedBlocks} blocks at ${path}`, { path });
    }
  }

  private requireParent(path: string): DirectoryNode {
    const parent = this.host.reads().nodeAt(parentOf(path));
    if (parent.kind !== 'directory')
      throw new CartridgeError('ENOTDIR', `${parentOf(path)} is a file`, { path });
    return parent;
  }

  /**
   * Creates every missing ancestor directory, as the seed's examples expect of createFile.
   * Ancestors are looked at from the nearest up: the catalog is a tree (the fold admits an entry
   * only under a directory, and a directory with children cannot go), so once one is a
   * directory all above it are, and a file in a directory that exists costs one lookup. The
   * missing ones are then created from the top down, each checked against the policy first,
   * as before; a file on the way is ENOTDIR, and only directories lie above a missing ancestor,
   * so the file found is the one a walk from the root would have found first.
   */
  private ensureParents(path: string): void {
    assert(nameOf(path).length > 0, 'a created entry has a name');
    const { catalog } = this.journal;
    let missingFrom = path.length;
    for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
      const ancestor = path.slice(0, slash);
      const node = catalog.get(ancestor);
      if (node?.kind === 'directory') break;
      if (node?.kind === 'file')
        throw new CartridgeError('ENOTDIR', `${ancestor} is a file`, { path });
      missingFrom = slash;
    }
    if (missingFrom === path.length) return;
    for (let slash = missingFrom; slash !== -1 && slash < path.length; ) {
      const ancestor = path.slice(0, slash);
      // A parent made on the way is a directory created: the policy must allow it too.
      this.host.gate.check(this.host.actor(), 'Create', ancestor);
      this.append({
        type: 'directory.created',
        path: ancestor,
        inode: catalog.nextInode,
        mode: DIRECTORY_MODE_DEFAULT,
        atMs: this.host.commitTimeMs(),
        previous: catalog.absentLinkOf(ancestor),
      });
      slash = path.indexOf('/', slash + 1);
    }
  }

  /**
   * Stages content: chunks beyond the first megabytes go into data records, the last chunk
   * rides inside the operation's own record, so a small file is one record. Returns that
   * record.
   */
  private appendWithContent(
    path: string,
    bytes: Uint8Array,
    eventOf: (extents: Extent[]) => JournalEvent,
    effort: CompressionEffort = 'normal',
  ): JournalRecord {
    // Asked before any content is staged: a subject's new key record must come first.
    const blobKey = bytes.length > 0 ? this.host.blobKeyFor(path) : undefined;
    const extents: Extent[] = [];
    let start = 0;
    while (bytes.length - start > DATA_RECORD_MAX_BYTES) {
      const chunk = bytes.subarray(start, start + DATA_RECORD_MAX_BYTES);
      const record = this.append({ type: 'data' }, chunk, 'normal', blobKey);
      extents.push({
        recordOffset: record.offset,
        recordSequence: record.sequence,
        blobOffset: 0,
        lengthBytes: chunk.length,
        recordLengthBytes: record.lengthBytes,
      });
      start += chunk.length;
    }
    const inline = bytes.subarray(start);
    // The record's own blob is the file's last extent; the body lists only the data records.
    return this.append(eventOf(extents), inline.length > 0 ? inline : undefined, effort, blobKey);
  }

  /** Stages one record and applies it to the projections, so later reads see it. */
  append(
    event: JournalEvent,
    blob?: Uint8Array,
    effort: CompressionEffort = 'normal',
    blobKey?: KeyObject,
  ): JournalRecord {
    const record = this.journal.writer.stage(event, blob, effort, blobKey);
    this.lastChange = applyRecord(this.journal, record);
    return record;
  }
}
