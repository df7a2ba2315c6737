import { Readable, Writable } from 'node:stream';
import type { Console } from '../cli/program.js';

/**
 * The work the `cartridge` command's code cache is made from: the commands people run most
 * (`init`, `put`, `cat`, `ls`, `info`, `log`, `get`, `rm`, `verify`), against a scratch
 * cartridge, with their output thrown away. Like the engine's warm-up (`warm-up.ts`), its
 * coverage only decides which functions a later `cartridge` process need not compile.
 */

export type RunCli = (argv: readonly string[], console: Console) => Promise<number>;

/** A console whose output goes nowhere and whose input is `input`. */
function quietConsole(input = ''): Console {
  const sink = () =>
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    });
  return { stdout: sink(), stderr: sink(), stdin: Readable.from([Buffer.from(input)]) };
}

/** Runs the commands against a cartridge at `path` (which must not exist). */
export async function warmUpCli(runCli: RunCli, path: string): Promise<void> {
  const commands: readonly (readonly string[])[] = [
    ['init', path],
    ['put', path, '/calls/1.json'],
    ['put', path, '/calls/2.json'],
    ['cat', path, '/calls/1.json'],
    ['ls', path, '-R'],
    ['ls', path, '/calls', '-l'],
    ['--json', 'info', path],
    ['log', path],
    ['get', path, '/calls/2.json', '-'],
    ['rm', path, '/calls/2.json'],
    ['verify', path],
  ];
  for (const argv of commands) {
    const exitCode = await runCli(argv, quietConsole('{"call":1}'));
    // A failing warm-up command would compile its error path, not the command: stop there.
    if (exitCode !== 0) throw new Error(`warm-up command failed (${exitCode}): ${argv[0]}`);
  }
}
