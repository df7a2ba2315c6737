import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cartridge, CartridgeError, type Durability } from '../../../src/index.js';
import { bySize, type Campaign, type Figures, type TortureSize } from '../figures.js';
import { SeededRandom } from '../sigkill-protocol.js';

/**
 * The file changed underneath an open writer, in every durability mode: after a random number
 * of acknowledged commits another party unlinks the file, renames another cartridge over it,
 * moves it away, truncates it, appends to it, or removes its directory. Then the writer keeps
 * going (writes, a flush, or just close). Nothing may be acknowledged after the change (the
 * data would be lost: acknowledged_durable_lost), the refusal must be FILE_CHANGED and later
 * calls POISONED, a file that survived the change must still hold everything acknowledged
 * before it (moved away), and a cartridge renamed over the path must be untouched.
 */

const BASE_SEED = 0xf1_1e;
const MODES: readonly Durability[] = ['full', 'normal', 'off'];
const ACTIONS = ['unlink', 'rename-over', 'move-away', 'truncate', 'append', 'remove-directory'] as const;
type Action = (typeof ACTIONS)[number];
const AFTERWARDS = ['writes', 'flush', 'close'] as const;

interface Round {
  readonly figures: Figures;
  readonly directory: string;
  readonly path: string;
  readonly mode: Durability;
  readonly action: Action;
  readonly afterwards: (typeof AFTERWARDS)[number];
  readonly seed: number;
}

function where(round: Round, detail: string): string {
  const { mode, action, afterwards, seed } = round;
  return `campaign=file-replaced mode=${mode} action=${action} afterwards=${afterwards} seed=${seed}: ${detail}`;
}

function perform(round: Round): void {
  const { directory, path } = round;
  switch (round.action) {
    case 'unlink':
      return unlinkSync(path);
    case 'rename-over': {
      const other = join(directory, 'other.cart');
      Cartridge.create(other).close();
      return renameSync(other, path);
    }
    case 'move-away':
      return renameSync(path, join(directory, 'moved.cart'));
    case 'truncate':
      return truncateSync(path, 8192 + 100);
    case 'append':
      return appendFileSync(path, Buffer.alloc(64, 1));
    case 'remove-directory':
      return rmSync(directory, { recursive: true, force: true });
  }
}

/** Judges one call after the change: it must fail with `expected`, typed. */
function expectRefusal(round: Round, call: string, expected: readonly string[], action: () => void): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof CartridgeError)) {
      round.figures.fail('untyped_errors', where(round, `${call}: ${String(error)}`));
    } else if (!expected.includes(error.code)) {
      round.figures.fail('unexpected_errors', where(round, `${call} threw ${error.code}`));
    } else {
      round.figures.add('file_replaced_refusals');
    }
    return;
  }
  const lost = call.startsWith('write') || call === 'flush' || call === 'close';
  const gate = lost ? 'acknowledged_durable_lost' : 'unexpected_errors';
  round.figures.fail(gate, where(round, `${call} was acknowledged after the file changed`));
}

function runRound(round: Round, random: SeededRandom): void {
  const cartridge = Cartridge.create(round.path, { durability: round.mode });
  const acknowledged: string[] = [];
  for (let index = random.int(1, 25); index > 0; index--) {
    const file = `/f${acknowledged.length}`;
    cartridge.createFile(file, `${file} ${round.seed}`);
    acknowledged.push(file);
  }
  if (random.float() < 0.5) cartridge.flush();
  perform(round);
  if (round.afterwards === 'writes') {
    expectRefusal(round, 'write 0', ['FILE_CHANGED'], () => cartridge.createFile('/after', 'x'));
    expectRefusal(round, 'write 1', ['POISONED'], () => cartridge.createFile('/after2', 'y'));
    expectRefusal(round, 'close', ['POISONED'], () => cartridge.close());
  } else if (round.afterwards === 'flush') {
    expectRefusal(round, 'flush', ['FILE_CHANGED'], () => cartridge.flush());
    expectRefusal(round, 'close', ['POISONED'], () => cartridge.close());
  } else {
    expectRefusal(round, 'close', ['FILE_CHANGED'], () => cartridge.close());
  }
  checkSurvivors(round, acknowledged);
}

/** What the change left: the moved file keeps everything; a file renamed over is untouched. */
function checkSurvivors(round: Round, acknowledged: readonly string[]): void {
  const { figures } = round;
  if (round.action === 'move-away') {
    const moved = Cartridge.open(join(round.directory, 'moved.cart'), { readOnly: true });
    for (const file of acknowledged) {
      if (!moved.exists(file)) figures.fail('acknowledged_durable_lost', where(round, `${file} missing`));
      else if (moved.readFile(file).toString() !== `${file} ${round.seed}`) {
        figures.fail('silent_wrong_data', where(round, `${file} has other bytes`));
      }
    }
    if (moved.exists('/after')) figures.fail('silent_wrong_data', where(round, 'a refused write landed'));
    if (!moved.verify().ok) figures.fail('verify_failures', where(round, 'moved file'));
    moved.close();
  }
  if (round.action === 'rename-over') {
    const other = Cartridge.open(round.path, { readOnly: true });
    if (other.listDir('/').length !== 0) {
      figures.fail('silent_wrong_data', where(round, 'the cartridge renamed over the path was written'));
    }
    if (!other.verify().ok) figures.fail('verify_failures', where(round, 'renamed-over file'));
    other.close();
  }
}

export const fileReplacedCampaign: Campaign = {
  name: 'file-replaced',
  run(figures: Figures, size: TortureSize): void {
    const repeats = bySize(size, { small: 1, medium: 5, large: 20 });
    const random = new SeededRandom(BASE_SEED);
    const root = mkdtempSync(join(tmpdir(), 'cartridge-file-replaced-'));
    let seed = BASE_SEED;
    try {
      for (let repeat = 0; repeat < repeats; repeat++) {
        for (const mode of MODES) {
          for (const action of ACTIONS) {
            for (const afterwards of AFTERWARDS) {
              seed++;
              const directory = join(root, String(seed));
              mkdirSync(directory);
              const path = join(directory, 'a.cart');
              runRound({ figures, directory, path, mode, action, afterwards, seed }, random);
              figures.add('file_replaced_rounds');
            }
          }
        }
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};
