import type { Policy } from '../iam/policy.js';
import { engramCorrupt } from './layout.js';

/**
 * The typed Engram manifest, field for field the `Manifest` struct of engram-rs. Its compact
 * JSON, keys in struct field order and absent optional fields left out, is what signatures
 * cover, so `compactManifestJson` writes exactly what serde_json writes for the struct, and
 * nothing may be added that the struct would drop (it would change the signed bytes on one
 * side only).
 */

export interface EngramAuthor {
  readonly name: string;
  readonly email?: string;
  readonly url?: string;
}

export interface EngramMetadata {
  /** The package's version (semantic version), not the manifest format's. */
  readonly version: string;
  /** Unix seconds. */
  readonly created: number;
  readonly modified?: number;
  readonly license?: string;
  readonly tags: readonly string[];
}

export interface EngramFileEntry {
  readonly path: string;
  /** Lower-case hex SHA-256 of the uncompressed content. */
  readonly sha256: string;
  readonly size: number;
  readonly mime_type?: string;
}

export interface EngramSignature {
  readonly algorithm: string;
  /** Hex, 32 bytes. */
  readonly public_key: string;
  /** Hex, 64 bytes. */
  readonly signature: string;
  /** Unix seconds. */
  readonly timestamp: number;
  readonly signer?: string;
}

export interface EngramManifest {
  /** The manifest format's version; engram-rs 1.1 writes "0.4.0". */
  readonly version: string;
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly author: EngramAuthor;
  readonly metadata: EngramMetadata;
  readonly capabilities: readonly string[];
  readonly files: readonly EngramFileEntry[];
  readonly signatures: readonly EngramSignature[];
}

export const MANIFEST_FORMAT_VERSION = '0.4.0';
export const MANIFEST_PATH = 'manifest.json';

/** Drops undefined optional fields while keeping the struct's key order. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

/** The manifest as the struct serialises it: keys in field order, absent options left out. */
function ordered(manifest: EngramManifest): unknown {
  const { author, metadata } = manifest;
  return defined({
    version: manifest.version,
    id: manifest.id,
    name: manifest.name,
    description: manifest.description,
    author: defined({ name: author.name, email: author.email, url: author.url }),
    metadata: defined({
      version: metadata.version,
      created: metadata.created,
      modified: metadata.modified,
      license: metadata.license,
      tags: metadata.tags,
    }),
    capabilities: manifest.capabilities,
    files: manifest.files.map((file) =>
      defined({ path: file.path, sha256: file.sha256, size: file.size, mime_type: file.mime_type }),
    ),
    signatures: manifest.signatures.map((signature) =>
      defined({
        algorithm: signature.algorithm,
        public_key: signature.public_key,
        signature: signature.signature,
        timestamp: signature.timestamp,
        signer: signature.signer,
      }),
    ),
  });
}

/**
 * serde_json's compact form. JSON.stringify escapes strings as serde_json does (`"`, `\`,
 * control characters as `\n`-style or lower-case `\u00xx`; nothing else), and integers print
 * the same; so the bytes agree for every manifest whose numbers are safe integers.
 */
export function compactManifestJson(manifest: EngramManifest): string {
  return JSON.stringify(ordered(manifest));
}

/** The bytes signatures cover: the compact JSON with `signatures` empty. */
export function signedManifestBytes(manifest: EngramManifest): Buffer {
  return Buffer.from(compactManifestJson({ ...manifest, signatures: [] }), 'utf8');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw engramCorrupt(`manifest field ${what} is not a string`);
  return value;
}

function optionalText(value: unknown, what: string): string | undefined {
  return value === undefined || value === null ? undefined : text(value, what);
}

function unsigned(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw engramCorrupt(`manifest field ${what} is not an unsigned integer`);
  }
  return value;
}

function optionalUnsigned(value: unknown, what: string): number | undefined {
  return value === undefined || value === null ? undefined : unsigned(value, what);
}

function list<T>(value: unknown, what: string, item: (element: unknown) => T): T[] {
  // serde's #[serde(default)] makes a missing list an empty one.
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw engramCorrupt(`manifest field ${what} is not a list`);
  return value.map(item);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (!isObject(value)) throw engramCorrupt(`manifest field ${what} is not an object`);
  return value;
}

/**
 * Reads a manifest as serde would deserialise the struct: unknown keys ignored, missing
 * lists empty, a missing required field or a wrong type refused with `ENGRAM_CORRUPT`.
 */
export function parseManifest(bytes: Buffer): EngramManifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw engramCorrupt('has a manifest.json that is not JSON');
  }
  const root = object(value, 'manifest');
  const author = object(root.author, 'author');
  const metadata = object(root.metadata, 'metadata');
  return {
    version: text(root.version, 'version'),
    id: text(root.id, 'id'),
    name: text(root.name, 'name'),
    description: optionalText(root.description, 'description'),
    author: {
      name: text(author.name, 'author.name'),
      email: optionalText(author.email, 'author.email'),
      url: optionalText(author.url, 'author.url'),
    },
    metadata: {
      version: text(metadata.version, 'metadata.version'),
      created: unsigned(metadata.created, 'metadata.created'),
      modified: optionalUnsigned(metadata.modified, 'metadata.modified'),
      license: optionalText(metadata.license, 'metadata.license'),
      tags: list(metadata.tags, 'metadata.tags', (tag) => text(tag, 'metadata.tags[]')),
    },
    capabilities: list(root.capabilities, 'capabilities', (item) => text(item, 'capabilities[]')),
    files: list(root.files, 'files', (item) => {
      const file = object(item, 'files[]');
      return {
        path: text(file.path, 'files[].path'),
        sha256: text(file.sha256, 'files[].sha256'),
        size: unsigned(file.size, 'files[].size'),
        mime_type: optionalText(file.mime_type, 'files[].mime_type'),
      };
    }),
    signatures: list(root.signatures, 'signatures', (item) => {
      const signature = object(item, 'signatures[]');
      return {
        algorithm: text(signature.algorithm, 'signatures[].algorithm'),
        public_key: text(signature.public_key, 'signatures[].public_key'),
        signature: text(signature.signature, 'signatures[].signature'),
        timestamp: unsigned(signature.timestamp, 'signatures[].timestamp'),
        signer: optionalText(signature.signer, 'signatures[].signer'),
      };
    }),
  };
}

/**
 * The capabilities an archive declares, from the policy: one string per action and resource
 * of each Allow statement, `<action>:<resource without its leading slash>`, the action in
 * lower case and `*` for All (as the original freezer wrote them). Deny statements and
 * conditions do not translate into this flat list and are left out.
 */
export function capabilitiesOf(policy: Policy | null): string[] {
  if (policy === null) return [];
  const capabilities: string[] = [];
  for (const statement of policy.statements) {
    if (statement.effect !== 'Allow') continue;
    for (const action of statement.actions) {
      for (const resource of statement.resources) {
        const name = action === 'All' ? '*' : action.toLowerCase();
        const capability = `${name}:${resource.replace(/^\//, '')}`;
        if (!capabilities.includes(capability)) capabilities.push(capability);
      }
    }
  }
  return capabilities;
}
