import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cartridge, CartridgeError } from '../../../src/index.js';
import { bySize, type Campaign, type Figures, type TortureSize } from '../figures.js';
import { readState } from '../model.js';
import {
  applyIntent,
  type DigestModel,
  DIRECTORY_MARK,
  digestModelOf,
  digestOf,
  type Intent,
  parseLine,
  READY_LINE,
  SeededRandom,
  SIGKILL_DIRECTORIES,
} from '../sigkill-protocol.js';

/**
 * Real processes, real kills: a child mutates a cartridge file (durability 'full' in even
 * rounds, 'off' in odd ones, whose commits are copied into a mapping of the file past zeros it
 * keeps ahead, ARCHITECTURE 85, and whose file check asks a watch, 86) and acknowledges every
 * commit on stdout; the parent kills it with SIGKILL at a random moment,
 * reopens the file and checks that every acknowledged commit survived, that at most the one
 * operation in flight was added, and that `verify()` passes. Rounds continue on the same file,
 * so recovery's own repairs are built upon by later rounds.
 *
 * A killed process leaves the page cache behind, so this checks that an acknowledgement never
 * precedes its commit and that real torn writes recover; power loss (unsynced pages lost) is
 * the crash-points campaign's job.
 */

const CHILD_PATH = fileURLToPath(new URL('../sigkill-child.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BASE_SEED = 0x51_6b_11;
/** A new cartridge every so many rounds or journal bytes, so that verify's reread stays cheap. */
const ROUNDS_PER_FILE = 25;
const JOURNAL_BYTES_PER_FILE = 96 * 1024 * 1024;
/** The child must say `ready` within this; tsx start-up takes a few hundred milliseconds. */
const READY_TIMEOUT_MS = 30_000;
const KILL_DELAY_MIN_MS = 20;
const KILL_DELAY_MAX_MS = 300;
const STDERR_KEPT_CHARS = 2000;

interface ChildOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly readyMs: number | undefined;
  /** True when the child ended for any reason other than our SIGKILL after `ready`. */
  readonly diedOnItsOwn: boolean;
  readonly hung: boolean;
}

/** What the complete lines say: the acknowledged intents, and the one in flight if any. */
interface Transcript {
  readonly acknowledged: readonly Intent[];
  readonly inFlight: Intent | undefined;
}

interface Round {
  readonly figures: Figures;
  readonly path: string;
  readonly index: number;
  readonly seed: number;
  /** Kill timing is not reproducible, but the delay says roughly where the kill landed. */
  readonly killDelayMs: number;
  /** The child's durability: a process's death loses nothing acknowledged in either. */
  readonly durability: 'full' | 'off';
  /** How long each child took from spawn to `ready`, for the start-up figures. */
  readonly readyTimesMs: number[];
}

function describe(round: Round, detail: string): string {
  const where =
    `round=${round.index} seed=${round.seed} killDelayMs=${round.killDelayMs}` +
    ` durability=${round.durability}`;
  return `campaign=sigkill ${where}: ${detail}`;
}

function runChild(round: Round): Promise<ChildOutcome> {
  const { path, seed, killDelayMs, durability } = round;
  return new Promise((resolve) => {
    const startedAt = performance.now();
    const args = ['--import', 'tsx', CHILD_PATH, path, String(seed), durability];
    const child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let readyMs: number | undefined;
    let hung = false;
    let killed = false;
    const kill = (): void => {
      killed = true;
      child.kill('SIGKILL');
    };
    const hangTimer = setTimeout(() => {
      hung = true;
      kill();
    }, READY_TIMEOUT_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      // The kill delay starts at `ready`, so that it lands among writes rather than start-up.
      if (readyMs !== undefined || !stdout.startsWith(`${READY_LINE}\n`)) return;
      readyMs = performance.now() - startedAt;
      clearTimeout(hangTimer);
      setTimeout(kill, killDelayMs);
    });
    child.stderr.on('data', (chunk: string) => {
      // The head holds the error message; a long stack trace adds nothing past it.
      if (stderr.length < STDERR_KEPT_CHARS) stderr = (stderr + chunk).slice(0, STDERR_KEPT_CHARS);
    });
    // A failed spawn reports here, then closes; without a listener it would throw.
    child.on('error', (error) => {
      stderr += `spawn failed: ${String(error)}\n`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(hangTimer);
      const diedOnItsOwn = !killed || signal !== 'SIGKILL' || code !== null;
      resolve({ stdout, stderr, readyMs, diedOnItsOwn: diedOnItsOwn && !hung, hung });
    });
  });
}

