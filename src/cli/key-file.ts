import { readFileSync } from 'node:fs';
import { UsageError } from './exit-codes.js';

/** The bytes of an encryption key. */
const KEY_BYTES = 32;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * The encryption key in `path` (`--key-file`): 32 raw bytes, or 64 hex digits (surrounding
 * white space, such as a final newline, is ignored). Anything else is a usage mistake: a key
 * is never guessed from a file that might be something else. Read afresh for each open, so no
 * copy outlives the cartridge handle that needs it.
 */
export function readKeyFile(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read the key file ${path}: ${(error as Error).message}`);
  }
  if (bytes.length === KEY_BYTES) return bytes;
  const text = bytes.toString('latin1').trim();
  if (HEX_KEY.test(text)) {
    bytes.fill(0);
    return Buffer.from(text, 'hex');
  }
  bytes.fill(0);
  throw new UsageError(`the key file ${path} holds neither 32 raw bytes nor 64 hex digits`);
}
