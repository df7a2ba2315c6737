import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Shared pieces of the workloads: deterministic test data and scratch directories. */

export const KIB = 1024;
export const MIB = 1024 * 1024;

/**
 * `count` buffers of `sizeBytes` incompressible bytes (an AES-CTR keystream), the same for the
 * same seed on every run, so the checksum of a run does not depend on chance. Each buffer has
 * its own memory.
 */
export function incompressibleBuffers(count: number, sizeBytes: number, seed: string): Buffer[] {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const buffers: Buffer[] = [];
  for (let index = 0; index < count; index++) buffers.push(Buffer.from(cipher.update(Buffer.alloc(sizeBytes))));
  return buffers;
}

/** A fresh directory under the OS temp directory; `remove` deletes it with everything inside. */
export function scratchDirectory(label: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `cartridge-bench-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** What every workload's setup returns: the two hot closures and how to clean up. */
export interface PreparedPair {
  /** One Cartridge operation. */
  readonly subject: () => number;
  /** The same work done the plain way, measured in the same run. */
  readonly baseline: () => number;
  /** Closes and deletes everything setup made; may throw when a sanity check failed. */
  readonly teardown: () => void;
}