/** Reads the complete lines; the text after the last newline was cut by the kill. */
function transcriptOf(stdout: string): Transcript {
  const lines = stdout.split('\n').slice(0, -1);
  const acknowledged: Intent[] = [];
  let inFlight: Intent | undefined;
  for (const line of lines) {
    const parsed = parseLine(line);
    if (parsed.kind === 'ready') continue;
    if (parsed.kind === 'intent') {
      if (inFlight !== undefined) throw new Error(`intent ${parsed.intent.seq} before an ack`);
      inFlight = parsed.intent;
    } else {
      if (inFlight?.seq !== parsed.seq) throw new Error(`ack ${parsed.seq} without its intent`);
      acknowledged.push(inFlight);
      inFlight = undefined;
    }
  }
  return { acknowledged, inFlight };
}

/** Creates a fresh cartridge with the campaign's directories; returns its model. */
function freshCartridge(path: string): DigestModel {
  rmSync(path, { force: true });
  const cartridge = Cartridge.create(path, { durability: 'full' });
  try {
    for (const directory of SIGKILL_DIRECTORIES) cartridge.createDir(directory, { recursive: true });
  } finally {
    cartridge.close();
  }
  return new Map(SIGKILL_DIRECTORIES.map((directory) => [directory, DIRECTORY_MARK]));
}

interface Reopened {
  readonly model: DigestModel;
  readonly journalBytes: number;
}

/** Opens the killed child's file, reads its state and verifies it; undefined if open failed. */
function reopen(round: Round): Reopened | undefined {
  let cartridge: Cartridge;
  try {
    cartridge = Cartridge.open(round.path);
  } catch (error) {
    const gate = error instanceof CartridgeError ? 'unexpected_errors' : 'untyped_errors';
    round.figures.fail(gate, describe(round, `open failed: ${String(error)}`));
    return undefined;
  }
  try {
    if (cartridge.recovery.decision === 'truncate-tail') round.figures.add('sigkill_tail_repairs');
    const { journalBytes } = cartridge.stats();
    round.figures.max('sigkill_journal_bytes_max', journalBytes);
    const observed = digestModelOf(readState(cartridge));
    const report = cartridge.verify();
    if (!report.ok) {
      const where = `damage at ${report.damageOffset}: ${report.damageReason}`;
      const detail = `${where} stateMatches=${report.stateMatches}`;
      round.figures.fail('verify_failures', describe(round, detail));
    }
    return { model: observed, journalBytes };
  } finally {
    cartridge.close();
  }
}

/** The model after each acknowledged operation, starting with the one before the round. */
function statesOf(before: DigestModel, transcript: Transcript): DigestModel[] {
  const states = [before];
  let state = before;
  for (const intent of transcript.acknowledged) {
    state = applyIntent(state, intent);
    states.push(state);
  }
  return states;
}

/** The latest acknowledged state with this digest (a state may recur), or -1. */
function lastIndexOfDigest(states: readonly DigestModel[], digest: string): number {
  for (let index = states.length - 1; index >= 0; index--) {
    if (digestOf(states[index] ?? new Map()) === digest) return index;
  }
  return -1;
}

