import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { incompressibleBuffers, KIB, type PreparedPair, scratchDirectory } from '../support.js';

/**
 * The node:fs facade's own cost: the same 4 KiB reads (warm, from the buffer pool) or writes
 * (durability 'off', replacing existing files) through `cart.fs.readFileSync` /
 * `writeFileSync` (the subject) and through `cart.readFile` / `writeFile` (the baseline), on
 * one cartridge. The facade adds argument handling, Node-style checks and errors; the figure
 * `core_time / facade_time` says how much of the core's speed survives it.
 */

const FILE_BYTES = 4 * KIB;
const FILE_COUNT = 64;

export function setup(kind: 'read' | 'write'): PreparedPair {
  const scratch = scratchDirectory(`fs-facade-${kind}`);
  const sources = incompressibleBuffers(FILE_COUNT, FILE_BYTES, `fs-facade-${kind}`);
  const cartridge = Cartridge.create(join(scratch.path, 'bench.cart'), { durability: 'off' });
  const paths = sources.map((_, index) => `/files/file-${index}.bin`);
  cartridge.transaction(() => {
    paths.forEach((path, index) => cartridge.createFile(path, sources[index] as Buffer));
  });
  for (const path of paths) cartridge.readFile(path);
  const fs = cartridge.fs;
  let subjectCount = 0;
  let baselineCount = 0;
  const pick = (count: number) => paths[(count * 7) % FILE_COUNT] as string;
  const source = (count: number) => sources[count % FILE_COUNT] as Buffer;
  return kind === 'read'
    ? {
        subject: () => fs.readFileSync(pick(subjectCount++)).length,
        baseline: () => cartridge.readFile(pick(baselineCount++)).length,
        teardown: () => close(cartridge, scratch),
      }
    : {
        subject: () => {
          const count = subjectCount++;
          fs.writeFileSync(pick(count), source(count));
          return cartridge.head;
        },
        baseline: () => {
          const count = baselineCount++;
          cartridge.writeFile(pick(count), source(count));
          return cartridge.head;
        },
        teardown: () => close(cartridge, scratch),
      };
}

function close(cartridge: Cartridge, scratch: { remove(): void }): void {
  try {
    cartridge.close();
  } finally {
    scratch.remove();
  }
}
