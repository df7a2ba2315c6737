/**
 * `npm run torture`: runs the torture campaigns at the size `TORTURE_SIZE` names (small,
 * medium, large), prints every figure as a `name: value` line, and exits non-zero when a gate
 * (silent wrong data, acknowledged loss, prefix-rule violations, untyped errors, hangs, ordering
 * violations, verify failures) is not zero.
 */
import { corruptionCampaign } from './campaigns/corruption.js';
import { crashPointsCampaign } from './campaigns/crash-points.js';
import { fileReplacedCampaign } from './campaigns/file-replaced.js';
import { fuzzCampaign } from './campaigns/fuzz.js';
import { ioFaultsCampaign } from './campaigns/io-faults.js';
import { sigkillCampaign } from './campaigns/sigkill.js';
import { twoWritersCampaign } from './campaigns/two-writers.js';
import { type Campaign, Figures, tortureSize } from './figures.js';

const CAMPAIGNS: readonly Campaign[] = [
  crashPointsCampaign,
  ioFaultsCampaign,
  sigkillCampaign,
  twoWritersCampaign,
  fileReplacedCampaign,
  corruptionCampaign,
  fuzzCampaign,
];

async function main(): Promise<void> {
  const size = tortureSize();
  const only = process.env.TORTURE_ONLY;
  const figures = new Figures();
  console.log(`torture size: ${size}`);
  for (const campaign of CAMPAIGNS) {
    if (only !== undefined && !only.split(',').includes(campaign.name)) continue;
    const startedAt = performance.now();
    await campaign.run(figures, size);
    figures.set(`seconds_${campaign.name.replaceAll('-', '_')}`, (performance.now() - startedAt) / 1000);
  }
  for (const line of figures.lines()) console.log(line);
  for (const failure of figures.failureDescriptions) console.log(`FAILURE ${failure}`);
  console.log(figures.gatesPassed() ? 'gates: passed' : 'gates: FAILED');
  if (!figures.gatesPassed()) process.exitCode = 1;
}

await main();
