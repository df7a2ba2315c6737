import { atMost } from '../report.js';
import { medianOf, openWorkload } from './open-samples.js';

/**
 * Whether open stays flat in the number of files: the open + 100 random reads of
 * `open-1m-vs-sqlite` on the million-file cartridge, against the same on a cartridge of 10 000
 * files (children interleaved in the same rounds). The reads are part of the figure so that an
 * open that defers its work to the first reads cannot look flat.
 */
export const workload = openWorkload({
  name: 'open-1m-flatness',
  description: 'open + 100 random reads, 1 000 000 files vs 10 000 files',
  figure: { name: 'open_flatness_ratio', target: atMost(2) },
  report: (samples, settings, { report, checksum }) => {
    for (const child of samples.cartridgeReference) checksum.add(child.bytes);
    const largeMs = medianOf(samples.cartridge, (child) => child.ms);
    const referenceMs = medianOf(samples.cartridgeReference, (child) => child.ms);
    const referenceOpenMs = medianOf(samples.cartridgeReference, (child) => child.openMs);
    report.figure('open_flatness_ratio', largeMs / referenceMs);
    report.line('open_flatness_files', settings.fileCount, 0);
    report.line('open_flatness_reference_files', settings.referenceFileCount, 0);
    report.line('open_flatness_large_ms', largeMs, 1);
    report.line('open_flatness_reference_ms', referenceMs, 1);
    report.line('open_flatness_reference_open_only_ms', referenceOpenMs, 1);
  },
});
