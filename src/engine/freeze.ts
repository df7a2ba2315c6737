import { randomUUID } from 'node:crypto';
import { CartridgeError } from '../errors.js';
import type { Storage } from '../journal/io/storage.js';
import type { EngramCompression } from '../engram/entry-codec.js';
import {
  type EngramAuthor,
  type EngramManifest,
  capabilitiesOf,
  MANIFEST_FORMAT_VERSION,
} from '../engram/manifest.js';
import { privateKeyOf, type SigningKey } from '../engram/signing.js';
import { type EntrySource, type WriteProgress, writeEngram } from '../engram/writer.js';
import { loadPolicy } from '../iam/policy.js';
import { ROOT_PATH } from '../path/canonical-path.js';
import type { Projections } from '../projections/projection-set.js';
import { requireOptionsObject } from './arguments.js';
import type { CheckoutTarget } from './checkout.js';
import type { ReadModel } from './read-model.js';

/**
 * Freeze: the state at a position, every live file of it, written as an Engram v1 archive
 * (see `src/engram/writer.ts`). Each file is read through the operation gate as the actor (a
 * `Read`, decided and audited) before anything is written, so a denied file leaves no archive.
 * Beside the files, `cartridge.json` records where the archive came from; it is listed in the
 * manifest with its SHA-256, so a signature covers it too.
 */

export const PROVENANCE_PATH = 'cartridge.json';

export interface FreezeOptions {
  /** The archive's human-readable name (manifest `name`). */
  readonly name: string;
  /** The package's version (manifest `metadata.version`). */
  readonly version: string;
  /** The author: a name, or `{ name, email?, url? }`. */
  readonly author: string | EngramAuthor;
  readonly description?: string;
  /** Per-file codec: `auto` chooses as engram-rs does. Default `auto`. */
  readonly compression?: EngramCompression;
  /** Signs the manifest: a 32-byte Ed25519 seed or an ed25519 private `KeyObject`. */
  readonly signingKey?: SigningKey;
  /** The signer's name in the signature entry. */
  readonly signer?: string;
  /** The state to freeze (an offset, a `Position`, a snapshot name, a `Date`); default the head. */
  readonly at?: CheckoutTarget;
  /** The archive identifier (manifest `id`); default a random UUID. */
  readonly id?: string;
  readonly license?: string;
  readonly tags?: readonly string[];
  /** Called after each piece of file content is written. */
  readonly onProgress?: (progress: WriteProgress) => void;
}

export interface FreezeResult {
  readonly path: string;
  /** Entries in the archive, `manifest.json` and `cartridge.json` included. */
  readonly entryCount: number;
  readonly fileCount: number;
  readonly archiveSizeBytes: number;
  /** The journal offset frozen (the head of the state). */
  readonly offset: number;
  readonly snapshot: string | null;
  readonly manifest: EngramManifest;
}

/** What `cartridge.json` holds. */
export interface Provenance {
  readonly cartridge_id: string;
  readonly offset: number;
  readonly head_hash: string;
  readonly snapshot: string | null;
  /** Directories without entries, which an archive cannot otherwise hold. */
  readonly empty_directories: readonly string[];
}

/** The state being frozen and what freeze needs of the cartridge. */
export interface FreezeSource {
  readonly storage: Storage;
  readonly cartridgeId: string;
  readonly state: Projections;
  readonly reads: ReadModel;
  readonly offset: number;
  readonly headHash: Buffer;
  readonly snapshot: string | null;
  readonly nowMs: number;
  /** The gate, as the actor: throws EACCES for a file it may not read (and audits). */
  authorizeRead(path: string): void;
}

/** Content is read from the cartridge in pieces of about this many bytes. */
const READ_PIECE_BYTES = 1024 * 1024;

interface CheckedOptions {
  readonly name: string;
  readonly version: string;
  readonly author: EngramAuthor;
  readonly description: string | undefined;
  readonly compression: EngramCompression;
  readonly signingKey: SigningKey | undefined;
  readonly signer: string | undefined;
  readonly id: string | undefined;
  readonly license: string | undefined;
  readonly tags: readonly string[];
  readonly onProgress: ((progress: WriteProgress) => void) | undefined;
}

function stringOption(name: string, value: unknown, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || (required && value.length === 0)) {
    throw new CartridgeError('INVALID_ARGUMENT', `freeze option ${name} must be a string`);
  }
  return value;
}

function authorOption(value: unknown): EngramAuthor {
  if (typeof value === 'string') return { name: stringOption('author', value, true) as string };
  const given = requireOptionsObject('freeze option author', value);
  return {
    name: stringOption('author.name', given.name, true) as string,
    email: stringOption('author.email', given.email, false),
    url: stringOption('author.url', given.url, false),
  };
}

const COMPRESSIONS: readonly EngramCompression[] = ['zstd', 'lz4', 'none', 'auto'];

