import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import { PolicyEvaluator } from '../../src/iam/evaluator.js';
import { loadPolicy } from '../../src/iam/policy.js';
import { type MeasureOptions, measurePair } from '../measure.js';
import { atLeast, atMost, type Workload } from '../report.js';
import { scratchDirectory } from '../support.js';

/**
 * Issue 10's figures: what access control and auditing cost.
 *
 * - `read_4k_audited_ratio`: 4 KiB `readFile`s (warm pool) in a cartridge that audits reads
 *   **vs** the same reads in one that does not, rounds interleaved; `plain_time /
 *   audited_time`. The audited side pays the entry, and every 512 reads a commit of the batch.
 * - `policy_decision_cached_ns` / `_uncached_ns`: one decision of a 24-statement policy with
 *   conditions, from the evaluator's cache and without it (no target: what a gate check adds).
 * - `audit_query_last100_ms`: `audit({ actor, order: 'newest', limit: 100 })` in a trail of
 *   1 000 000 entries by 50 actors (large), the median of several queries: an index walk and a
 *   few batch records, whatever the length of the trail.
 */

interface AccessAuditSettings {
  readonly readMeasure: MeasureOptions;
  readonly decisionMeasure: MeasureOptions;
  readonly trailEntries: number;
  readonly queryRounds: number;
}

const FILE_COUNT = 256;
const ACTOR_COUNT = 50;

function policyWithStatements(): unknown {
  const statements: unknown[] = [
    {
      Sid: 'Admin',
      Effect: 'Allow',
      Action: '*',
      Resource: '/**',
      Condition: { StringEquals: { 'cartridge:actor': 'admin' } },
    },
  ];
  for (let index = 0; index < 20; index++) {
    statements.push({
      Sid: `Team${index}`,
      Effect: 'Allow',
      Action: ['Read', 'List'],
      Resource: [`/teams/${index}/**`, '/shared/*.md'],
    });
  }
  statements.push({ Sid: 'NoSecrets', Effect: 'Deny', Action: '*', Resource: '/**/secret*' });
  statements.push({
    Sid: 'WorkHours',
    Effect: 'Deny',
    Action: 'Write',
    Resource: '/**',
    Condition: { DateGreaterThan: { 'cartridge:time': '2100-01-01T00:00:00Z' } },
  });
  statements.push({
    Sid: 'Agents',
    Effect: 'Allow',
    Action: 'Read',
    Resource: '/calls/**',
    Condition: { StringLike: { 'cartridge:actor': 'agent-*' } },
  });
  return { Statement: statements };
}

