import { EventEmitter } from 'node:events';
import { posix } from 'node:path';
import type { Subscription } from 'rxjs';
import type { Cartridge } from '../engine/cartridge.js';
import type { ChangeEvent } from '../engine/change-stream.js';

/**
 * `fs.watch` on the change stream: a watcher on a file reports its changes, a watcher on a
 * directory reports changes of its entries (of the whole subtree with `recursive`). As with
 * Node, `'rename'` means an entry appeared or disappeared and `'change'` that a file's content
 * changed; the file name is relative to the watched directory. Unlike `fs.watch`, events are
 * exact (one per change, never coalesced or lost) because they come from the journal.
 */

export type WatchListener = (eventType: 'rename' | 'change', filename: string | null) => void;

export interface WatchOptions {
  readonly recursive?: boolean;
  readonly persistent?: boolean;
  readonly encoding?: BufferEncoding;
}

export interface FsWatcher extends EventEmitter {
  close(): void;
  ref(): this;
  unref(): this;
}

const CONTENT_CHANGES = new Set(['file.written', 'file.appended', 'file.patched']);
const ENTRY_CHANGES = new Set([
  'file.created',
  'directory.created',
  'entry.deleted',
  'entry.restored',
]);

export function watchChanges(
  cartridge: Cartridge,
  target: string,
  directory: boolean,
  options: WatchOptions,
  listener: WatchListener | undefined,
): FsWatcher {
  const watcher = new EventEmitter() as FsWatcher;
  const prefix = target === '/' ? '/' : `${target}/`;
  const watched = (path: string): boolean => {
    if (!directory) return path === target;
    if (options.recursive === true) return path.startsWith(prefix);
    return path.startsWith(prefix) && posix.dirname(path) === target;
  };
  const filter = (event: ChangeEvent): boolean =>
    (event.path !== null && watched(event.path)) ||
    (event.from !== undefined && watched(event.from));
  if (listener !== undefined) watcher.on('change', listener);
  let subscription: Subscription | undefined = cartridge.changes({ filter }).subscribe({
    next: (event: ChangeEvent) => {
      if (event.path === null) return;
      const kind = CONTENT_CHANGES.has(event.type)
        ? 'change'
        : ENTRY_CHANGES.has(event.type)
          ? 'rename'
          : undefined;
      const nameOf = (path: string): string =>
        directory ? posix.relative(target, path) : posix.basename(path);
      // A move is two renames, as Node reports one: the old name went, the new one came.
      if (event.type === 'path.moved' && event.from !== undefined) {
        if (watched(event.from)) watcher.emit('change', 'rename', nameOf(event.from));
        if (watched(event.path)) watcher.emit('change', 'rename', nameOf(event.path));
        return;
      }
      if (kind === undefined) return;
      watcher.emit('change', kind, nameOf(event.path));
    },
    error: (error: unknown) => watcher.emit('error', error),
  });
  watcher.close = () => {
    subscription?.unsubscribe();
    subscription = undefined;
    watcher.emit('close');
  };
  watcher.ref = () => watcher;
  watcher.unref = () => watcher;
  return watcher;
}
