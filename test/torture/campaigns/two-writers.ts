import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cartridge, CartridgeError } from '../../../src/index.js';
import { childContent, WriterProcess } from '../../support/writer-process.js';
import { bySize, type Campaign, type Figures, type TortureSize } from '../figures.js';
import { SeededRandom } from '../sigkill-protocol.js';

/**
 * Two writers on one file, for real: each round two processes race to open the same cartridge
 * for writing (durability 'full'); exactly one may win, the other must be refused with LOCKED.
 * The winner writes and acknowledges until it is killed with SIGKILL at a random moment; then
 * this process must be able to write at once (a dead writer leaves no lock), a second handle
 * in this process must be refused, and every file any winner ever acknowledged must read back
 * exactly, with verify passing. Rounds build on the same file.
 */

const BASE_SEED = 0x2_0a_11;
const ROUNDS_PER_FILE = 10;
const FIRST_LINE_TIMEOUT_MS = 30_000;

interface Round {
  readonly figures: Figures;
  readonly index: number;
  readonly path: string;
  readonly killDelayMs: number;
}

function where(round: Round, detail: string): string {
  return `campaign=two-writers round=${round.index} killDelayMs=${round.killDelayMs}: ${detail}`;
}

/** Races two writer processes; returns the winner, or undefined when the round failed. */
async function race(round: Round): Promise<WriterProcess | undefined> {
  const racers = [new WriterProcess(round.path, 'write'), new WriterProcess(round.path, 'write')];
  for (const racer of racers) racer.go();
  for (const racer of racers) {
    if (!(await racer.waitFor(() => true, FIRST_LINE_TIMEOUT_MS))) {
      round.figures.fail('hangs', where(round, `a racer said nothing: ${racer.stderr.slice(0, 300)}`));
    }
  }
  const opened = racers.filter((racer) => racer.lines[0]?.startsWith('opened'));
  const locked = racers.filter((racer) => racer.lines[0]?.startsWith('locked'));
  if (opened.length > 1) round.figures.fail('two_live_writers', where(round, 'both racers opened'));
  if (opened.length === 1 && locked.length === 1) round.figures.add('two_writers_refusals');
  else if (opened.length < 2) {
    const lines = racers.map((racer) => racer.lines[0] ?? racer.stderr.slice(0, 200)).join(' | ');
    round.figures.fail('unexpected_errors', where(round, `race outcome: ${lines}`));
  }
  const winner = opened[0];
  if (winner !== undefined) {
    await winner.waitFor((line) => line === 'ack 0', FIRST_LINE_TIMEOUT_MS);
    await new Promise((resolve) => setTimeout(resolve, round.killDelayMs));
  }
  for (const racer of racers) await racer.kill();
  return winner;
}

/** This process takes over: checks the lock, every acknowledged file, and verify. */
function takeOver(round: Round, winners: readonly WriterProcess[]): void {
  const { figures } = round;
  let cartridge: Cartridge;
  try {
    cartridge = Cartridge.open(round.path, { durability: 'full' });
  } catch (error) {
    const gate = error instanceof CartridgeError ? 'unexpected_errors' : 'untyped_errors';
    figures.fail(gate, where(round, `the next writer could not open: ${String(error)}`));
    return;
  }
  try {
    try {
      Cartridge.open(round.path).close();
      figures.fail('two_live_writers', where(round, 'a second handle in one process opened'));
    } catch (error) {
      if (!(error instanceof CartridgeError) || error.code !== 'LOCKED') {
        figures.fail('unexpected_errors', where(round, `second handle: ${String(error)}`));
      }
    }
    for (const winner of winners) checkWinner(round, cartridge, winner);
    if (!cartridge.verify().ok) figures.fail('verify_failures', where(round, 'verify failed'));
    cartridge.createFile(`/parent/${round.index}`, 'parent');
  } finally {
    cartridge.close();
  }
}

function checkWinner(round: Round, cartridge: Cartridge, winner: WriterProcess): void {
  for (const index of winner.acknowledged()) {
    const path = `/p${winner.pid}/${index}`;
    round.figures.add('two_writers_acknowledged_checked');
    if (!cartridge.exists(path)) {
      round.figures.fail('acknowledged_durable_lost', where(round, `${path} is missing`));
    } else if (cartridge.readFile(path).toString() !== childContent(winner.pid, index)) {
      round.figures.fail('silent_wrong_data', where(round, `${path} has other bytes`));
    }
  }
}

export const twoWritersCampaign: Campaign = {
  name: 'two-writers',
  async run(figures: Figures, size: TortureSize): Promise<void> {
    const rounds = bySize(size, { small: 4, medium: 20, large: 100 });
    const random = new SeededRandom(BASE_SEED);
    const directory = mkdtempSync(join(tmpdir(), 'cartridge-two-writers-'));
    try {
      let winners: WriterProcess[] = [];
      const path = join(directory, 'shared.cart');
      for (let index = 0; index < rounds; index++) {
        if (index % ROUNDS_PER_FILE === 0) {
          Cartridge.create(path, { durability: 'full' }).close();
          winners = [];
        }
        const round = { figures, index, path, killDelayMs: random.int(5, 250) };
        const winner = await race(round);
        if (winner !== undefined) winners.push(winner);
        takeOver(round, winners);
        figures.add('two_writers_rounds');
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  },
};
