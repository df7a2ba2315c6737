import { Packr } from 'msgpackr';
import { CartridgeError } from '../errors.js';
import {
  DirectReader,
  NOT_DIRECT,
  writeArrayHeader,
  writeNumber,
  writeString,
} from './direct-msgpack.js';
import {
  type AuditAction,
  type AuditEntry,
  type ErasedBlob,
  type Extent,
  type JournalEvent,
  type MerkleSection,
  type MovedEntry,
  MoveStep,
  RecordType,
} from './journal-event.js';

/**
 * Encodes events as msgpack arrays with fixed positions and decodes them back from untrusted
 * bytes, checking every field's type. Arrays (not maps) keep the encoding compact and
 * deterministic: the same event always gives the same bytes, which the hash chain relies on.
 */

const packer = new Packr({ useRecords: false, mapsAsObjects: false });

type Field = unknown;

function corruptBody(detail: string): CartridgeError {
  return new CartridgeError('JOURNAL_CORRUPT', `record body ${detail}`);
}

/** Actions by their code in audit entries (the position is the code). */
const AUDIT_ACTIONS: readonly AuditAction[] = ['Read', 'Write', 'Create', 'Delete', 'List', 'All'];
const KEY_ID_TEXT = /^[0-9a-f]{8}$/;
/** Fields per audit entry in the flat, stored form. */
const AUDIT_ENTRY_FIELDS = 8;
/** Actions by name, to their code (the position in AUDIT_ACTIONS). */
const AUDIT_ACTION_CODES: ReadonlyMap<AuditAction, number> = new Map(
  AUDIT_ACTIONS.map((action, code) => [action, code]),
);

function flattenAuditEntries(entries: readonly AuditEntry[]): unknown[] {
  const flat: unknown[] = [];
  for (const entry of entries) {
    flat.push(
      entry.atMs,
      entry.actor,
      AUDIT_ACTION_CODES.get(entry.action) ?? -1,
      entry.path,
      entry.allowed ? 1 : 0,
      entry.sid,
      entry.changeOffset,
      entry.rolledBack ? 1 : 0,
    );
  }
  return flat;
}

/** Fields per moved entry in the flat, stored form of a `path.moved` record. */
const MOVED_ENTRY_FIELDS = 5;

function flattenMovedEntries(entries: readonly MovedEntry[]): unknown[] {
  const flat: unknown[] = [];
  for (const entry of entries) {
    flat.push(
      entry.step,
      entry.relativePath,
      entry.previousFrom,
      entry.previousTo,
      entry.sizeBytes,
    );
  }
  return flat;
}

/** Fields per extent in the flat, stored form. */
export const EXTENT_FIELDS = 5;
/** The counts of a checkpoint's erasure section (see `CheckpointSections.erasures`). */
export const ERASURE_SECTION_FIELDS = 4;

/**
 * Extents as a flat `[recordOffset, recordSequence, blobOffset, lengthBytes,
 * recordLengthBytes, ...]` list.
 */
export function flattenExtents(extents: readonly Extent[]): number[] {
  const flat: number[] = [];
  for (const extent of extents) {
    flat.push(
      extent.recordOffset,
      extent.recordSequence,
      extent.blobOffset,
      extent.lengthBytes,
      extent.recordLengthBytes,
    );
  }
  return flat;
}

/**
 * `flattenExtents` written straight into `target` at `position` as a msgpack array (what
 * msgpackr writes for that list); returns the position after it. The caller has checked that
 * the target has room for it.
 */
export function writeFlatExtents(
  target: Buffer,
  position: number,
  extents: readonly Extent[],
): number {
  let at = writeArrayHeader(target, position, extents.length * EXTENT_FIELDS);
  for (const extent of extents) {
    at = writeNumber(target, at, extent.recordOffset);
    at = writeNumber(target, at, extent.recordSequence);
    at = writeNumber(target, at, extent.blobOffset);
    at = writeNumber(target, at, extent.lengthBytes);
    at = writeNumber(target, at, extent.recordLengthBytes);
  }
  return at;
}

