import { realpathSync } from 'node:fs';
import { basename, dirname, parse } from 'node:path';
import { loadPlatformAddon } from '../native-addon.js';

/**
 * An inotify watch on a file and on every directory on the way to it
 * (`native/cartridge-path-watch.c`, ARCHITECTURE.md §86): it says whether anything happened
 * that could change what the path names, or the file's length, since it was last asked. Asking
 * costs one non-blocking `read`; the `stat` it spares costs several times that.
 */

/** What happened since the last poll. */
export type PathWatchVerdict =
  /** Nothing to the file or to the names leading to it. */
  | 'quiet'
  /** Something touched the file (written, cut, linked, moved): look at the path again. */
  | 'look-again'
  /** The watches may no longer be on the path (a directory moved, a name re-created): stop. */
  | 'gone';

export interface PathWatch {
  poll(): PathWatchVerdict;
  close(): void;
}

/** The watch `NodeStorage` gives, which its handle also tells of its own writes. */
export interface OwnedPathWatch extends PathWatch {
  /**
   * The handle itself wrote or cut the file with a system call, which raises an event: the next
   * poll answers 'look-again' at once, without reading (the event is read by a later poll, which
   * then answers 'look-again' once more). A run of commits too large for the mapping thus pays
   * the `stat` alone, not a read as well.
   */
  wroteItself(): void;
}

interface PathWatchBinding {
  readonly available: boolean;
  watchPath(directories: readonly string[], names: readonly string[], filePath: string): object;
  poll(watch: object): number;
  closeWatch(watch: object): void;
}

/** The addon's own bound on directories per watch. */
const DIRECTORIES_MAX = 64;
const VERDICTS: readonly PathWatchVerdict[] = ['quiet', 'look-again', 'gone'];

const binding = loadPlatformAddon<PathWatchBinding>(
  'cartridge_path_watch.node',
  process.env['CARTRIDGE_PATH_WATCH'] === '0',
);

/** The directories from the root down to the file's, and the name each holds on the way. */
function stepsOf(absolutePath: string): { directories: string[]; names: string[] } {
  const directories: string[] = [];
  const names: string[] = [];
  const root = parse(absolutePath).root;
  for (let at = absolutePath; at !== root; at = dirname(at)) {
    directories.unshift(dirname(at));
    names.unshift(basename(at));
  }
  return { directories, names };
}

/**
 * A watch on `absolutePath`, or undefined when none can answer for it: no addon, a symbolic
 * link on the way (a link changed elsewhere would change what the path names without an event
 * on these directories), a path deeper than the addon takes, a file system whose changes may
 * come from elsewhere (a network one), or no inotify instance left.
 */
export function watchPath(absolutePath: string): OwnedPathWatch | undefined {
  if (binding === undefined) return undefined;
  let real: string;
  try {
    real = realpathSync.native(absolutePath);
  } catch {
    return undefined;
  }
  if (real !== absolutePath) return undefined;
  const { directories, names } = stepsOf(absolutePath);
  if (directories.length === 0 || directories.length > DIRECTORIES_MAX) return undefined;
  let handle: object;
  try {
    handle = binding.watchPath(directories, names, absolutePath);
  } catch {
    return undefined;
  }
  let closed = false;
  let wroteItself = false;
  return {
    poll: () => {
      if (closed) return 'gone';
      if (wroteItself) {
        wroteItself = false;
        return 'look-again';
      }
      return VERDICTS[binding.poll(handle)] ?? 'gone';
    },
    wroteItself: () => {
      wroteItself = true;
    },
    close: () => {
      if (closed) return;
      closed = true;
      binding.closeWatch(handle);
    },
  };
}
