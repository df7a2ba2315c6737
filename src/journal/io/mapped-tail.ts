import { assert } from '../../assert.js';
import { loadPlatformAddon } from '../native-addon.js';

/**
 * Writes that land inside a file, copied into a shared mapping of it instead of `pwritev`
 * (`native/cartridge-mapped-file.c`, ARCHITECTURE.md §85). The bytes go to the same page cache
 * either way, so readers, other processes, a crash of this process and `fdatasync` see no
 * difference; the system call and its binding are what is saved: 2-5 µs of a small put.
 *
 * A mapping never grows a file, so only writes that end inside it (the journal keeps zeros
 * ahead of its end for that, `journal-reservation.ts`) use the window; the rest, and every
 * write that would move the window backwards (header slots, erasure markers), use `pwritev`.
 * The window covers WINDOW_BYTES from a page boundary at or before the write that placed it and
 * moves forward as the journal grows.
 */

interface MappedFileBinding {
  readonly available: boolean;
  mapWindow(descriptor: number, offset: number, lengthBytes: number): object;
  /** False when a SIGBUS cut the copy short: the file is shorter than the window thought. */
  copyInto(window: object, position: number, buffers: readonly Uint8Array[]): boolean;
  unmapWindow(window: object): void;
}

/** The span one mapping covers: moving it costs an `munmap` and an `mmap`. */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Mappings start on a page boundary. */
const PAGE_BYTES = 4096;
/** Larger writes go through `pwritev`, whose fixed cost they amortise. */
const MAPPED_WRITE_MAX_BYTES = 1024 * 1024;

const binding = loadPlatformAddon<MappedFileBinding>(
  'cartridge_mapped_file.node',
  process.env['CARTRIDGE_MAPPED_WRITES'] === '0',
);

/** Whether writes inside files are made through a mapping on this machine. */
export const MAPPED_WRITES_AVAILABLE = binding !== undefined;

let mappedWriteCount = 0;

/** How many writes this process made through mappings (for tests and the bench). */
export function mappedWritesMade(): number {
  return mappedWriteCount;
}

/** The error a copy cut short by a fault gives: the file was cut under the writer. */
function cutUnderWriter(path: string): Error {
  return Object.assign(
    new Error(`EIO: the file was cut shorter while being written (SIGBUS), write '${path}'`),
    { code: 'EIO', syscall: 'write', path },
  );
}

export class MappedTail {
  private window: object | undefined;
  private windowStart = 0;
  private windowEnd = 0;
  /** Set when a mapping could not be made: this file is written with `pwritev` from then on. */
  private refused = false;

  constructor(
    private readonly descriptor: number,
    private readonly path: string,
  ) {
    assert(binding !== undefined, 'a mapped tail without the addon');
  }

  /**
   * Writes the buffers at `position` through the mapping and returns true, or returns false
   * when this write is not one for the mapping (the caller writes it with `pwritev`). The
   * caller guarantees that the bytes end inside the file.
   */
  tryWrite(buffers: readonly Uint8Array[], position: number, totalBytes: number): boolean {
    if (this.refused || totalBytes === 0 || totalBytes > MAPPED_WRITE_MAX_BYTES) return false;
    const end = position + totalBytes;
    if (position < this.windowStart || end > this.windowEnd) {
      // Never backwards: a header slot or an erasure marker would drag the window away from
      // the journal's end, which the next commit writes again.
      if (this.window !== undefined && position < this.windowStart) return false;
      if (!this.moveTo(position) || end > this.windowEnd) return false;
    }
    const mapped = binding as MappedFileBinding;
    if (!mapped.copyInto(this.window as object, position - this.windowStart, buffers)) {
      throw cutUnderWriter(this.path);
    }
    mappedWriteCount++;
    return true;
  }

  /** Drops the mapping (before the file is cut, and at close). */
  release(): void {
    if (this.window === undefined) return;
    (binding as MappedFileBinding).unmapWindow(this.window);
    this.window = undefined;
    this.windowStart = 0;
    this.windowEnd = 0;
  }

  private moveTo(position: number): boolean {
    this.release();
    const start = position - (position % PAGE_BYTES);
    try {
      this.window = (binding as MappedFileBinding).mapWindow(this.descriptor, start, WINDOW_BYTES);
    } catch {
      // No address space, or a file system that cannot map files: writes work without it.
      this.refused = true;
      return false;
    }
    this.windowStart = start;
    this.windowEnd = start + WINDOW_BYTES;
    return true;
  }
}