function fieldsOf(event: JournalEvent): Field[] {
  switch (event.type) {
    case 'genesis':
      return [event.cartridgeId, event.createdAtMs, event.capacityBlocks];
    case 'data':
      return [];
    case 'file.created':
      return [
        event.path,
        event.inode,
        event.mode,
        event.atMs,
        event.sizeBytes,
        flattenExtents(event.extents),
        event.previous,
      ];
    case 'file.written':
    case 'file.appended':
      return [
        event.path,
        event.atMs,
        event.sizeBytes,
        flattenExtents(event.extents),
        event.previous,
      ];
    case 'file.patched':
      return [
        event.path,
        event.atMs,
        event.sizeBytes,
        [...event.ranges],
        flattenExtents(event.extents),
        event.previous,
      ];
    case 'entry.deleted':
      return [event.path, event.atMs, event.previous];
    case 'directory.created':
      return [event.path, event.inode, event.mode, event.atMs, event.previous];
    case 'path.moved':
      return [event.from, event.to, event.atMs, flattenMovedEntries(event.entries)];
    case 'index.page':
      return [];
    case 'checkpoint':
      return [
        event.chainBefore,
        [...event.sections.catalog],
        [...event.sections.allocator],
        [...event.sections.timeline],
        merkleFields(event.sections.merkle),
        ...(event.sections.erasures === undefined ? [] : [[...event.sections.erasures]]),
      ];
    case 'extents.consolidated':
      return [event.path, event.fileOffset, event.replacedCount];
    case 'snapshot.created':
      return [event.name, event.atMs, event.description];
    case 'snapshot.deleted':
      return [event.name, event.atMs];
    case 'restore.started':
      return [event.targetHead, event.snapshot, event.atMs];
    case 'entry.restored':
      return [
        event.path,
        event.atMs,
        event.previous,
        event.kind === 'file' ? 0 : 1,
        event.inode,
        event.mode,
        event.createdAtMs,
        event.modifiedAtMs,
        event.contentOffset,
        event.sizeBytes,
        event.fileOffset,
        flattenExtents(event.extents),
      ];
    case 'audit.batch':
      return [flattenAuditEntries(event.entries)];
    case 'policy.set':
      return [event.policy, event.atMs];
    case 'key.rotated':
      return [event.keyId, event.atMs];
    case 'head.signed':
      return [
        event.sequence,
        event.offset,
        event.headHash,
        event.merkleRoot,
        event.publicKey,
        event.signature,
      ];
    case 'content.erased':
      return [
        event.kind === 'redacted' ? 0 : 1,
        flattenErasures(event.erasures),
        [...event.versions],
      ];
    case 'subject.key':
      return [event.subject, event.atMs];
    case 'erasure.settled':
      return [event.erasureOffset];
    case 'journal.compacted':
      return [
        event.previousHeadOffset,
        event.previousHeadSequence,
        event.previousHeadHash,
        event.previousMerkleRoot,
        event.horizonOffset,
        event.recordsDropped,
        event.atMs,
        event.compactedAtMs,
      ];
  }
}

/** Fields per erased blob in the flat, stored form. */
const ERASURE_FIELDS = 5;

function flattenErasures(erasures: readonly ErasedBlob[]): unknown[] {
  const flat: unknown[] = [];
  for (const erasure of erasures) {
    flat.push(
      erasure.recordOffset,
      erasure.recordSequence,
      erasure.storedBlobLength,
      erasure.bodyChecksum,
      erasure.blobHash,
    );
  }
  return flat;
}

function merkleFields(section: MerkleSection): Field[] {
  return [
    section.size,
    section.blockStartOffset,
    section.pendingLeaves,
    [...section.frontier],
    [...section.unwritten],
    section.lastSignedOffset,
  ];
}

/** Sizes of the keys and signature a `head.signed` record holds (Ed25519). */
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

