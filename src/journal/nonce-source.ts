import { randomBytes } from 'node:crypto';

/**
 * Nonces for sealing records: 96 bits, a random 64-bit prefix drawn when the source is made
 * (each create and each open of a cartridge for writing) followed by a 32-bit counter, stored
 * in each record. A nonce must never repeat under one key, and the journal cannot promise that
 * from anything it stores: sequence numbers and offsets of a torn tail are reused once the tail
 * is cut, and a crash loses any counter written after the last sync. A fresh random prefix per
 * writer makes the nonces of two writers collide only if their prefixes do (about n² / 2^65
 * for n opens), while the counter makes the nonces of one writer distinct outright, however
 * many records it seals (the prefix is drawn again before the counter wraps).
 *
 * Counters are even: a record's body is sealed under the nonce, its blob under the same nonce
 * with the counter plus one (`blobNonceOf`), so one nonce stored per record serves both.
 */

export const NONCE_BYTES = 12;
const PREFIX_BYTES = 8;
const COUNTER_LIMIT = 0x1_0000_0000;

export class NonceSource {
  private prefix = randomBytes(PREFIX_BYTES);
  private counter = 0;

  /** Writes the next nonce into `target` at `offset`. */
  writeNext(target: Buffer, offset: number): void {
    if (this.counter >= COUNTER_LIMIT) {
      this.prefix = randomBytes(PREFIX_BYTES);
      this.counter = 0;
    }
    this.prefix.copy(target, offset);
    target.writeUInt32BE(this.counter, offset + PREFIX_BYTES);
    this.counter += 2;
  }
}

/** The nonce a record's blob is sealed under, given the record's (even) nonce. */
export function blobNonceOf(nonce: Uint8Array): Buffer {
  return writeBlobNonce(nonce, Buffer.allocUnsafe(NONCE_BYTES));
}

/** Writes the blob nonce of the record nonce `nonce` into `target`, and returns `target`. */
export function writeBlobNonce(nonce: Uint8Array, target: Buffer): Buffer {
  target.set(nonce.subarray(0, NONCE_BYTES));
  target[NONCE_BYTES - 1] = (target[NONCE_BYTES - 1] as number) | 1;
  return target;
}

/** Whether a nonce read from a record is one a writer could have made (its counter is even). */
export function isRecordNonce(nonce: Uint8Array): boolean {
  return ((nonce[NONCE_BYTES - 1] as number) & 1) === 0;
}
