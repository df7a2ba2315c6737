import { Cartridge, CartridgeError } from '../../src/index.js';
import { childContent } from './writer-process.js';
import { emitLine } from './emit-line.js';

/**
 * A writer in a process of its own, for tests of the one-writer rule with real processes:
 * `writer-child.ts <cartridge> write <count> [durability]` waits for a line on stdin (a barrier,
 * so that two children race for the lock), opens the cartridge for writing with durability
 * 'full' (or the one named), then
 * creates `count` files (forever when count is -1) under `/p<pid>/`, acknowledging each after
 * it returned; `writer-child.ts <cartridge> cycle` opens and closes for writing in a loop, so
 * that a kill lands while the lock is being taken or given back. Every line goes to fd 1
 * synchronously, so an acknowledgement never precedes its commit.
 *
 * Lines: `opened <pid>`, `locked <holderPid>`, `error <code>`, `ack <index>`, `closed`, `cycle`.
 */



type Durability = 'full' | 'normal' | 'off';

function open(path: string, durability: Durability = 'full'): Cartridge | undefined {
  try {
    return Cartridge.open(path, { durability });
  } catch (error) {
    if (error instanceof CartridgeError && error.code === 'LOCKED') {
      emitLine(`locked ${error.holderPid ?? 'unknown'}`);
    } else {
      emitLine(`error ${error instanceof CartridgeError ? error.code : String(error)}`);
    }
    return undefined;
  }
}

function write(path: string, count: number, durability: Durability): void {
  const cartridge = open(path, durability);
  if (cartridge === undefined) return;
  emitLine(`opened ${process.pid}`);
  const directory = `/p${process.pid}`;
  cartridge.createDir(directory, { recursive: true });
  for (let index = 0; count < 0 || index < count; index++) {
    cartridge.createFile(`${directory}/${index}`, childContent(process.pid, index));
    emitLine(`ack ${index}`);
  }
  cartridge.close();
  emitLine('closed');
}

function cycle(path: string): void {
  // Never yields: the only way out is the parent's SIGKILL.
  for (;;) {
    const cartridge = open(path);
    cartridge?.close();
    emitLine('cycle');
  }
}

function main(): void {
  const [path, mode, countText, durabilityText] = process.argv.slice(2);
  if (path === undefined || mode === undefined) {
    throw new Error('usage: writer-child.ts <cartridge> write <count> | cycle');
  }
  if (mode === 'cycle') {
    cycle(path);
    return;
  }
  const count = Number(countText ?? '-1');
  process.stdin.once('data', () => {
    // The open stdin pipe would keep the process alive after its work.
    process.stdin.destroy();
    write(path, count, (durabilityText ?? 'full') as Durability);
  });
}

main();
