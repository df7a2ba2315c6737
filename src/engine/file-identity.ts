import { resolve } from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import { CartridgeError, fromSystemError } from '../errors.js';
import type { FileIdentity, PathStatus, Storage, StorageFile } from '../journal/io/storage.js';

/**
 * The file stays ours. A writer holds a descriptor, but users and other programs act on the
 * path: they unlink it, rename another file over it, move it away, remove its directory, or
 * truncate it (logrotate's copytruncate). Writes through the descriptor then still succeed and
 * fsync still returns, yet the data is gone or lands after a hole. So before every commit and
 * every sync the writer asks the path once (one stat): does it still name the file this handle
 * opened, and is that file exactly as long as the journal this handle wrote?
 *
 * A writer whose commits are copies into a mapping of the file (they raise no inotify event)
 * asks a watch on the path first (`watched`, ARCHITECTURE.md §86): while it has seen nothing,
 * the answer is the one the last `stat` gave, and the `stat` is skipped, but never for longer
 * than FULL_CHECK_INTERVAL_MS, which bounds what no watch sees (a file system mounted over a
 * directory on the way). Anything the watch saw, the writer's own header and zero writes
 * included, brings the `stat` back for that commit; a watch that can no longer tell is dropped.
 */
export function fileGuardOf(
  storage: Storage,
  path: string,
  file: StorageFile,
  watched = false,
  clock: Clock = systemClock,
): (expectedSizeBytes: number) => void {
  // Resolved now, so that a later change of the working directory does not move the check.
  const absolutePath = resolve(path);
  const identity = file.identity();
  const check = (expectedSizeBytes: number): void => {
    const status = statusOf(storage, absolutePath, path);
    const change = changeOf(identity, status) ?? lengthChangeOf(status, expectedSizeBytes);
    if (change !== undefined) throw new CartridgeError('FILE_CHANGED', `${path} ${change}`);
  };
  let watch = watched ? file.watchPath?.(absolutePath) : undefined;
  if (watch === undefined) return check;
  // When the last full check ran: none yet, so the first commit checks in full. (A check that
  // fails poisons the writer, which never asks again.)
  let checkedAtMs = Number.NEGATIVE_INFINITY;
  return (expectedSizeBytes) => {
    if (watch !== undefined) {
      // Polled before the stat: whatever happens after this poll, the next one sees.
      const verdict = watch.poll();
      const nowMs = clock.nowMs();
      if (verdict === 'quiet' && nowMs - checkedAtMs < FULL_CHECK_INTERVAL_MS) return;
      if (verdict === 'gone') watch = undefined;
      checkedAtMs = nowMs;
    }
    check(expectedSizeBytes);
  };
}

/** The longest a watched writer goes without a full `stat` of its path. */
export const FULL_CHECK_INTERVAL_MS = 1000;

/**
 * The same question for a read-only handle following another process's writes: does the path
 * still name the file it reads? Its length grows as the writer commits, so only the identity
 * is checked. A compaction by the writer renames a new file over the path; the follower's
 * descriptor then reads the old file, which nobody writes any more, so without this check it
 * would see no commit again and say nothing. Offsets in the new file are not those of the old,
 * so the handle cannot carry on by itself: the caller reopens.
 */
export function followedFileGuardOf(
  storage: Storage,
  path: string,
  file: StorageFile,
): () => void {
  const absolutePath = resolve(path);
  const identity = file.identity();
  return () => {
    const change = changeOf(identity, statusOf(storage, absolutePath, path));
    if (change !== undefined) {
      throw new CartridgeError(
        'FILE_CHANGED',
        `${path} ${change}; a compaction replaces the file: open the cartridge again`,
      );
    }
  };
}

function statusOf(storage: Storage, absolutePath: string, path: string): PathStatus | undefined {
  try {
    return storage.statPath(absolutePath);
  } catch (error) {
    throw fromSystemError(error, `stat ${path}`);
  }
}

function changeOf(identity: FileIdentity, status: PathStatus | undefined): string | undefined {
  if (status === undefined) return 'no longer exists (unlinked, moved, or its directory removed)';
  if (status.identity.device !== identity.device || status.identity.inode !== identity.inode) {
    return 'now names another file (replaced or moved)';
  }
  return undefined;
}

function lengthChangeOf(
  status: PathStatus | undefined,
  expectedSizeBytes: number,
): string | undefined {
  if (status === undefined || status.sizeBytes === expectedSizeBytes) return undefined;
  return `is ${status.sizeBytes} bytes long where the writer wrote ${expectedSizeBytes}`;
}