/** Judges the observed state: the last acknowledged state, or that plus the one in flight. */
function judge(round: Round, before: DigestModel, transcript: Transcript, observed: DigestModel): void {
  const states = statesOf(before, transcript);
  const acknowledged = states.at(-1) ?? before;
  const digest = digestOf(observed);
  if (digest === digestOf(acknowledged)) return;
  const { inFlight } = transcript;
  if (inFlight !== undefined && digest === digestOf(applyIntent(acknowledged, inFlight))) {
    round.figures.add('sigkill_in_flight_survived');
    return;
  }
  const earlier = lastIndexOfDigest(states, digest);
  const last = transcript.acknowledged.at(-1)?.seq ?? 'none';
  const detail = `${transcript.acknowledged.length} acknowledged, last seq=${last}`;
  if (earlier !== -1) {
    const lost = `state after ${earlier} acknowledged operations only (${detail})`;
    round.figures.fail('acknowledged_durable_lost', describe(round, lost));
    return;
  }
  const flying = inFlight === undefined ? 'none' : JSON.stringify(inFlight).slice(0, 300);
  const wrong = `state equals no acknowledged prefix (${detail}, in flight ${flying})`;
  round.figures.fail('prefix_rule_violations', describe(round, wrong));
}

function recordChild(round: Round, outcome: ChildOutcome, transcript: Transcript): void {
  const { figures } = round;
  if (outcome.readyMs !== undefined) round.readyTimesMs.push(outcome.readyMs);
  if (outcome.hung) figures.fail('hangs', describe(round, 'the child never said ready'));
  if (outcome.diedOnItsOwn) {
    const why = `the child died on its own: ${outcome.stderr.trim().slice(0, 600)}`;
    figures.fail('unexpected_errors', describe(round, why));
  }
  const commits = transcript.acknowledged.filter((intent) => intent.op !== 'aborted').length;
  figures.add('sigkill_acknowledged_commits', commits);
  if (transcript.inFlight !== undefined) figures.add('sigkill_kills_mid_operation');
}

/** One round; returns what the next round starts from (undefined: start a new file). */
async function runRound(round: Round, before: DigestModel): Promise<Reopened | undefined> {
  const outcome = await runChild(round);
  const transcript = transcriptOf(outcome.stdout);
  recordChild(round, outcome, transcript);
  round.figures.add('sigkill_rounds');
  const reopened = reopen(round);
  if (reopened !== undefined) judge(round, before, transcript, reopened.model);
  // The next child continues from what is on disk, so the next round's model is what we saw.
  return reopened;
}

async function runRounds(figures: Figures, rounds: number, directory: string): Promise<void> {
  const random = new SeededRandom(BASE_SEED);
  const path = join(directory, 'sigkill.cart');
  const readyTimesMs: number[] = [];
  let current: Reopened | undefined;
  for (let index = 0; index < rounds; index++) {
    const stale = current === undefined || current.journalBytes > JOURNAL_BYTES_PER_FILE;
    if (stale || index % ROUNDS_PER_FILE === 0) {
      current = { model: freshCartridge(path), journalBytes: 0 };
      figures.add('sigkill_files');
    }
    const killDelayMs = random.int(KILL_DELAY_MIN_MS, KILL_DELAY_MAX_MS);
    const durability = index % 2 === 0 ? 'full' : 'off';
    const seed = BASE_SEED + index;
    const round: Round = { figures, path, index, seed, killDelayMs, durability, readyTimesMs };
    current = await runRound(round, current?.model ?? new Map());
  }
  recordStartup(figures, readyTimesMs);
}

function recordStartup(figures: Figures, readyTimesMs: readonly number[]): void {
  if (readyTimesMs.length === 0) return;
  const sorted = [...readyTimesMs].sort((left, right) => left - right);
  figures.set('sigkill_child_ready_ms_median', sorted[Math.floor(sorted.length / 2)] ?? 0);
  figures.set('sigkill_child_ready_ms_max', sorted.at(-1) ?? 0);
}

export const sigkillCampaign: Campaign = {
  name: 'sigkill',
  async run(figures: Figures, size: TortureSize): Promise<void> {
    const rounds = bySize(size, { small: 20, medium: 100, large: 500 });
    // Printed even when zero: a torn tail needs a kill inside a multi-part write, which is rare.
    figures.add('sigkill_tail_repairs', 0);
    const directory = mkdtempSync(join(tmpdir(), 'cartridge-sigkill-'));
    try {
      await runRounds(figures, rounds, directory);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  },
};
