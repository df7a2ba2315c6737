import { describe, expect, it } from 'vitest';
import { ContentAdmission, LARGE_BLOB_MIN_BYTES } from '../../../src/engine/content-admission.js';

/**
 * The pool's admission of blobs read from the journal: small ones at once, large ones on their
 * second read while the first is remembered, and the memory of first reads bounded.
 */
describe('content admission', () => {
  it('admits a small blob at its first read', () => {
    const admission = new ContentAdmission(64 * 1024 * 1024);
    expect(admission.admits(100, LARGE_BLOB_MIN_BYTES - 1)).toBe(true);
    expect(admission.admits(100, LARGE_BLOB_MIN_BYTES - 1)).toBe(true);
  });

  it('admits a large blob at its second read, and forgets it once admitted', () => {
    const admission = new ContentAdmission(64 * 1024 * 1024);
    expect(admission.admits(4096, LARGE_BLOB_MIN_BYTES)).toBe(false);
    expect(admission.admits(8192, 65536)).toBe(false);
    expect(admission.admits(4096, LARGE_BLOB_MIN_BYTES)).toBe(true);
    expect(admission.admits(8192, 65536)).toBe(true);
    // Evicted from the pool later and read again: a first read once more.
    expect(admission.admits(4096, LARGE_BLOB_MIN_BYTES)).toBe(false);
  });

  it('remembers as many first reads as the pool could hold large blobs, within bounds', () => {
    // A pool of 64 large blobs' worth: the lower bound, 64 offsets.
    const admission = new ContentAdmission(64 * LARGE_BLOB_MIN_BYTES);
    for (let offset = 0; offset < 65; offset++) {
      expect(admission.admits(offset, LARGE_BLOB_MIN_BYTES)).toBe(false);
    }
    // Offset 0 was forgotten when the 65th was remembered; offset 1 is still remembered.
    expect(admission.admits(0, LARGE_BLOB_MIN_BYTES)).toBe(false);
    expect(admission.admits(2, LARGE_BLOB_MIN_BYTES)).toBe(true);
    // A huge pool still remembers at most 16 384 offsets.
    const bounded = new ContentAdmission(Number.MAX_SAFE_INTEGER);
    for (let offset = 0; offset <= 16_384; offset++) bounded.admits(offset, LARGE_BLOB_MIN_BYTES);
    expect(bounded.admits(0, LARGE_BLOB_MIN_BYTES)).toBe(false);
    expect(bounded.admits(16_384, LARGE_BLOB_MIN_BYTES)).toBe(true);
  });
});