export const workload: Workload<AccessAuditSettings> = {
  name: 'access-audit',
  description: 'reads with auditing vs without; policy decisions; audit query in a long trail',
  sizes: {
    small: {
      readMeasure: { warmupRounds: 2, rounds: 9, opsPerRound: 2000, latencySamples: 200 },
      decisionMeasure: { warmupRounds: 2, rounds: 9, opsPerRound: 2000, latencySamples: 100 },
      trailEntries: 20_000,
      queryRounds: 11,
    },
    medium: {
      readMeasure: { warmupRounds: 3, rounds: 21, opsPerRound: 5000, latencySamples: 1000 },
      decisionMeasure: { warmupRounds: 3, rounds: 21, opsPerRound: 5000, latencySamples: 500 },
      trailEntries: 100_000,
      queryRounds: 21,
    },
    large: {
      readMeasure: { warmupRounds: 3, rounds: 21, opsPerRound: 5000, latencySamples: 1000 },
      decisionMeasure: { warmupRounds: 3, rounds: 21, opsPerRound: 5000, latencySamples: 500 },
      trailEntries: 1_000_000,
      queryRounds: 21,
    },
  },
  budgetMs: { small: 60_000, medium: 300_000, large: 900_000 },
  figures: [
    { name: 'read_4k_audited_ratio', target: atLeast(0.9) },
    { name: 'audit_query_last100_ms', target: atMost(10) },
  ],
  run: (settings, { report, checksum, deadline }) => {
    const scratch = scratchDirectory('access-audit');
    const opened: Cartridge[] = [];
    try {
      // Reads, audited and not: the same files, content and order on both sides.
      const audited = Cartridge.create(join(scratch.path, 'audited.cart'), {
        audit: true,
        durability: 'normal',
      });
      const plain = Cartridge.create(join(scratch.path, 'plain.cart'), { durability: 'normal' });
      opened.push(audited, plain);
      for (const cartridge of [audited, plain]) {
        cartridge.transaction(() => {
          for (let index = 0; index < FILE_COUNT; index++) {
            cartridge.createFile(`/calls/${index}.json`, randomBytes(4096));
          }
        });
        // Both sides read through clean index pages, as any cartridge does after an open: the
        // audited side's batches make checkpoints, and a side whose catalog never left memory
        // (dirty nodes, no page cache on the path) would be a baseline no real cartridge has.
        cartridge.checkpoint();
      }
      let readIndex = 0;
      const readIn = (cartridge: Cartridge) => () => {
        readIndex = (readIndex * 1103515245 + 12345) >>> 0;
        return cartridge.readFile(`/calls/${readIndex % FILE_COUNT}.json`)[7] as number;
      };
      const reads = measurePair(readIn(audited), readIn(plain), settings.readMeasure, checksum);
      report.figure('read_4k_audited_ratio', reads.baseline.medianNs / reads.subject.medianNs);
      report.line('read_4k_audited_us', reads.subject.medianNs / 1000, 2);
      report.line('read_4k_plain_us', reads.baseline.medianNs / 1000, 2);
      deadline.check();

      // Decisions, cached and not, of one policy.
      const policy = loadPolicy(policyWithStatements());
      const cached = new PolicyEvaluator(policy);
      const uncached = new PolicyEvaluator(policy, { cacheEntries: 0 });
      const time = new Date('2026-11-30T12:00:00Z');
      let requestIndex = 0;
      const decideWith = (evaluator: PolicyEvaluator) => () => {
        requestIndex++;
        const decision = evaluator.decide({
          actor: `agent-${requestIndex % 8}`,
          action: 'Read',
          path: `/calls/2026/${requestIndex % 16}.json`,
          time,
        });
        return decision.allowed ? 1 : 0;
      };
      const decisions = measurePair(
        decideWith(cached),
        decideWith(uncached),
        settings.decisionMeasure,
        checksum,
      );
      report.line('policy_decision_cached_ns', decisions.subject.medianNs, 0);
      report.line('policy_decision_uncached_ns', decisions.baseline.medianNs, 0);
      deadline.check();

      // A long trail: audited reads by many actors, then queries for one actor's last 100.
      const trail = Cartridge.create(join(scratch.path, 'trail.cart'), {
        audit: true,
        durability: 'off',
      });
      opened.push(trail);
      trail.createFile('/calls/one.json', '{"call":1}');
      const actors = Array.from({ length: ACTOR_COUNT }, (_, index) => trail.as(`agent-${index}`));
      for (let index = 0; index < settings.trailEntries; index++) {
        if (index % 10_000 === 0) deadline.check();
        (actors[index % ACTOR_COUNT] as Cartridge).exists('/calls/one.json');
      }
      trail.flush();
      const queryTimes: number[] = [];
      for (let round = 0; round < settings.queryRounds; round++) {
        const actor = `agent-${(round * 7) % ACTOR_COUNT}`;
        const startedAt = process.hrtime.bigint();
        const entries = trail.audit({ actor, order: 'newest', limit: 100 });
        queryTimes.push(Number(process.hrtime.bigint() - startedAt) / 1e6);
        if (entries.length !== 100 || entries.some((entry) => entry.actor !== actor)) {
          throw new Error(`audit query returned ${entries.length} entries, not 100 of ${actor}`);
        }
        checksum.add(entries[0]?.atMs ?? 0);
      }
      queryTimes.sort((left, right) => left - right);
      report.figure('audit_query_last100_ms', queryTimes[queryTimes.length >> 1] as number);
      report.line('audit_trail_entries', settings.trailEntries, 0);
      report.line('audit_trail_journal_mib', trail.stats().journalBytes / 2 ** 20, 1);
    } finally {
      for (const cartridge of opened) cartridge.close();
      scratch.remove();
    }
  },
};
