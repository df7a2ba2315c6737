import type { Cartridge } from '../../src/engine/cartridge.js';
import { seededRandom } from './fault-storage.js';

/**
 * The reference model shared by the crash suites: a map from path to a file's bytes (or null
 * for a directory), and a canonical text description of a model or a cartridge, so that two
 * states compare as strings and a failure prints what differs.
 */

export { seededRandom };

export function randomContent(sizeBytes: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const bytes = Buffer.alloc(sizeBytes);
  for (let index = 0; index < sizeBytes; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

export type Model = ReadonlyMap<string, Buffer | null>;

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

export class ModelBuilder {
  private readonly entries = new Map<string, Buffer | null>([['/', null]]);

  private ensureParents(path: string): void {
    const parent = parentOf(path);
    if (this.entries.has(parent)) return;
    this.ensureParents(parent);
    this.entries.set(parent, null);
  }

  file(path: string, bytes: Buffer): void {
    this.ensureParents(path);
    this.entries.set(path, Buffer.from(bytes));
  }

  append(path: string, bytes: Buffer): void {
    const existing = this.entries.get(path);
    if (existing === undefined || existing === null) throw new Error(`model has no file ${path}`);
    this.entries.set(path, Buffer.concat([existing, bytes]));
  }

  dir(path: string): void {
    this.ensureParents(path);
    this.entries.set(path, null);
  }

  remove(path: string): void {
    this.entries.delete(path);
  }

  snapshot(): Model {
    return new Map(this.entries);
  }
}

/** A canonical text of a model: every entry, each directory's listing, each file's bytes. */
export function describeModel(model: Model): string {
  const rows: string[] = [];
  for (const path of [...model.keys()].sort()) {
    const value = model.get(path);
    if (value === null || value === undefined) {
      const prefix = path === '/' ? '/' : `${path}/`;
      const children = [...model.keys()]
        .filter((child) => child !== path && child.startsWith(prefix) && !child.slice(prefix.length).includes('/'))
        .map((child) => child.slice(prefix.length))
        .sort();
      rows.push(`${path} dir [${children.join(',')}]`);
    } else {
      rows.push(`${path} file ${value.toString('hex')}`);
    }
  }
  return rows.join('\n');
}

/** The cartridge's whole tree in the same text form; read errors propagate. */
export function describeCartridge(cartridge: Cartridge): string {
  const model = new Map<string, Buffer | null>();
  const walk = (directory: string): void => {
    model.set(directory, null);
    for (const name of cartridge.listDir(directory)) {
      const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
      if (cartridge.metadata(path).type === 'directory') walk(path);
      else model.set(path, cartridge.readFile(path));
    }
  };
  walk('/');
  return describeModel(model);
}
