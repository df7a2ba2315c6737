import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { type MeasureOptions, measurePair } from '../measure.js';
import { atLeast, atMost, type Workload } from '../report.js';
import { scratchDirectory } from '../support.js';

/**
 * What a rename that moves entries saves over the rename the fs facade did before it: moving a
 * directory of `fileCount` files of 64 KiB with `cart.rename` (one commit of `path.moved`
 * records) **vs** copying every file to the new path and deleting the old one in one
 * transaction (`createFile(readFile)` then `deleteFile`), in two cartridges of the same content,
 * rounds interleaved. Each operation moves the directory to the other of two names, so every
 * round starts from the same tree. Durability `'off'` on both sides: the figure is the work of
 * the move, not the disk's sync. Also reported: the journal bytes one move writes per entry.
 */

interface RenameSettings {
  readonly fileCount: number;
  readonly measure: MeasureOptions;
}

const FILE_BYTES = 64 * 1024;

function filled(path: string, fileCount: number, content: Buffer): Cartridge {
  const cartridge = Cartridge.create(path, { durability: 'off', compression: 'none' });
  cartridge.transaction(() => {
    for (let index = 0; index < fileCount; index++) {
      cartridge.createFile(`/a/d${index % 8}/f${index}`, content);
    }
  });
  return cartridge;
}

/** The pre-move rename: every file copied to its new path, then the old tree deleted. */
function copyTree(cartridge: Cartridge, from: string, to: string): void {
  cartridge.transaction(() => {
    const walk = (source: string, target: string): void => {
      if (cartridge.metadata(source).type === 'file') {
        cartridge.createFile(target, cartridge.readFile(source));
        cartridge.deleteFile(source);
        return;
      }
      cartridge.createDir(target);
      for (const name of cartridge.listDir(source)) walk(`${source}/${name}`, `${target}/${name}`);
      cartridge.deleteFile(source);
    };
    walk(from, to);
  });
}

export const workload: Workload<RenameSettings> = {
  name: 'rename-subtree',
  description: 'rename of a directory of 64 KiB files vs copying it and deleting the old one',
  sizes: {
    small: {
      fileCount: 64,
      measure: { warmupRounds: 1, rounds: 5, opsPerRound: 4, latencySamples: 8 },
    },
    medium: {
      fileCount: 256,
      measure: { warmupRounds: 2, rounds: 9, opsPerRound: 4, latencySamples: 16 },
    },
    large: {
      fileCount: 1024,
      measure: { warmupRounds: 2, rounds: 9, opsPerRound: 4, latencySamples: 16 },
    },
  },
  budgetMs: { small: 60_000, medium: 300_000, large: 600_000 },
  figures: [
    { name: 'rename_subtree_vs_copy_ratio', target: atLeast(10) },
    { name: 'rename_journal_bytes_per_entry', target: atMost(256) },
  ],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('rename-subtree');
    const content = randomBytes(FILE_BYTES);
    const moved = filled(join(scratch.path, 'moved.cart'), settings.fileCount, content);
    const copied = filled(join(scratch.path, 'copied.cart'), settings.fileCount, content);
    try {
      const entryCount = settings.fileCount + 8 + 1;
      const headBefore = moved.head;
      moved.rename('/a', '/b');
      report.figure('rename_journal_bytes_per_entry', (moved.head - headBefore) / entryCount);
      moved.rename('/b', '/a');
      const names = ['/a', '/b'];
      let movedAt = 0;
      let copiedAt = 0;
      const timing = measurePair(
        () => {
          deadline.check();
          moved.rename(names[movedAt % 2] as string, names[(movedAt + 1) % 2] as string);
          movedAt++;
          return moved.head;
        },
        () => {
          deadline.check();
          copyTree(copied, names[copiedAt % 2] as string, names[(copiedAt + 1) % 2] as string);
          copiedAt++;
          return copied.head;
        },
        settings.measure,
        checksum,
      );
      const { subject, baseline } = timing;
      report.figure('rename_subtree_vs_copy_ratio', baseline.medianNs / subject.medianNs);
      report.line('rename_subtree_us', subject.medianNs / 1000, 1);
      report.line('rename_subtree_copy_us', baseline.medianNs / 1000, 1);
      report.line('rename_subtree_files', settings.fileCount, 0);
    } finally {
      try {
        moved.close();
        copied.close();
      } finally {
        scratch.remove();
      }
    }
  },
};
