import { tortureSeed } from '../built-cartridge.js';
import { runBombs } from '../decompression-bombs.js';
import { bySize, type Campaign, type Figures, type TortureSize } from '../figures.js';
import { decoderTargets } from '../fuzz-decoders.js';
import { baseCartridge, openTargets } from '../fuzz-open.js';

/**
 * Fuzzing of everything that reads untrusted bytes (fast-check properties): record frame
 * headers, event bodies of every type, zstd and lz4 blobs, file header slots, checkpoint
 * state, caller paths, and whole files opened and read. The only allowed outcomes are a normal
 * return and a `CartridgeError`; untyped errors, inputs over a second and decoders that accept
 * what they must refuse fail the run. Then decompression bombs, timed and measured.
 *
 * Target i runs with seed `fuzz_seed + i`; `TORTURE_SEED=<fuzz_seed>` replays a whole run.
 */

export const fuzzCampaign: Campaign = {
  name: 'fuzz',
  run(figures: Figures, size: TortureSize): void {
    const seed = tortureSeed();
    figures.set('fuzz_seed', seed);
    // Printed at once too, so that a run that never finishes can still be replayed.
    console.log(`fuzz: seed ${seed} (TORTURE_SEED=${seed} replays this run)`);
    const numRuns = bySize(size, { small: 2000, medium: 20_000, large: 100_000 });
    const targets = [...decoderTargets(), ...openTargets()];
    targets.forEach((target, index) => target.run({ figures, seed: seed + index, numRuns }));
    figures.set('fuzz_targets', targets.length);
    runBombs(figures, baseCartridge());
  },
};