export function recordTypeOf(event: JournalEvent): RecordType {
  switch (event.type) {
    case 'genesis':
      return RecordType.Genesis;
    case 'data':
      return RecordType.Data;
    case 'file.created':
      return RecordType.FileCreated;
    case 'file.written':
      return RecordType.FileWritten;
    case 'file.appended':
      return RecordType.FileAppended;
    case 'file.patched':
      return RecordType.FilePatched;
    case 'entry.deleted':
      return RecordType.EntryDeleted;
    case 'directory.created':
      return RecordType.DirectoryCreated;
    case 'index.page':
      return RecordType.IndexPage;
    case 'checkpoint':
      return RecordType.CheckpointRoot;
    case 'extents.consolidated':
      return RecordType.ExtentsConsolidated;
    case 'snapshot.created':
      return RecordType.SnapshotCreated;
    case 'snapshot.deleted':
      return RecordType.SnapshotDeleted;
    case 'restore.started':
      return RecordType.RestoreStarted;
    case 'entry.restored':
      return RecordType.EntryRestored;
    case 'audit.batch':
      return RecordType.AuditBatch;
    case 'policy.set':
      return RecordType.PolicySet;
    case 'key.rotated':
      return RecordType.KeyRotated;
    case 'head.signed':
      return RecordType.HeadSigned;
    case 'content.erased':
      return RecordType.ContentErased;
    case 'subject.key':
      return RecordType.SubjectKey;
    case 'erasure.settled':
      return RecordType.ErasureSettled;
    case 'path.moved':
      return RecordType.PathMoved;
    case 'journal.compacted':
      return RecordType.JournalCompacted;
  }
}

const EMPTY_BODY = Buffer.alloc(0);

export function encodeEvent(event: JournalEvent): Buffer {
  if (event.type === 'data' || event.type === 'index.page') return EMPTY_BODY;
  if (
    event.type === 'file.appended' ||
    event.type === 'file.written' ||
    event.type === 'file.created'
  ) {
    const direct = encodeContentEventDirect(event);
    if (direct !== undefined) return direct;
  }
  if (event.type === 'audit.batch') return encodeAuditBatchDirect(event.entries);
  // Copy out of msgpackr's shared output buffer, which the next pack call reuses.
  return Buffer.from(packer.pack(fieldsOf(event)));
}

/**
 * The body of a `file.appended`, `file.written` or `file.created` record written without
 * msgpackr, byte for byte what `packer.pack(fieldsOf(event))` gives (a test holds the two
 * together): msgpackr walks the field list generically, which cost about 2 % of a transaction
 * of appended log lines, one such record per commit, and 5 % of a transaction of created
 * 100-byte files. The scratch is reused; the body is copied out at its size. Undefined (the
 * general encoder then runs) for an event too large for the scratch.
 */
const DIRECT_BODY_SCRATCH_BYTES = 4096;
const directScratch = Buffer.allocUnsafe(DIRECT_BODY_SCRATCH_BYTES);
/** msgpack's nil: a missing link, statement name or change. */
const NIL_TAG = 0xc0;
/** The most bytes one number takes in msgpack (a float64 and its type byte). */
const NUMBER_MAX_BYTES = 9;
const ARRAY_HEADER_MAX_BYTES = 5;

type ContentEvent = Extract<
  JournalEvent,
  { type: 'file.appended' | 'file.written' | 'file.created' }
>;

function encodeContentEventDirect(event: ContentEvent): Buffer | undefined {
  const { path, extents } = event;
  const flatCount = extents.length * EXTENT_FIELDS;
  const boundBytes =
    1 +
    ARRAY_HEADER_MAX_BYTES +
    path.length * 3 +
    (5 + flatCount) * NUMBER_MAX_BYTES +
    ARRAY_HEADER_MAX_BYTES;
  if (boundBytes > DIRECT_BODY_SCRATCH_BYTES) return undefined;
  const target = directScratch;
  let position: number;
  if (event.type === 'file.created') {
    // A fixarray of the seven fields of `fieldsOf`: the inode and mode follow the path.
    target[0] = 0x97;
    position = writeString(target, 1, path);
    position = writeNumber(target, position, event.inode);
    position = writeNumber(target, position, event.mode);
  } else {
    // A fixarray of the five fields of `fieldsOf`.
    target[0] = 0x95;
    position = writeString(target, 1, path);
  }
  position = writeNumber(target, position, event.atMs);
  position = writeNumber(target, position, event.sizeBytes);
  position = writeFlatExtents(target, position, extents);
  if (event.previous === null) target[position++] = NIL_TAG;
  else position = writeNumber(target, position, event.previous);
  return Buffer.from(target.subarray(0, position));
}

