import { CartridgeError, fromSystemError } from '../errors.js';
import type { StorageFile } from '../journal/io/storage.js';

/**
 * One writer per cartridge file. A writable open takes the file's exclusive lock through the
 * storage seam before it reads anything (so it never replays a journal another writer is
 * extending) and before `create` truncates anything (so it never destroys a live cartridge).
 * The lock lives as long as the handle's file: `close()` releases it, and so does the death of
 * the process. Read-only opens take no lock and may sit beside the writer.
 */
export function takeWriterLock(file: StorageFile, path: string): void {
  let taken: boolean;
  try {
    taken = file.tryLock();
  } catch (error) {
    throw fromSystemError(error, `lock ${path}`);
  }
  if (taken) return;
  const { pid, host } = file.lockHolder();
  const holder =
    pid === undefined
      ? 'another handle'
      : `process ${pid}${host === undefined ? '' : ` on ${host}`}`;
  throw new CartridgeError('LOCKED', `${path} is open for writing by ${holder}`, {
    ...(pid === undefined ? {} : { holderPid: pid }),
    ...(host === undefined ? {} : { holderHost: host }),
  });
}
