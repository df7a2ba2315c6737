import type { KeyObject } from 'node:crypto';
import { CartridgeError, journalCorrupt } from '../errors.js';
import { AEAD_TAG_BYTES, type Aead, aeadFor } from './aead.js';
import { KEY_ID_BYTES, keyIdNumberOf, type Keyring } from './keyring.js';
import {
  blobNonceOf,
  isRecordNonce,
  NONCE_BYTES,
  NonceSource,
  writeBlobNonce,
} from './nonce-source.js';

/**
 * The encryption stage of the record pipeline (compress → seal → frame): a record's body and
 * its stored blob are each sealed with an AEAD (AES-256-GCM or ChaCha20-Poly1305, 16-byte
 * tags), with the record's frame header bytes 0..36 as associated data. So a sealed record
 * cannot be moved (its sequence and link are authenticated), retyped or grown without the tag
 * failing, and nothing of its body (paths, metadata, checkpoint sections) or blob (content,
 * index pages) is readable on disk.
 *
 * A sealed body is `keyId (4) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`; a sealed blob is
 * `ciphertext ‖ tag (16)`, or nothing when the blob is empty. Body and blob are sealed apart,
 * under the nonce and the nonce with its counter plus one, so that the body opens without the
 * blob (replay never reads content) and a blob replaced later by an erasure marker does not
 * make the body unreadable.
 *
 * Opening checks the tag before any plaintext leaves this module (see `Aead.open`). The cipher
 * calls themselves are `aead.ts`'s: Node's OpenSSL through the addon, or node:crypto.
 * The frame's CRC32C and the hash chain cover the sealed bytes, so checking a journal
 * (`verify`, recovery) needs no key.
 */

export const SEAL_TAG_BYTES = AEAD_TAG_BYTES;
const SEALED_BODY_PREFIX_BYTES = KEY_ID_BYTES + NONCE_BYTES;
/** What sealing adds to every body: key id, nonce and tag. */
export const SEALED_BODY_OVERHEAD_BYTES = SEALED_BODY_PREFIX_BYTES + SEAL_TAG_BYTES;

/** The stored length of a blob of `lengthBytes` once sealed. */
export function sealedBlobLengthOf(lengthBytes: number): number {
  return lengthBytes === 0 ? 0 : lengthBytes + SEAL_TAG_BYTES;
}

/**
 * A sealed record's body, and its sealed blob in the two pieces sealing gives: the ciphertext
 * (the cipher's own output buffer) and the tag, stored back to back (`ciphertext ‖ tag`). They
 * are kept apart and written as two pieces of one `writev`: joining them cost an allocation
 * and a copy of the whole blob per record. `blobTag` is empty when the blob is.
 */
export interface SealedPayload {
  readonly body: Buffer;
  readonly blobCiphertext: Buffer;
  readonly blobTag: Buffer;
}

/** The sealed blob as stored: the ciphertext followed by the tag, joined. */
export function sealedBlobBytes(payload: SealedPayload): Buffer {
  return Buffer.concat([payload.blobCiphertext, payload.blobTag]);
}

/** The key id a sealed body names (the caller has checked the body's length). */
export function keyIdOfSealedBody(storedBody: Uint8Array): Buffer {
  return Buffer.from(storedBody.buffer, storedBody.byteOffset, KEY_ID_BYTES);
}

export class RecordSealing {
  private readonly nonces = new NonceSource();
  private readonly aead: Aead;

  constructor(
    readonly keyring: Keyring,
    aead?: Aead,
  ) {
    this.aead = aead ?? aeadFor(keyring.cipher);
  }

  /**
   * The blob nonce of the record being sealed, written here rather than into a fresh buffer
   * per record: the cipher takes its nonce into its context before it returns.
   */
  private readonly blobNonce = Buffer.alloc(NONCE_BYTES);

  /**
   * Where the blobs of a commit are sealed when the AEAD writes into memory it is given: a
   * 64 KiB write sealed into a fresh buffer of its own paid an allocation, and the page faults of
   * new memory, that the plain write does not (it writes the caller's bytes as they are).
   */
  private readonly commitArena = new CommitArena();

  /** Which AEAD implementation seals and opens: 'native' or 'node:crypto'. */
  get implementation(): Aead['implementation'] {
    return this.aead.implementation;
  }

  /**
   * Seals a record's body and blob (the blob as compressed) under the current key and a fresh
   * nonce. `associatedData` is the frame header's bytes 0..36 with the sealed lengths in it.
   * `blobKey`, when given, seals the blob instead of the current key: a subject's data key
   * (see `subject-keys.ts`), so that destroying it makes the blob unreadable while the body
   * (paths, metadata, which replay needs) still opens. The blob nonce is the body's counter
   * plus one, as always: nonces are unique per writer whatever key they are used with.
   */
  seal(
    associatedData: Buffer,
    body: Uint8Array,
    blob: Uint8Array,
    blobKey?: KeyObject,
  ): SealedPayload {
    const key = this.keyring.currentRecordKey;
    const sealedBody = Buffer.allocUnsafe(body.length + SEALED_BODY_OVERHEAD_BYTES);
    this.keyring.currentKeyId.copy(sealedBody, 0);
    this.nonces.writeNext(sealedBody, KEY_ID_BYTES);
    const nonce = sealedBody.subarray(KEY_ID_BYTES, SEALED_BODY_PREFIX_BYTES);
    this.aead.sealInto(key, nonce, associatedData, body, sealedBody, SEALED_BODY_PREFIX_BYTES);
    if (blob.length === 0) return { body: sealedBody, blobCiphertext: EMPTY, blobTag: EMPTY };
    const nonceOfBlob = writeBlobNonce(nonce, this.blobNonce);
    if (!this.aead.writesInPlace) {
      const { ciphertext, tag } = this.aead.seal(blobKey ?? key, nonceOfBlob, associatedData, blob);
      return { body: sealedBody, blobCiphertext: ciphertext, blobTag: tag };
    }
    const sealedBlob = this.commitArena.take(blob.length + SEAL_TAG_BYTES);
    this.aead.sealInto(blobKey ?? key, nonceOfBlob, associatedData, blob, sealedBlob, 0);
    return {
      body: sealedBody,
      blobCiphertext: sealedBlob.subarray(0, blob.length),
      blobTag: sealedBlob.subarray(blob.length),
    };
  }