/**
 * What one audit entry's body takes besides the UTF-8 of its three texts, at most: five numbers
 * (time, action, allowed, change, rolled back) and three string headers.
 */
const AUDIT_ENTRY_FIXED_MAX_BYTES = 5 * NUMBER_MAX_BYTES + 3 * ARRAY_HEADER_MAX_BYTES;
/** The audit scratch is kept up to this size; a rare larger batch gets memory of its own. */
const AUDIT_SCRATCH_KEPT_BYTES = 256 * 1024;
let auditScratch = Buffer.allocUnsafe(0);

/**
 * The body of an `audit.batch` record written without msgpackr, byte for byte what
 * `packer.pack(fieldsOf(event))` gives (a test holds the two together). A lane of audited reads
 * writes a batch of up to 2 048 entries: msgpackr's generic walk of the flat list of eight
 * fields per entry, and building that list, were 60 % of such a flush, about a third of a
 * microsecond per audited read.
 */
function encodeAuditBatchDirect(entries: readonly AuditEntry[]): Buffer {
  // Three bytes of UTF-8 per UTF-16 unit bound every string.
  let boundBytes = 1 + ARRAY_HEADER_MAX_BYTES;
  for (const entry of entries) {
    boundBytes +=
      AUDIT_ENTRY_FIXED_MAX_BYTES +
      3 * (entry.actor.length + entry.path.length + (entry.sid?.length ?? 0));
  }
  if (auditScratch.length < boundBytes) {
    const memory = Buffer.allocUnsafe(boundBytes);
    if (boundBytes <= AUDIT_SCRATCH_KEPT_BYTES) auditScratch = memory;
    return encodeAuditBatchInto(memory, entries);
  }
  return encodeAuditBatchInto(auditScratch, entries);
}

function encodeAuditBatchInto(target: Buffer, entries: readonly AuditEntry[]): Buffer {
  // A fixarray of the one field of `fieldsOf`: the flat list of AUDIT_ENTRY_FIELDS per entry.
  target[0] = 0x91;
  let position = writeArrayHeader(target, 1, entries.length * AUDIT_ENTRY_FIELDS);
  for (const entry of entries) {
    position = writeNumber(target, position, entry.atMs);
    position = writeString(target, position, entry.actor);
    position = writeNumber(target, position, AUDIT_ACTION_CODES.get(entry.action) ?? -1);
    position = writeString(target, position, entry.path);
    target[position++] = entry.allowed ? 1 : 0;
    if (entry.sid === null) target[position++] = NIL_TAG;
    else position = writeString(target, position, entry.sid);
    if (entry.changeOffset === null) target[position++] = NIL_TAG;
    else position = writeNumber(target, position, entry.changeOffset);
    target[position++] = entry.rolledBack ? 1 : 0;
  }
  return Buffer.from(target.subarray(0, position));
}

class Fields {
  private index = 0;
  constructor(private readonly values: readonly unknown[]) {}

  private next(): unknown {
    if (this.index >= this.values.length) throw corruptBody('has too few fields');
    return this.values[this.index++];
  }

