import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge, type CartridgeOptions } from '../../src/index.js';
import { incompressibleBuffers, type PreparedPair, scratchDirectory } from '../support.js';

/**
 * The shape both write workloads share: `writeFile` of incompressible buffers over a small set
 * of paths in a cartridge on a real file, against `fs.writeSync` of the same buffers appended
 * to a plain file in the same directory (followed by `fdatasyncSync` when `syncBaseline`).
 */
export interface RewriteSpec {
  readonly label: string;
  readonly writeBytes: number;
  readonly bufferCount: number;
  readonly pathCount: number;
  readonly pathPrefix: string;
  readonly options: CartridgeOptions;
  readonly syncBaseline: boolean;
}

export function rewritePair(spec: RewriteSpec): PreparedPair {
  const scratch = scratchDirectory(spec.label);
  const buffers = incompressibleBuffers(spec.bufferCount, spec.writeBytes, spec.label);
  const cartridge = Cartridge.create(join(scratch.path, 'bench.cart'), spec.options);
  const paths = Array.from({ length: spec.pathCount }, (_, index) => `${spec.pathPrefix}-${index}.bin`);
  cartridge.transaction(() => {
    for (const path of paths) cartridge.createFile(path, buffers[0] as Buffer);
  });
  const descriptor = openSync(join(scratch.path, 'plain.bin'), 'w');
  let subjectCount = 0;
  let baselineCount = 0;
  let baselinePosition = 0;
  return {
    subject: () => {
      const index = subjectCount++;
      const buffer = buffers[index % spec.bufferCount] as Buffer;
      cartridge.writeFile(paths[index % spec.pathCount] as string, buffer);
      return cartridge.head;
    },
    baseline: () => {
      const index = baselineCount++;
      baselinePosition += writeSync(descriptor, buffers[index % spec.bufferCount] as Buffer);
      if (spec.syncBaseline) fdatasyncSync(descriptor);
      return baselinePosition;
    },
    teardown: () => {
      try {
        cartridge.close();
        closeSync(descriptor);
      } finally {
        scratch.remove();
      }
    },
  };
}
