import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { FileIdentity, LockHolder } from './storage.js';

/**
 * The operating system's own file lock: flock(2), through the `fs-ext` native binding (Node
 * has no flock of its own). The kernel ties the lock to the open file description, so:
 * - a second descriptor on the same file, in this process or another, cannot take it;
 * - it ends when the descriptor is closed or the process dies, SIGKILL included, so there is
 *   no stale lock to judge and no race between two processes breaking one;
 * - taking it is one atomic system call: a process killed while taking it holds nothing.
 * Its limits (network file systems, other hosts) are written in docs/ARCHITECTURE.md.
 */

interface FlockBinding {
  flockSync(descriptor: number, flags: 'exnb'): void;
}

/**
 * The binding is loaded with this module, not on the first lock: loading a native addon takes
 * milliseconds (a dlopen and its JavaScript), which the first open of every process would
 * otherwise pay on top of its own work. A failure to load is kept and thrown when a lock is
 * wanted, so a process that never writes still runs without the addon.
 */
const loadedBinding = loadFlockBinding();

function loadFlockBinding(): FlockBinding | Error {
  try {
    return createRequire(import.meta.url)('fs-ext') as FlockBinding;
  } catch (error) {
    // Without a lock two writers could interleave silently: refusing to write is the safe side.
    return Object.assign(new Error('ENOSYS: file locking is unavailable (fs-ext did not load)'), {
      code: 'ENOSYS',
      syscall: 'flock',
      cause: error,
    });
  }
}

function flockBinding(): FlockBinding {
  if (loadedBinding instanceof Error) throw loadedBinding;
  return loadedBinding;
}

function isWouldBlock(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

/** Takes an exclusive flock on `descriptor` without waiting; false when someone holds it. */
export function flockExclusive(descriptor: number): boolean {
  try {
    flockBinding().flockSync(descriptor, 'exnb');
    return true;
  } catch (error) {
    if (isWouldBlock(error)) return false;
    throw error;
  }
}

/** Linux's encoding of a device number into major and minor (glibc's gnu_dev_major/minor). */
function majorMinorOf(device: number): [number, number] {
  const value = BigInt(device);
  const major = ((value >> 8n) & 0xfffn) | ((value >> 32n) & ~0xfffn);
  const minor = (value & 0xffn) | ((value >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

/**
 * Finds the process holding a flock on the file in /proc/locks (Linux). Other systems, and
 * holders on other hosts of a network file system, are unknown: both fields stay undefined.
 */
export function lockHolderOf(identity: FileIdentity): LockHolder {
  let table: string;
  try {
    table = fs.readFileSync('/proc/locks', 'latin1');
  } catch {
    return { pid: undefined, host: undefined };
  }
  const [major, minor] = majorMinorOf(identity.device);
  for (const line of table.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 2794 fe:00:2146626 0 EOF"; waiters carry "->" and are skipped.
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'FLOCK' || fields[3] !== 'WRITE') continue;
    const [majorText, minorText, inodeText] = (fields[5] ?? '').split(':');
    if (
      Number.parseInt(majorText ?? '', 16) === major &&
      Number.parseInt(minorText ?? '', 16) === minor &&
      Number(inodeText) === identity.inode
    ) {
      const pid = Number(fields[4]);
      return { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined, host: hostname() };
    }
  }
  return { pid: undefined, host: undefined };
}