  count(): number {
    const value = this.next();
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw corruptBody('has a field that is not a count');
    }
    return value;
  }

  text(): string {
    const value = this.next();
    if (typeof value !== 'string') throw corruptBody('has a field that is not text');
    return value;
  }

  hash(): Buffer {
    return this.bytes(32, 'hash');
  }

  /** Binary of exactly `length` bytes (any length when undefined); `what` names it in errors. */
  bytes(length: number | undefined, what: string): Buffer {
    const value = this.next();
    if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length)) {
      throw corruptBody(`has a bad ${what}`);
    }
    return Buffer.from(value);
  }

  /** An array whose items are counts or 32-byte hashes, in groups of `groupSize`. */
  countsAndHashes(groupSize: number): (number | Buffer)[] {
    const value = this.next();
    if (!Array.isArray(value) || value.length % groupSize !== 0) {
      throw corruptBody('has a bad Merkle list');
    }
    return (value as unknown[]).map((item) => {
      if (item instanceof Uint8Array && item.length === 32) return Buffer.from(item);
      if (typeof item === 'number' && Number.isSafeInteger(item) && item >= 0) return item;
      throw corruptBody('has a bad Merkle list item');
    });
  }

  merkleSection(): MerkleSection {
    const value = this.next();
    if (!Array.isArray(value) || value.length !== 6) throw corruptBody('has a bad section');
    const inner = new Fields(value as unknown[]);
    return {
      size: inner.count(),
      blockStartOffset: inner.count(),
      pendingLeaves: inner.bytes(undefined, 'Merkle block'),
      frontier: inner.countsAndHashes(3),
      unwritten: inner.countsAndHashes(4),
      lastSignedOffset: inner.countOrNull(),
    };
  }

  counts(length: number): number[] {
    const value = this.next();
    if (!Array.isArray(value) || value.length !== length) throw corruptBody('has a bad section');
    const inner = new Fields(value as unknown[]);
    const result: number[] = [];
    for (let index = 0; index < length; index++) result.push(inner.count());
    return result;
  }

  /** A flat list of counts of even length (pairs), such as the ranges of a patch. */
  pairs(): number[] {
    const value = this.next();
    if (!Array.isArray(value) || value.length % 2 !== 0) throw corruptBody('has bad ranges');
    const inner = new Fields(value as unknown[]);
    const result: number[] = [];
    for (let index = 0; index < value.length; index++) result.push(inner.count());
    return result;
  }

  countOrNull(): number | null {
    if (this.values[this.index] === null) {
      this.index++;
      return null;
    }
    return this.count();
  }

  textOrNull(): string | null {
    if (this.values[this.index] === null) {
      this.index++;
      return null;
    }
    return this.text();
  }

  auditEntries(): AuditEntry[] {
    const value = this.next();
    if (!Array.isArray(value) || value.length % AUDIT_ENTRY_FIELDS !== 0) {
      throw corruptBody('has bad audit entries');
    }
    const fields = new Fields(value as unknown[]);
    const entries: AuditEntry[] = [];
    for (let index = 0; index < value.length / AUDIT_ENTRY_FIELDS; index++) {
      const atMs = fields.count();
      const actor = fields.text();
      const action = AUDIT_ACTIONS[fields.count()];
      if (action === undefined) throw corruptBody('has an unknown audit action');
      const path = fields.text();
      const allowed = fields.flag();
      const sid = fields.textOrNull();
      const changeOffset = fields.countOrNull();
      const rolledBack = fields.flag();
      entries.push({ atMs, actor, action, path, allowed, sid, changeOffset, rolledBack });
    }
    return entries;
  }

  movedEntries(): MovedEntry[] {
    const value = this.next();
    if (!Array.isArray(value) || value.length % MOVED_ENTRY_FIELDS !== 0) {
      throw corruptBody('has bad moved entries');
    }
    const fields = new Fields(value as unknown[]);
    const entries: MovedEntry[] = [];
    for (let index = 0; index < value.length / MOVED_ENTRY_FIELDS; index++) {
      const step = fields.count();
      if (step > MoveStep.DirectoryClosed) throw corruptBody('has an unknown move step');
      entries.push({
        step: step as MoveStep,
        relativePath: fields.text(),
        previousFrom: fields.countOrNull(),
        previousTo: fields.countOrNull(),
        sizeBytes: fields.count(),
      });
    }
    return entries;
  }

  /** A key id: 8 lowercase hex digits. */
  keyId(): string {
    const value = this.next();
    if (typeof value !== 'string' || !KEY_ID_TEXT.test(value)) {
      throw corruptBody('has a field that is not a key id');
    }
    return value;
  }

  /** A list of counts (journal offsets). */
  offsets(): number[] {
    const value = this.next();
    if (!Array.isArray(value)) throw corruptBody('has a bad list of offsets');
    const inner = new Fields(value as unknown[]);
    const result: number[] = [];
    for (let index = 0; index < value.length; index++) result.push(inner.count());
    return result;
  }

  /** Erased blobs, flat (see `flattenErasures`). */
  erasures(): ErasedBlob[] {
    const value = this.next();
    if (!Array.isArray(value) || value.length % ERASURE_FIELDS !== 0) {
      throw corruptBody('has bad erasures');
    }
    const fields = new Fields(value as unknown[]);
    const erasures: ErasedBlob[] = [];
    for (let index = 0; index < value.length / ERASURE_FIELDS; index++) {
      erasures.push({
        recordOffset: fields.count(),
        recordSequence: fields.count(),
        storedBlobLength: fields.count(),
        bodyChecksum: fields.count(),
        blobHash: fields.hash(),
      });
    }
    return erasures;
  }

  flag(): boolean {
    const value = this.next();
    if (value !== 0 && value !== 1) throw corruptBody('has a flag that is not 0 or 1');
    return value === 1;
  }

  kind(): 'file' | 'directory' {
    const value = this.next();
    if (value !== 0 && value !== 1) throw corruptBody('has an unknown entry kind');
    return value === 0 ? 'file' : 'directory';
  }

  extents(): Extent[] {
    const value = this.next();
    if (!Array.isArray(value) || value.length % EXTENT_FIELDS !== 0)
      throw corruptBody('has bad extents');
    return unflattenExtents(new Fields(value as unknown[]), value.length / EXTENT_FIELDS);
  }

  /** Whether fields are left: an optional trailing field (a later section) is present. */
  more(): boolean {
    return this.index < this.values.length;
  }

  end(): void {
    if (this.index !== this.values.length) throw corruptBody('has too many fields');
  }
}

