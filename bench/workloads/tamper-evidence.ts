import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { blake3 } from '@napi-rs/blake-hash';
import { Cartridge, type RecordProof, verifyProof } from '../../src/index.js';
import { median } from '../measure.js';
import { atLeast, atMost, type Workload } from '../report.js';
import { scratchDirectory, smallFilePath } from '../support.js';
import { appendLines, createLog } from './append-log.js';
import { manyFilesFixture } from './many-files.js';

/**
 * Tamper evidence (issue 11): what checking costs.
 *
 * - `verify()` throughput: `Cartridge.verifyFile` with a public key (every record read, CRCs,
 *   the chain, the Merkle log, a full replay compared with the open index, the signed head)
 *   over a log of audit lines appended one commit each, **vs** reading the same file and
 *   hashing all of it with BLAKE3 in one pass (the floor: verify cannot check bytes it has not
 *   hashed). Rounds of the two sides alternate.
 * - Inclusion proofs at each record count: `proveRecord` of records spread over the history,
 *   the size of a proof (its JSON text, and the audit path's hashes) and the time
 *   `verifyProof` takes to check one (signature included). Both must stay flat as history
 *   grows: 10 000 records against 1 000 000 (large size only; small runs 10 000 alone). The
 *   histories are the large-catalog fixtures (`many-files.ts`: one small file created per
 *   record, in transactions of 1 000, built once per run and shared; a million one-line
 *   commits would take most of the run's budget), and the records proven are the files'
 *   creation records, spread over the whole history.
 */

interface TamperSettings {
  /** The histories proofs are measured on, in records; the first is also verified. */
  readonly recordCounts: readonly number[];
  readonly verifyRounds: number;
  readonly proofSamples: number;
}

const MIB = 1024 * 1024;

export const workload: Workload<TamperSettings> = {
  name: 'tamper-evidence',
  description: 'verify() MiB/s vs BLAKE3 of the same bytes; proof size and check time by history',
  sizes: {
    small: { recordCounts: [10_000], verifyRounds: 3, proofSamples: 40 },
    medium: { recordCounts: [10_000, 100_000], verifyRounds: 3, proofSamples: 100 },
    large: { recordCounts: [10_000, 1_000_000], verifyRounds: 5, proofSamples: 200 },
  },
  budgetMs: { small: 60_000, medium: 300_000, large: 1_200_000 },
  figures: [
    { name: 'verify_vs_hash_ratio', target: atLeast(0.05) },
    { name: 'proof_check_us', target: atMost(1000), digits: 1 },
  ],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('tamper');
    const keys = generateKeyPairSync('ed25519');
    let longestCheckUs = Number.NaN;
    try {
      // verify() over a log of one-line commits, the shape of a real audit trail.
      const logPath = join(scratch.path, 'log.cart');
      const log = createLog(logPath, { durability: 'off' });
      try {
        const lineCount = settings.recordCounts[0] as number;
        for (let first = 0; first < lineCount; first += 1000) {
          deadline.check();
          appendLines(log, first, Math.min(lineCount, first + 1000), 1);
        }
        log.signCheckpoint(keys.privateKey);
      } finally {
        log.close();
      }
      measureVerify(logPath, settings.verifyRounds, keys.publicKey, { report, checksum, deadline });
      for (const recordCount of settings.recordCounts) {
        // The large-catalog fixture (files written in transactions of 1 000), shared with the
        // other workloads of the run; a copy is signed, so that theirs stays as built.
        const fixture = manyFilesFixture(recordCount, deadline);
        const path = join(scratch.path, `history-${recordCount}.cart`);
        copyFileSync(fixture.cartridgePath, path);
        report.line(`proof_fixture_s_${suffixOf(recordCount)}`, fixture.cartridgeSetupMs / 1000, 1);
        const cartridge = Cartridge.open(path, { durability: 'off' });
        try {
          cartridge.signCheckpoint(keys.privateKey);
          longestCheckUs = measureProofs(
            cartridge,
            recordCount,
            fixture.fileCount,
            settings.proofSamples,
            keys.publicKey,
            { report, checksum },
          );
        } finally {
          cartridge.close();
          rmSync(path, { force: true });
        }
      }
      // The figure with a target is the check time at the longest history measured.
      report.figure('proof_check_us', longestCheckUs);
    } finally {
      scratch.remove();
    }
  },
};

type Context = Parameters<Workload<TamperSettings>['run']>[1];

function suffixOf(recordCount: number): string {
  return recordCount >= 1_000_000 ? `${recordCount / 1_000_000}m` : `${recordCount / 1000}k`;
}

function measureProofs(
  cartridge: Cartridge,
  recordCount: number,
  fileCount: number,
  samples: number,
  publicKey: Parameters<typeof verifyProof>[1],
  { report, checksum }: Pick<Context, 'report' | 'checksum'>,
): number {
  const step = Math.max(1, Math.floor(fileCount / samples));
  const proofs: RecordProof[] = [];
  const proveMs: number[] = [];
  for (let index = 0; index < fileCount && proofs.length < samples; index += step) {
    const version = cartridge.history(smallFilePath(index), { limit: 1 })[0];
    const start = performance.now();
    proofs.push(cartridge.proveRecord(version?.position as { offset: number }));
    proveMs.push(performance.now() - start);
  }
  const texts = proofs.map((proof) => JSON.stringify(proof));
  const checkUs: number[] = [];
  for (const text of texts) {
    const parsed = JSON.parse(text) as unknown;
    const start = performance.now();
    const proven = verifyProof(parsed, publicKey);
    checkUs.push((performance.now() - start) * 1000);
    checksum.add(proven.sequence);
  }
  const suffix = suffixOf(recordCount);
  const records = cartridge.stats().recordCount;
  report.line(`proof_records_${suffix}`, records, 0);
  report.line(
    `proof_path_hashes_${suffix}`,
    median(proofs.map((proof) => proof.auditPath.length)),
    0,
  );
  report.line(`proof_json_bytes_${suffix}`, median(texts.map((text) => text.length)), 0);
  report.line(`proof_prove_us_${suffix}`, median(proveMs) * 1000, 1);
  report.line(`proof_check_us_${suffix}`, median(checkUs), 1);
  return median(checkUs);
}

function measureVerify(
  path: string,
  rounds: number,
  publicKey: Parameters<typeof verifyProof>[1],
  { report, checksum, deadline }: Context,
): void {
  const verifyMs: number[] = [];
  const hashMs: number[] = [];
  let sizeBytes = 0;
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < 2; turn++) {
      deadline.check();
      const start = performance.now();
      if ((round + turn) % 2 === 0) {
        const verified = Cartridge.verifyFile(path, { publicKey });
        if (!verified.ok || verified.assurance !== 'signed') {
          throw new Error('tamper-evidence: the log did not verify at the signed level');
        }
        checksum.add(verified.recordsChecked);
        verifyMs.push(performance.now() - start);
      } else {
        const bytes = readFileSync(path);
        checksum.add(blake3(bytes)[0] as number);
        sizeBytes = bytes.length;
        hashMs.push(performance.now() - start);
      }
    }
  }
  const mib = sizeBytes / MIB;
  const verifyMibps = mib / (median(verifyMs) / 1000);
  const hashMibps = mib / (median(hashMs) / 1000);
  report.figure('verify_vs_hash_ratio', verifyMibps / hashMibps);
  report.line('verify_mibps', verifyMibps, 1);
  report.line('verify_hash_mibps', hashMibps, 1);
  report.line('verify_file_mib', mib, 2);
}
