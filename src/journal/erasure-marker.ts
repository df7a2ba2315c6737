/**
 * What an erased blob's bytes become: the 16 ASCII bytes `cartridge-erased` repeated over the
 * whole stored blob (cut at its end), written in place over the blob, so that no offset moves
 * and no byte of the content is left. The marker carries nothing: what the chain and the
 * Merkle log need of the blob that was there (its hash), and what the frame's payload checksum
 * no longer vouches for (the body's CRC32C), are in the `content.erased` record that names it,
 * which is durable before the first byte is overwritten.
 */

const MARKER_PATTERN = Buffer.from('cartridge-erased', 'latin1');

/** The marker for a stored blob of `lengthBytes`. */
export function erasureMarkerOf(lengthBytes: number): Buffer {
  const marker = Buffer.allocUnsafe(lengthBytes);
  for (let position = 0; position < lengthBytes; position += MARKER_PATTERN.length) {
    MARKER_PATTERN.copy(
      marker,
      position,
      0,
      Math.min(MARKER_PATTERN.length, lengthBytes - position),
    );
  }
  return marker;
}

/** Whether `bytes` are exactly the marker of their length (an erasure that is complete). */
export function isErasureMarker(bytes: Uint8Array): boolean {
  for (let position = 0; position < bytes.length; position++) {
    if (bytes[position] !== MARKER_PATTERN[position % MARKER_PATTERN.length]) return false;
  }
  return true;
}