function unflattenExtents(fields: Fields, count: number): Extent[] {
  // Sized up front: a catalog of 100 000 one-extent files would otherwise reserve growth room
  // in every array.
  const extents = new Array<Extent>(count);
  for (let index = 0; index < count; index++) {
    extents[index] = {
      recordOffset: fields.count(),
      recordSequence: fields.count(),
      blobOffset: fields.count(),
      lengthBytes: fields.count(),
      recordLengthBytes: fields.count(),
    };
  }
  return extents;
}

/** Extents from a flat list of untrusted numbers; malformed input is `JOURNAL_CORRUPT`. */
export function extentsFromFlat(flat: readonly unknown[]): Extent[] {
  if (flat.length % EXTENT_FIELDS !== 0) throw corruptBody('has bad extents');
  return unflattenExtents(new Fields(flat), flat.length / EXTENT_FIELDS);
}

function unpackFields(body: Uint8Array): Fields {
  let value: unknown;
  try {
    value = packer.unpack(body);
  } catch (error) {
    throw new CartridgeError('JOURNAL_CORRUPT', 'record body is not msgpack', { cause: error });
  }
  if (!Array.isArray(value)) throw corruptBody('is not an array');
  return new Fields(value as unknown[]);
}

function decodeFields(type: RecordType, fields: Fields): JournalEvent {
  switch (type) {
    case RecordType.Genesis:
      return {
        type: 'genesis',
        cartridgeId: fields.text(),
        createdAtMs: fields.count(),
        capacityBlocks: fields.countOrNull(),
      };
    case RecordType.FileCreated:
      return {
        type: 'file.created',
        path: fields.text(),
        inode: fields.count(),
        mode: fields.count(),
        atMs: fields.count(),
        sizeBytes: fields.count(),
        extents: fields.extents(),
        previous: fields.countOrNull(),
      };
    case RecordType.FileWritten:
    case RecordType.FileAppended:
      return {
        type: type === RecordType.FileWritten ? 'file.written' : 'file.appended',
        path: fields.text(),
        atMs: fields.count(),
        sizeBytes: fields.count(),
        extents: fields.extents(),
        previous: fields.countOrNull(),
      };
    case RecordType.FilePatched:
      return {
        type: 'file.patched',
        path: fields.text(),
        atMs: fields.count(),
        sizeBytes: fields.count(),
        ranges: fields.pairs(),
        extents: fields.extents(),
        previous: fields.countOrNull(),
      };
    case RecordType.EntryDeleted:
      return {
        type: 'entry.deleted',
        path: fields.text(),
        atMs: fields.count(),
        previous: fields.countOrNull(),
      };
    case RecordType.DirectoryCreated:
      return {
        type: 'directory.created',
        path: fields.text(),
        inode: fields.count(),
        mode: fields.count(),
        atMs: fields.count(),
        previous: fields.countOrNull(),
      };
    case RecordType.PathMoved:
      return {
        type: 'path.moved',
        from: fields.text(),
        to: fields.text(),
        atMs: fields.count(),
        entries: fields.movedEntries(),
      };
    case RecordType.CheckpointRoot:
      return {
        type: 'checkpoint',
        chainBefore: fields.hash(),
        sections: {
          catalog: fields.counts(5),
          allocator: fields.counts(2),
          timeline: fields.counts(1),
          merkle: fields.merkleSection(),
          ...(fields.more() ? { erasures: fields.counts(ERASURE_SECTION_FIELDS) } : {}),
        },
      };
    case RecordType.SnapshotCreated:
      return {
        type: 'snapshot.created',
        name: fields.text(),
        atMs: fields.count(),
        description: fields.textOrNull(),
      };
    case RecordType.SnapshotDeleted:
      return { type: 'snapshot.deleted', name: fields.text(), atMs: fields.count() };
    case RecordType.RestoreStarted:
      return {
        type: 'restore.started',
        targetHead: fields.count(),
        snapshot: fields.textOrNull(),
        atMs: fields.count(),
      };
    case RecordType.AuditBatch:
      return { type: 'audit.batch', entries: fields.auditEntries() };
    case RecordType.PolicySet:
      return { type: 'policy.set', policy: fields.textOrNull(), atMs: fields.count() };
    case RecordType.KeyRotated:
      return { type: 'key.rotated', keyId: fields.keyId(), atMs: fields.count() };
    case RecordType.HeadSigned:
      return {
        type: 'head.signed',
        sequence: fields.count(),
        offset: fields.count(),
        headHash: fields.hash(),
        merkleRoot: fields.hash(),
        publicKey: fields.bytes(PUBLIC_KEY_BYTES, 'public key'),
        signature: fields.bytes(SIGNATURE_BYTES, 'signature'),
      };
    case RecordType.ContentErased: {
      const event: JournalEvent = {
        type: 'content.erased',
        kind: fields.flag() ? 'shredded' : 'redacted',
        erasures: fields.erasures(),
        versions: fields.offsets(),
      };
      if (event.erasures.length === 0 && event.versions.length === 0) {
        throw corruptBody('erases nothing');
      }
      return event;
    }
    case RecordType.SubjectKey:
      return { type: 'subject.key', subject: fields.text(), atMs: fields.count() };
    case RecordType.ErasureSettled:
      return { type: 'erasure.settled', erasureOffset: fields.count() };
    case RecordType.EntryRestored:
      return {
        type: 'entry.restored',
        path: fields.text(),
        atMs: fields.count(),
        previous: fields.countOrNull(),
        kind: fields.kind(),
        inode: fields.count(),
        mode: fields.count(),
        createdAtMs: fields.count(),
        modifiedAtMs: fields.count(),
        contentOffset: fields.count(),
        sizeBytes: fields.count(),
        fileOffset: fields.count(),
        extents: fields.extents(),
      };
    case RecordType.JournalCompacted:
      return {
        type: 'journal.compacted',
        previousHeadOffset: fields.count(),
        previousHeadSequence: fields.count(),
        previousHeadHash: fields.hash(),
        previousMerkleRoot: fields.hash(),
        horizonOffset: fields.count(),
        recordsDropped: fields.count(),
        atMs: fields.count(),
        compactedAtMs: fields.count(),
      };
    case RecordType.ExtentsConsolidated:
      return {
        type: 'extents.consolidated',
        path: fields.text(),
        fileOffset: fields.count(),
        replacedCount: fields.count(),
      };
    default:
      throw corruptBody(`has unknown record type ${type as number}`);
  }
}

