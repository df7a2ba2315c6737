import type { KeyObject } from 'node:crypto';
import { assert } from '../assert.js';
import { CartridgeError } from '../errors.js';
import type { JournalEvent } from '../journal/journal-event.js';
import { readRecordAt, toJournalRecord } from '../journal/journal-reader.js';
import {
  type ExportedHead,
  rawPublicKeyOf,
  type SignedHead,
  signHead,
} from '../proof/signed-head.js';
import type { OpenedJournal } from './open-journal.js';

/**
 * Signed checkpoints: the committed head, signed with the caller's Ed25519 key and kept in the
 * journal as a `head.signed` record, the first of a commit of its own, so that the head it
 * signs is exactly the journal before it. The key never touches the file; only its public half
 * and the signature do.
 */

/** The committed head: what `exportHead()` returns and `signCheckpoint()` signs. */
export function committedHead(journal: OpenedJournal): ExportedHead {
  const tail = journal.writer.committedTail;
  assert(journal.writer.stagedCount === 0, 'a head is taken with nothing staged');
  assert(journal.merkle.size === tail.nextSequence, 'the Merkle log covers the committed head');
  return {
    cartridgeId: journal.headerKeeper.header.cartridgeId.toString('hex'),
    sequence: tail.nextSequence,
    offset: tail.endOffset,
    headHash: tail.lastHash.toString('hex'),
    merkleRoot: journal.merkle.root().toString('hex'),
  };
}

/**
 * Signs the committed head and stages its record through `append` (the write path, inside a
 * transaction the caller opened, before anything else is staged in it).
 */
export function stageSignedHead(
  journal: OpenedJournal,
  privateKey: KeyObject,
  append: (event: JournalEvent) => void,
): SignedHead {
  const signed = signHead(committedHead(journal), privateKey);
  append(headSignedEvent(signed));
  return signed;
}

function headSignedEvent(head: SignedHead): JournalEvent {
  return {
    type: 'head.signed',
    sequence: head.sequence,
    offset: head.offset,
    headHash: Buffer.from(head.headHash, 'hex'),
    merkleRoot: Buffer.from(head.merkleRoot, 'hex'),
    publicKey: Buffer.from(head.publicKey, 'hex'),
    signature: Buffer.from(head.signature, 'hex'),
  };
}

/** A `head.signed` event as the `SignedHead` value it stores. */
export function signedHeadOfEvent(
  cartridgeId: Buffer,
  event: Extract<JournalEvent, { type: 'head.signed' }>,
): SignedHead {
  return {
    cartridgeId: cartridgeId.toString('hex'),
    sequence: event.sequence,
    offset: event.offset,
    headHash: event.headHash.toString('hex'),
    merkleRoot: event.merkleRoot.toString('hex'),
    publicKey: event.publicKey.toString('hex'),
    signature: event.signature.toString('hex'),
  };
}

/** The last signed head the journal holds; `NOT_SIGNED` when it holds none. */
export function lastSignedHead(journal: OpenedJournal): SignedHead {
  const offset = journal.merkle.lastSignedOffset;
  if (offset === null) {
    throw new CartridgeError('NOT_SIGNED', 'no checkpoint has been signed; call signCheckpoint');
  }
  const record = toJournalRecord(readRecordAt(journal.file, offset), journal.sealing);
  if (record.event.type !== 'head.signed') {
    throw new CartridgeError(
      'JOURNAL_CORRUPT',
      'the last signed head is not a head.signed record',
      {
        offset,
      },
    );
  }
  return signedHeadOfEvent(journal.headerKeeper.header.cartridgeId, record.event);
}

/** The raw public key of a key pair's public half, hex, as heads store it. */
export function publicKeyHex(publicKey: KeyObject): string {
  return rawPublicKeyOf(publicKey).toString('hex');
}
