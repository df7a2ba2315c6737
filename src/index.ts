/**
 * The public entry point of Cartridge. Everything a user may import is exported here and
 * nowhere else; the layout behind it may change.
 */
export { Cartridge, type Content, type VerifyFileOptions } from './engine/cartridge.js';
export { CartridgeView } from './engine/cartridge-view.js';
export type {
  FilePatch,
  PatchFileOptions,
  RedactOptions,
  RedactResult,
  ShredResult,
} from './engine/cartridge.js';
export type { RedactVersions } from './engine/redaction-plan.js';
export { Database, type DatabaseOptions } from './sqlite/database.js';
export {
  DatabaseStatement,
  type BindParameters,
  type RunResult,
  type SqliteValue,
} from './sqlite/statement.js';
export type { ExportDatabaseOptions } from './sqlite/native-interop.js';
export {
  Engram,
  type EngramCompressionMethod,
  type EngramEntry,
  type EngramOpenOptions,
  type EngramVerifyReport,
} from './engram/reader.js';
export { EngramView } from './engram/engram-view.js';
export type { EngramCompression } from './engram/entry-codec.js';
export type {
  EngramAuthor,
  EngramFileEntry,
  EngramManifest,
  EngramMetadata,
  EngramSignature,
} from './engram/manifest.js';
export type { PublicKey, SignatureCheck, SigningKey } from './engram/signing.js';
export type { WriteProgress } from './engram/writer.js';
export type { FreezeOptions, FreezeResult, Provenance } from './engine/freeze.js';
export type {
  ByteRange,
  CartridgeStats,
  CreateDirectoryOptions,
  WriteFileOptions,
  DiffEntry,
  DiffOptions,
  EntryMetadata,
  HistoryOptions,
  RestoreResult,
  Assurance,
  CompactedFrom,
  VerifyFailureCode,
  VerifyOptions,
  VerifyProgress,
  VerifyReport,
} from './engine/cartridge-types.js';
export type { ExportedHead, KeyInput, SignedHead } from './proof/signed-head.js';
export { type ProvenRecord, type RecordProof, verifyProof } from './proof/inclusion-proof.js';
export type { RecordTarget } from './engine/record-proof.js';
export type { CheckoutTarget } from './engine/checkout.js';
export type { RepairOptions, RepairReport } from './engine/repair.js';
export type { CompactOptions, CompactProgress, CompactResult } from './engine/compaction.js';
export type {
  ChangeEvent,
  ChangeFilter,
  ChangesOptions,
  ChangeType,
} from './engine/change-stream.js';
export type { PathVersion, VersionChange } from './engine/history.js';
export type { SnapshotInfo } from './engine/snapshots.js';
export { type Position, positionOf } from './position.js';
export { type CodeCacheStatus, type EngineLoad, engineLoad } from './engine-load.js';
export type {
  AuditOptions,
  CartridgeOptions,
  Durability,
  RecoveryMode,
  SubjectEncryptionOptions,
} from './engine/options.js';
export type { AuditExportResult, AuditQuery, AuditRecord } from './engine/audit-query.js';
export type { AuditAction, AuditEntry } from './journal/journal-event.js';
export type { Effect, Policy, PolicyDocument, Statement } from './iam/policy.js';
export type { Action, RequestAction } from './iam/action.js';
export type { Condition, ConditionOperator } from './iam/conditions.js';
export type { RecoveryReport, RecoveryDecision } from './journal/recovery.js';
export type { CompressionName } from './journal/compression.js';
export type { CipherName } from './journal/keyring.js';
export type { EncryptionInfo } from './engine/key-rotation.js';
export { encryptionKeyId } from './engine/encryption.js';
export type { BufferPoolStats } from './projections/buffer-pool.js';
export type {
  FileIdentity,
  LockHolder,
  OpenFileOptions,
  PathStatus,
  Storage,
  StorageFile,
} from './journal/io/storage.js';
export type { PathWatch, PathWatchVerdict } from './journal/io/path-watch.js';
export { NodeStorage } from './journal/io/node-storage.js';
export { MemoryStorage } from './journal/io/memory-storage.js';
export {
  CARTRIDGE_ERROR_CODES,
  CartridgeError,
  type CartridgeErrorCode,
  type EngineErrorCode,
  type FileSystemErrorCode,
  type ProofErrorCode,
  isCartridgeError,
} from './errors.js';
export { canonicalPath } from './path/canonical-path.js';
export { type CartridgeFs, createFs } from './vfs/cartridge-fs.js';
export type {
  MakeDirectoryOptions,
  ReaddirOptions,
  RemoveOptions,
  StatOptions,
} from './vfs/cartridge-fs.js';
export { FileStats } from './vfs/file-stats.js';
export { DirectoryEntry } from './vfs/directory-entry.js';
export type { NodeStyleError } from './vfs/node-error.js';
export type { ReadSyncOptions } from './vfs/file-descriptors.js';
export type { ReadStreamOptions, WriteStreamOptions } from './vfs/fs-streams.js';
export type { FsWatcher, WatchListener, WatchOptions } from './vfs/fs-watch.js';
export type { FsPromises } from './vfs/fs-promises.js';
export type { FsData, PathLike, EncodingOptions } from './vfs/fs-arguments.js';