/** Decodes a body from untrusted bytes; any malformed input is `JOURNAL_CORRUPT`. */
export function decodeEvent(type: number, body: Uint8Array): JournalEvent {
  if (type === RecordType.Data || type === RecordType.IndexPage) {
    if (body.length !== 0) throw corruptBody('of a data or index record is not empty');
    return type === RecordType.Data ? { type: 'data' } : { type: 'index.page' };
  }
  if (type === RecordType.CheckpointRoot) {
    const checkpoint = readCheckpointDirect(body);
    if (checkpoint !== undefined) return checkpoint;
  }
  return decodeEventGeneral(type, body);
}

/**
 * The general path of `decodeEvent` for a record with a body: msgpack, then the fields of its
 * type (exported for the test that holds the direct checkpoint reader to it).
 */
export function decodeEventGeneral(type: number, body: Uint8Array): JournalEvent {
  const fields = unpackFields(body);
  const event = decodeFields(type as RecordType, fields);
  fields.end();
  return event;
}

/*
 * A checkpoint root is the record every open decodes first, in a process that has often run
 * nothing else: msgpack's general decoder and the decoder of every record type are compiled
 * for it alone (a tenth of an open of a large cartridge that then only reads files).
 * `readCheckpointDirect` reads the shape the checkpointer writes (arrays of counts, 32-byte
 * hashes and byte strings) straight into the event, accepting exactly what the general path
 * accepts; for anything else it returns undefined and the general path decides (so damaged
 * bytes are reported as before).
 */

