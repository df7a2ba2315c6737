import type { ChildReport } from '../open-child.js';
import { atMost } from '../report.js';
import { medianOf, openWorkload } from './open-samples.js';

/**
 * Memory of a large open cartridge: the RSS of the `open-1m-vs-sqlite` child after the open
 * and 1 000 random reads, minus its RSS before the open (after the modules are loaded, so the
 * figure is what Cartridge adds to a process). better-sqlite3's growth in the same rounds is
 * printed next to it.
 */

const growthMiB = (children: readonly ChildReport[]): number =>
  medianOf(children, (child) => child.rssMiB - child.rssBeforeMiB);

export const workload = openWorkload({
  name: 'open-1m-rss-growth',
  description:
    'RSS growth of a child after opening a 1 000 000-file cartridge and 1 000 random reads',
  figure: { name: 'open_1m_rss_growth_mib', target: atMost(64), digits: 1 },
  report: (samples, settings, { report }) => {
    const rssMiB = medianOf(samples.cartridge, (child) => child.rssMiB);
    const heapUsedMiB = medianOf(samples.cartridge, (child) => child.heapUsedMiB);
    report.figure('open_1m_rss_growth_mib', growthMiB(samples.cartridge));
    report.line('open_1m_rss_growth_reads', settings.totalReads, 0);
    report.line('open_1m_rss_mib', rssMiB, 1);
    report.line('open_1m_heap_used_mib', heapUsedMiB, 1);
    report.line('open_1m_sqlite_rss_growth_mib', growthMiB(samples.sqlite), 1);
    report.line('open_1m_reference_rss_growth_mib', growthMiB(samples.cartridgeReference), 1);
  },
});
