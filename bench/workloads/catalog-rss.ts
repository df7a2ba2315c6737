import { median } from '../measure.js';
import { runChild } from '../open-children.js';
import { atMost, type Workload } from '../report.js';
import { manyFilesFixture } from './many-files.js';

/**
 * Memory held per catalog entry: a fresh child process (tsx, modules loaded first) opens the
 * many-files cartridge (files of ~100 bytes, 100 per directory) and then reads as many random
 * files as the cartridge holds (seeded, so about 63 % of the entries are touched and their
 * index pages loaded: an open alone loads the catalog lazily and would hold almost nothing),
 * collects garbage (so the reads' garbage is not counted), and the growth is its RSS then
 * minus its RSS before the open. The same child runs on
 * a small reference cartridge built the same way, and the figure is the difference of the two
 * growths per entry of difference, scaled to 1 000 000 entries: the fixed costs of an open and
 * of reading at all (the buffer pool and index cache filling up to their bounds, compiled code,
 * the heap's first growth) are the same in both and cancel. `catalog_rss_open_only_*` is the
 * growth of an open + `stats()` alone, not differenced. The large size
 * opens the 1 000 000-file fixture (shared with the open figures); the small size opens 20 000
 * files and scales the figure by 50, which overstates it by whatever fixed cost an open has.
 * The large size opens the 1 000 000-file fixture (shared with the open figures) against the
 * 10 000-file one; the small size 10 000 files against 1 000. The issue's target: ≤ 256 MiB per 1 000 000 entries held open.
 */

interface CatalogRssSettings {
  readonly fileCount: number;
  readonly referenceCount: number;
  readonly children: number;
}

const PER_ENTRIES = 1_000_000;

export const workload: Workload<CatalogRssSettings> = {
  name: 'catalog-rss',
  description: 'RSS growth of an open cartridge per 1 000 000 catalog entries, in a fresh child',
  sizes: {
    small: { fileCount: 10_000, referenceCount: 1_000, children: 1 },
    medium: { fileCount: 100_000, referenceCount: 10_000, children: 3 },
    large: { fileCount: 1_000_000, referenceCount: 10_000, children: 3 },
  },
  budgetMs: { small: 60_000, medium: 600_000, large: 1_800_000 },
  figures: [{ name: 'catalog_rss_mib_per_1m_entries', target: atMost(256), digits: 1 }],
  run: (settings, { report, checksum, deadline }) => {
    const growthAfterReads = (fileCount: number): number => {
      const fixture = manyFilesFixture(fileCount, deadline);
      const count = String(fileCount);
      const growthMiB: number[] = [];
      for (let child = 0; child < settings.children; child++) {
        const read = runChild(
          'open-read-settled',
          [fixture.cartridgePath, count, '0', count, '15'],
          {
            timeoutMs: deadline.remainingMs,
          },
        );
        checksum.add(read.fileCount);
        growthMiB.push(read.rssMiB - read.rssBeforeMiB);
      }
      return median(growthMiB);
    };
    const growth = growthAfterReads(settings.fileCount);
    const referenceGrowth = growthAfterReads(settings.referenceCount);
    const perEntryMiB = (growth - referenceGrowth) / (settings.fileCount - settings.referenceCount);
    report.figure('catalog_rss_mib_per_1m_entries', perEntryMiB * PER_ENTRIES);
    report.line('catalog_rss_growth_mib', growth, 1);
    report.line('catalog_rss_reference_growth_mib', referenceGrowth, 1);
    report.line('catalog_rss_reference_files', settings.referenceCount, 0);
    const opened = runChild(
      'open',
      [manyFilesFixture(settings.fileCount, deadline).cartridgePath],
      {
        timeoutMs: deadline.remainingMs,
      },
    );
    checksum.add(opened.fileCount);
    report.line(
      'catalog_rss_open_only_mib_per_1m_entries',
      ((opened.rssMiB - opened.rssBeforeMiB) * PER_ENTRIES) / settings.fileCount,
      1,
    );
    report.line('catalog_rss_files', settings.fileCount, 0);
  },
};
