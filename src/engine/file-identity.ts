import { resolve } from 'node:path';
import { CartridgeError, fromSystemError } from '../errors.js';
import type { FileIdentity, PathStatus, Storage, StorageFile } from '../journal/io/storage.js';

/**
 * The file stays ours. A writer holds a descriptor, but users and other programs act on the
 * path: they unlink it, rename another file over it, move it away, remove its directory, or
 * truncate it (logrotate's copytruncate). Writes through the descriptor then still succeed and
 * fsync still returns, yet the data is gone or lands after a hole. So before every commit and
 * every sync the writer asks the path once (one stat): does it still name the file this handle
 * opened, and is that file exactly as long as the journal this handle wrote?
 */
export function fileGuardOf(
  storage: Storage,
  path: string,
  file: StorageFile,
): (expectedSizeBytes: number) => void {
  // Resolved now, so that a later change of the working directory does not move the check.
  const absolutePath = resolve(path);
  const identity = file.identity();
  return (expectedSizeBytes) => {
    let status: PathStatus | undefined;
    try {
      status = storage.statPath(absolutePath);
    } catch (error) {
      throw fromSystemError(error, `stat ${path}`);
    }
    const change = changeOf(identity, status, expectedSizeBytes);
    if (change !== undefined) throw new CartridgeError('FILE_CHANGED', `${path} ${change}`);
  };
}

function changeOf(
  identity: FileIdentity,
  status: PathStatus | undefined,
  expectedSizeBytes: number,
): string | undefined {
  if (status === undefined) return 'no longer exists (unlinked, moved, or its directory removed)';
  if (status.identity.device !== identity.device || status.identity.inode !== identity.inode) {
    return 'now names another file (replaced or moved)';
  }
  if (status.sizeBytes !== expectedSizeBytes) {
    return `is ${status.sizeBytes} bytes long where the writer wrote ${expectedSizeBytes}`;
  }
  return undefined;
}