/** The reader of `readCheckpointDirect`, reset for each body (never reentrant). */
const reader = new DirectReader();

/** `length` counts in an array of exactly that many, or undefined. */
function directCounts(length: number): number[] | undefined {
  if (reader.arrayLength() !== length) return undefined;
  const counts = new Array<number>(length);
  for (let index = 0; index < length; index++) {
    const count = reader.count();
    if (count === NOT_DIRECT) return undefined;
    counts[index] = count;
  }
  return counts;
}

/** A Merkle list: counts and 32-byte hashes, in groups of `groupSize`, or undefined. */
function directCountsAndHashes(groupSize: number): (number | Buffer)[] | undefined {
  const length = reader.arrayLength();
  if (length === NOT_DIRECT || length % groupSize !== 0) return undefined;
  const items = new Array<number | Buffer>(length);
  for (let index = 0; index < length; index++) {
    if (reader.peek() === 0xc4) {
      const hash = reader.byteString();
      if (hash === undefined || hash.length !== 32) return undefined;
      items[index] = hash;
    } else {
      const count = reader.count();
      if (count === NOT_DIRECT) return undefined;
      items[index] = count;
    }
  }
  return items;
}

function readCheckpointDirect(body: Uint8Array): JournalEvent | undefined {
  reader.reset(body);
  const fieldCount = reader.arrayLength();
  if (fieldCount !== 5 && fieldCount !== 6) return undefined;
  const chainBefore = reader.byteString();
  if (chainBefore === undefined || chainBefore.length !== 32) return undefined;
  const catalog = directCounts(5);
  const allocator = directCounts(2);
  const timeline = directCounts(1);
  if (catalog === undefined || allocator === undefined || timeline === undefined) return undefined;
  if (reader.arrayLength() !== 6) return undefined;
  const size = reader.count();
  const blockStartOffset = reader.count();
  if (size === NOT_DIRECT || blockStartOffset === NOT_DIRECT) return undefined;
  const pendingLeaves = reader.byteString();
  const frontier = directCountsAndHashes(3);
  const unwritten = directCountsAndHashes(4);
  if (pendingLeaves === undefined || frontier === undefined || unwritten === undefined) {
    return undefined;
  }
  let lastSignedOffset: number | null = null;
  if (!reader.nil()) {
    lastSignedOffset = reader.count();
    if (lastSignedOffset === NOT_DIRECT) return undefined;
  }
  const erasures = fieldCount === 6 ? directCounts(ERASURE_SECTION_FIELDS) : undefined;
  if (fieldCount === 6 && erasures === undefined) return undefined;
  if (!reader.atEnd) return undefined;
  const merkle = { size, blockStartOffset, pendingLeaves, frontier, unwritten, lastSignedOffset };
  return {
    type: 'checkpoint',
    chainBefore,
    sections: {
      catalog,
      allocator,
      timeline,
      merkle,
      ...(erasures === undefined ? {} : { erasures }),
    },
  };
}