  /**
   * The sealed blobs of the commit being written are no longer needed (it was written, or
   * dropped): their memory is reused by the next commit's. The writer calls this when it has
   * no staged record left, and nothing else keeps a sealed blob (reads open stored bytes into
   * buffers of their own).
   */
  releaseCommitBuffers(): void {
    this.commitArena.reset();
  }

  /** The record key a sealed body names; a key id the keyring lacks is `KEY_REQUIRED`. */
  private keyOf(storedBody: Uint8Array, offset: number): KeyObject {
    if (storedBody.length < SEALED_BODY_OVERHEAD_BYTES) {
      throw journalCorrupt(offset, 'sealed record body is too short');
    }
    const key = this.keyring.recordKeyOf(keyIdNumberOf(storedBody));
    if (key === undefined) {
      const keyId = keyIdOfSealedBody(storedBody).toString('hex');
      throw new CartridgeError(
        'KEY_REQUIRED',
        `the record at journal offset ${offset} is sealed with key ${keyId}, which was not given`,
        { offset },
      );
    }
    return key;
  }

  private nonceOf(storedBody: Uint8Array, offset: number): Uint8Array {
    const nonce = storedBody.subarray(KEY_ID_BYTES, SEALED_BODY_PREFIX_BYTES);
    if (!isRecordNonce(nonce)) throw journalCorrupt(offset, 'sealed record has an odd nonce');
    return nonce;
  }

  /** The plaintext body of a sealed record, after its tag checked out. */
  openBody(associatedData: Buffer, storedBody: Uint8Array, offset: number): Buffer {
    const key = this.keyOf(storedBody, offset);
    const nonce = this.nonceOf(storedBody, offset);
    return this.openSealed(
      key,
      nonce,
      associatedData,
      storedBody.subarray(SEALED_BODY_PREFIX_BYTES),
      offset,
    );
  }

  /**
   * The plaintext (still compressed) blob of a sealed record, after its tag checked out;
   * `blobKey` is the subject data key that sealed it, if one did.
   */
  openBlob(
    associatedData: Buffer,
    storedBody: Uint8Array,
    storedBlob: Uint8Array,
    offset: number,
    blobKey?: KeyObject,
  ): Buffer {
    if (storedBlob.length === 0) return EMPTY;
    if (storedBlob.length < SEAL_TAG_BYTES) {
      throw journalCorrupt(offset, 'sealed record blob is too short');
    }
    const key = blobKey ?? this.keyOf(storedBody, offset);
    const nonce = blobNonceOf(this.nonceOf(storedBody, offset));
    return this.openSealed(key, nonce, associatedData, storedBlob, offset);
  }

  private openSealed(
    key: KeyObject,
    nonce: Uint8Array,
    associatedData: Buffer,
    sealed: Uint8Array,
    offset: number,
  ): Buffer {
    const plaintext = this.aead.open(key, nonce, associatedData, sealed);
    if (plaintext === undefined) {
      throw new CartridgeError(
        'DECRYPTION_FAILED',
        `the record at journal offset ${offset} does not authenticate: a wrong key, or tampering`,
        { offset },
      );
    }
    return plaintext;
  }
}

const EMPTY = Buffer.alloc(0);

/** The arena's first size, and the most it keeps between commits. */
const ARENA_INITIAL_BYTES = 256 * 1024;
const ARENA_KEPT_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Memory for the sealed blobs of one commit, carved front to back and reused by the next
 * commit once `reset`. A piece that does not fit gets a buffer of its own (pieces already
 * carved are still in use: the arena never moves them), and the next arena is made large
 * enough for such a commit, up to ARENA_KEPT_MAX_BYTES: a commit larger than that keeps
 * allocating its own pieces, so one huge transaction does not pin its size for the life of
 * the handle.
 */
class CommitArena {
  private buffer = Buffer.allocUnsafe(0);
  private usedBytes = 0;
  private wantedBytes = ARENA_INITIAL_BYTES;

  take(lengthBytes: number): Buffer {
    const start = this.usedBytes;
    this.usedBytes += lengthBytes;
    if (this.usedBytes <= this.buffer.length) return this.buffer.subarray(start, this.usedBytes);
    this.wantedBytes = Math.min(ARENA_KEPT_MAX_BYTES, Math.max(this.wantedBytes, this.usedBytes));
    return Buffer.allocUnsafe(lengthBytes);
  }

  reset(): void {
    if (this.buffer.length < this.wantedBytes)
      this.buffer = Buffer.allocUnsafeSlow(this.wantedBytes);
    this.usedBytes = 0;
  }
}
