import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Deadline, median } from '../measure.js';
import { atLeast, atMost, type Workload, type WorkloadContext } from '../report.js';
import { MIB, scratchDirectory } from '../support.js';
import type { CatchUpReport, LiveReport } from './change-stream-child.js';

/**
 * Change-stream delivery, measured in a child process (`change-stream-child.ts`, under tsx;
 * module loading is not timed) because a stream runs on the event loop and the bench runner
 * is synchronous.
 *
 * - Live: appends of ~120-byte audit lines, each its own commit, one turn of the event loop
 *   after each, with one subscriber following from now, **vs** the same commits with no
 *   subscriber (rounds alternating). Figure: time with / time without, i.e. what one subscriber
 *   adds to a writer. Target ≤ 2: delivering an event reads back a record the commit has just
 *   written, so it should cost no more than writing it did. Events per second are printed too.
 * - Catch-up: `changes({ from: 'start' })` from subscribe to the caught-up marker over a journal
 *   of 4 KiB file rewrites (the figure) and over one of ~120-byte appends (a second figure, the
 *   worst case per byte), in MiB of journal per second, **vs** `fs.readFileSync` of the same
 *   cartridge file (page cache). Figure: stream MiB/s / read MiB/s; target ≥ 0.3 (the issue's).
 */

interface StreamSettings {
  readonly liveCommits: number;
  readonly fileCommits: number;
  readonly appendCommits: number;
  readonly warmupRounds: number;
  readonly rounds: number;
}

const childScript = join(dirname(fileURLToPath(import.meta.url)), 'change-stream-child.ts');
const projectRoot = dirname(dirname(dirname(childScript)));

function runChild<T>(args: readonly (string | number)[], deadline: Deadline): T {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', childScript, ...args.map(String)],
    {
      cwd: projectRoot,
      encoding: 'utf8',
      maxBuffer: 1024 * 1024,
      timeout: Math.max(1, Math.round(deadline.remainingMs)),
    },
  );
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    throw Object.assign(new Error('change-stream child ran past the time budget'), {
      code: 'TIME_BUDGET',
    });
  }
  if (result.status !== 0) {
    // The child prints an engine error's code first on its stderr; keep it for the report.
    const code =
      /\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/.exec(result.stderr)?.[1] ??
      result.signal ??
      'CHILD_FAILED';
    throw Object.assign(
      new Error(`change-stream child failed (${String(result.status)}): ${result.stderr}`),
      { code },
    );
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as T;
}

const rangeText = (values: readonly number[], digits: number): string =>
  `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;

function reportLive(live: LiveReport, settings: StreamSettings, context: WorkloadContext): void {
  const { report, checksum } = context;
  const expected = settings.liveCommits * (settings.warmupRounds + settings.rounds);
  if (live.eventsReceived !== expected) {
    throw new Error(`the live subscriber received ${live.eventsReceived} of ${expected} events`);
  }
  checksum.add(live.eventsReceived);
  const withMs = median(live.withSubscriberMs);
  const withoutMs = median(live.withoutSubscriberMs);
  report.figure('change_stream_live_overhead_ratio', withMs / withoutMs);
  report.line('change_stream_live_events_per_s', settings.liveCommits / (withMs / 1000), 0);
  report.line('change_stream_live_commits_per_s', settings.liveCommits / (withoutMs / 1000), 0);
  report.line('change_stream_live_with_subscriber_us', (withMs * 1000) / settings.liveCommits, 1);
  report.line(
    'change_stream_live_without_subscriber_us',
    (withoutMs * 1000) / settings.liveCommits,
    1,
  );
  report.line(
    'change_stream_live_round_range_ms',
    `${rangeText(live.withSubscriberMs, 1)} vs ${rangeText(live.withoutSubscriberMs, 1)}`,
  );
  report.line('change_stream_live_commits', settings.liveCommits, 0);
}

function reportCatchUp(
  catchUp: CatchUpReport,
  figure: string,
  prefix: string,
  { report, checksum }: WorkloadContext,
): void {
  checksum.add(catchUp.events);
  checksum.add(catchUp.journalBytes);
  const catchUpMs = median(catchUp.catchUpMs);
  const readMs = median(catchUp.readMs);
  const streamMibPerS = catchUp.journalBytes / MIB / (catchUpMs / 1000);
  const readMibPerS = catchUp.fileBytes / MIB / (readMs / 1000);
  report.figure(figure, streamMibPerS / readMibPerS);
  report.line(`${prefix}_mib_per_s`, streamMibPerS, 1);
  report.line(`${prefix}_read_mib_per_s`, readMibPerS, 1);
  report.line(`${prefix}_events_per_s`, catchUp.events / (catchUpMs / 1000), 0);
  report.line(`${prefix}_ms`, catchUpMs, 1);
  report.line(`${prefix}_read_ms`, readMs, 2);
  report.line(
    `${prefix}_range_ms`,
    `${rangeText(catchUp.catchUpMs, 1)} vs ${rangeText(catchUp.readMs, 2)}`,
  );
  report.line(`${prefix}_journal_mib`, catchUp.journalBytes / MIB, 1);
  report.line(`${prefix}_events`, catchUp.events, 0);
}

export const workload: Workload<StreamSettings> = {
  name: 'change-stream',
  description: 'live events vs the same commits unobserved; catch-up MiB/s vs readFileSync',
  sizes: {
    small: {
      liveCommits: 400,
      fileCommits: 2000,
      appendCommits: 3000,
      warmupRounds: 1,
      rounds: 3,
    },
    medium: {
      liveCommits: 2000,
      fileCommits: 8000,
      appendCommits: 20_000,
      warmupRounds: 1,
      rounds: 5,
    },
    large: {
      liveCommits: 4000,
      fileCommits: 16_000,
      appendCommits: 50_000,
      warmupRounds: 1,
      rounds: 5,
    },
  },
  budgetMs: { small: 60_000, medium: 600_000, large: 1_200_000 },
  figures: [
    { name: 'change_stream_live_overhead_ratio', target: atMost(2) },
    { name: 'change_stream_catch_up_ratio', target: atLeast(0.3) },
    { name: 'change_stream_catch_up_small_records_ratio', target: atLeast(0.3) },
  ],
  run: (settings, context) => {
    const { deadline } = context;
    const scratch = scratchDirectory('change-stream');
    const { warmupRounds, rounds } = settings;
    try {
      const live = runChild<LiveReport>(
        ['live', scratch.path, settings.liveCommits, warmupRounds, rounds],
        deadline,
      );
      reportLive(live, settings, context);
      const files = runChild<CatchUpReport>(
        ['catch-up', scratch.path, 'files', settings.fileCommits, warmupRounds, rounds],
        deadline,
      );
      reportCatchUp(files, 'change_stream_catch_up_ratio', 'change_stream_catch_up', context);
      const appends = runChild<CatchUpReport>(
        ['catch-up', scratch.path, 'appends', settings.appendCommits, warmupRounds, rounds],
        deadline,
      );
      reportCatchUp(
        appends,
        'change_stream_catch_up_small_records_ratio',
        'change_stream_catch_up_small_records',
        context,
      );
    } finally {
      scratch.remove();
    }
  },
};
