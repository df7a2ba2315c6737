import { median } from '../measure.js';
import type { ChildReport } from '../open-child.js';
import { atMost, type Workload } from '../report.js';
import { OPEN_BUDGET_MS, OPEN_SIZES, openSamples, type OpenSettings } from './open-samples.js';

/**
 * Memory of a large open cartridge: the RSS of the `open-1m-vs-sqlite` child after the open
 * and 1 000 random reads, minus its RSS before the open (after the modules are loaded, so the
 * figure is what Cartridge adds to a process). better-sqlite3's growth in the same rounds is
 * printed next to it.
 */

const growthMiB = (children: readonly ChildReport[]): number =>
  median(children.map((child) => child.rssMiB - child.rssBeforeMiB));

export const workload: Workload<OpenSettings> = {
  name: 'open-1m-rss-growth',
  description:
    'RSS growth of a child after opening a 1 000 000-file cartridge and 1 000 random reads',
  sizes: OPEN_SIZES,
  budgetMs: OPEN_BUDGET_MS,
  figures: [{ name: 'open_1m_rss_growth_mib', target: atMost(64), digits: 1 }],
  run: (settings, { report, deadline }) => {
    const samples = openSamples(settings, deadline);
    report.figure('open_1m_rss_growth_mib', growthMiB(samples.cartridge));
    report.line('open_1m_rss_growth_reads', settings.totalReads, 0);
    report.line('open_1m_rss_mib', median(samples.cartridge.map((child) => child.rssMiB)), 1);
    report.line(
      'open_1m_heap_used_mib',
      median(samples.cartridge.map((child) => child.heapUsedMiB)),
      1,
    );
    report.line('open_1m_sqlite_rss_growth_mib', growthMiB(samples.sqlite), 1);
    report.line('open_1m_reference_rss_growth_mib', growthMiB(samples.cartridgeReference), 1);
  },
};