/** Checks the options of `freeze`; the target `at` is checked where it is resolved. */
export function checkFreezeOptions(options: unknown): CheckedOptions {
  const given = requireOptionsObject('freeze options', options);
  const compression = given.compression ?? 'auto';
  if (!COMPRESSIONS.includes(compression as EngramCompression)) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      "freeze option compression must be 'zstd', 'lz4', 'none' or 'auto'",
    );
  }
  const tags = given.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string')) {
    throw new CartridgeError('INVALID_ARGUMENT', 'freeze option tags must be strings');
  }
  if (given.onProgress !== undefined && typeof given.onProgress !== 'function') {
    throw new CartridgeError('INVALID_ARGUMENT', 'freeze option onProgress must be a function');
  }
  if (given.signingKey !== undefined) privateKeyOf(given.signingKey as SigningKey);
  return {
    name: stringOption('name', given.name, true) as string,
    version: stringOption('version', given.version, true) as string,
    author: authorOption(given.author),
    description: stringOption('description', given.description, false),
    compression: compression as EngramCompression,
    signingKey: given.signingKey as SigningKey | undefined,
    signer: stringOption('signer', given.signer, false),
    id: stringOption('id', given.id, false),
    license: stringOption('license', given.license, false),
    tags: tags as string[],
    onProgress: given.onProgress as ((progress: WriteProgress) => void) | undefined,
  };
}

interface LiveFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly modifiedTime: number;
}

/** Every live file (sorted by path) and every empty directory of the state. */
function walk(reads: ReadModel): { files: LiveFile[]; emptyDirectories: string[] } {
  const files: LiveFile[] = [];
  const emptyDirectories: string[] = [];
  const pending = [ROOT_PATH];
  while (pending.length > 0) {
    const directory = pending.pop() as string;
    const names = reads.listDir(directory);
    if (names.length === 0 && directory !== ROOT_PATH) emptyDirectories.push(directory);
    for (const name of names) {
      const path = directory === ROOT_PATH ? `/${name}` : `${directory}/${name}`;
      const metadata = reads.metadata(path);
      if (metadata.type === 'directory') pending.push(path);
      else {
        files.push({
          path,
          sizeBytes: metadata.sizeBytes,
          modifiedTime: Math.floor(metadata.modifiedAtMs / 1000),
        });
      }
    }
  }
  files.sort((left, right) => (left.path < right.path ? -1 : left.path > right.path ? 1 : 0));
  emptyDirectories.sort();
  return { files, emptyDirectories };
}

/** Writes the archive; see the module comment. */
export function freezeState(
  source: FreezeSource,
  outPath: string,
  options: CheckedOptions,
): FreezeResult {
  const { files, emptyDirectories } = walk(source.reads);
  // Every decision comes before the first byte: a denied file leaves nothing behind.
  for (const file of files) source.authorizeRead(file.path);
  const createdSeconds = Math.floor(source.nowMs / 1000);
  const provenance: Provenance = {
    cartridge_id: source.cartridgeId,
    offset: source.offset,
    head_hash: source.headHash.toString('hex'),
    snapshot: source.snapshot,
    empty_directories: emptyDirectories,
  };
  const provenanceBytes = Buffer.from(JSON.stringify(provenance), 'utf8');
  const entries: EntrySource[] = [
    {
      path: PROVENANCE_PATH,
      sizeBytes: provenanceBytes.length,
      modifiedTime: createdSeconds,
      pieces: () => [provenanceBytes],
    },
    ...files.map((file) => ({
      path: file.path.slice(1),
      sizeBytes: file.sizeBytes,
      modifiedTime: file.modifiedTime,
      pieces: () => source.reads.readPieces(file.path, READ_PIECE_BYTES),
    })),
  ];
  const policyJson = source.state.policy.policyJson();
  const manifest: Omit<EngramManifest, 'files' | 'signatures'> = {
    version: MANIFEST_FORMAT_VERSION,
    id: options.id ?? randomUUID(),
    name: options.name,
    description: options.description,
    author: options.author,
    metadata: {
      version: options.version,
      created: createdSeconds,
      license: options.license,
      tags: options.tags,
    },
    capabilities: capabilitiesOf(policyJson === null ? null : loadPolicy(policyJson)),
  };
  const signing =
    options.signingKey === undefined
      ? undefined
      : {
          key: privateKeyOf(options.signingKey),
          signer: options.signer,
          timestamp: createdSeconds,
        };
  const written = writeEngram(source.storage, outPath, {
    manifest,
    entries,
    compression: options.compression,
    signing,
    onProgress: options.onProgress,
  });
  return {
    path: outPath,
    entryCount: written.entryCount,
    fileCount: files.length,
    archiveSizeBytes: written.archiveSizeBytes,
    offset: source.offset,
    snapshot: source.snapshot,
    manifest: written.manifest,
  };
}
