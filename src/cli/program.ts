import { Command, CommanderError } from 'commander';
import type { Readable, Writable } from 'node:stream';
import { Cartridge } from '../engine/cartridge.js';
import { registerAccessCommands } from './commands/access-commands.js';
import { registerBenchCommand } from './commands/bench-command.js';
import { registerFileCommands } from './commands/file-commands.js';
import { registerHistoryCommands } from './commands/history-commands.js';
import { registerSqlCommands } from './commands/sql-commands.js';
import { registerEngramCommands } from './commands/engram-commands.js';
import { registerErasureCommands } from './commands/erasure-commands.js';
import { registerTransferCommands } from './commands/transfer-commands.js';
import { EXIT_SUCCESS, EXIT_USAGE, exitCodeOf } from './exit-codes.js';
import { readKeyFile } from './key-file.js';
import { Output } from './output.js';

/**
 * The `cartridge` command: one sub-command per task, each taking the cartridge file first.
 * Arguments are parsed by commander; each command opens the cartridge for what it needs (read
 * only unless it writes), runs, closes, and maps an error to a documented exit code.
 */

export interface Console {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
}

export interface GlobalOptions {
  readonly json: boolean;
  readonly actor?: string;
  /** A file holding the encryption key (`--key-file`): 32 raw bytes or 64 hex digits. */
  readonly keyFile?: string;
}

/** The encryption key option of a command, read from `--key-file` when one was given. */
export interface KeyOptions {
  readonly encryptionKey?: Buffer;
}

/** What every command gets: how to print and how to open the cartridge it names. */
export interface CommandContext {
  readonly output: Output;
  readonly console: Console;
  /** Opens the cartridge, runs `body`, and closes it whatever happens. */
  withCartridge<T>(path: string, access: 'read' | 'write', body: (cartridge: Cartridge) => T): T;
  /** Opens the cartridge for a command that outlives this call (`watch`, `log --follow`). */
  openCartridge(path: string, access: 'read' | 'write'): Cartridge;
  /** Ends the command with this exit code once it returns (a check that found damage). */
  setExitCode(code: number): void;
  /**
   * The `encryptionKey` option from `--key-file` (read afresh at each call), or nothing: for
   * the commands that open or create a cartridge without `openCartridge` (`init`, `verify`,
   * `repair`).
   */
  keyOptions(): KeyOptions;
}

interface RunState {
  exitCode: number;
}

export type CommandRegistrar = (program: Command, context: () => CommandContext) => void;

function contextFor(program: Command, console: Console, state: RunState): CommandContext {
  const globals = program.opts<GlobalOptions>();
  const output = new Output(globals.json === true, console.stdout, console.stderr);
  const keyOptions = (): KeyOptions =>
    globals.keyFile === undefined ? {} : { encryptionKey: readKeyFile(globals.keyFile) };
  const openCartridge = (path: string, access: 'read' | 'write'): Cartridge =>
    Cartridge.open(path, {
      readOnly: access === 'read',
      ...(globals.actor === undefined ? {} : { actor: globals.actor }),
      ...keyOptions(),
    });
  return {
    output,
    console,
    openCartridge,
    keyOptions,
    setExitCode: (code) => {
      state.exitCode = code;
    },
    withCartridge: (path, access, body) => {
      const cartridge = openCartridge(path, access);
      try {
        return body(cartridge);
      } finally {
        cartridge.close();
      }
    },
  };
}

export function buildProgram(console: Console, state: RunState = { exitCode: 0 }): Command {
  const program = new Command('cartridge')
    .description('A file system in one file: journaled, time-travelling, auditable.')
    .option('--json', 'print results as JSON, one document per result', false)
    .option('--actor <name>', 'act as this actor (policies and audit entries name it)')
    .option(
      '--key-file <file>',
      'the encryption key of an encrypted cartridge: 32 raw bytes or 64 hex digits',
    )
    .configureOutput({
      writeOut: (text) => console.stdout.write(text),
      writeErr: (text) => console.stderr.write(text),
    })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  const context = () => contextFor(program, console, state);
  for (const register of [
    registerFileCommands,
    registerTransferCommands,
    registerHistoryCommands,
    registerAccessCommands,
    registerSqlCommands,
    registerEngramCommands,
    registerBenchCommand,
    registerErasureCommands,
  ]) {
    register(program, context);
  }
  return program;
}

/**
 * The `cartridge` process: the command line on the process's own streams, its exit code set
 * when the command ends. Run by `main.ts` and by the package's `bin` (`dist/engine/cli.js`).
 */
export async function runProcess(): Promise<void> {
  // A reader that stops early (`cartridge cat … | head`) closes the pipe: the command stops
  // there quietly, as `cat` does, instead of dying on an unhandled EPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? EXIT_SUCCESS);
  });
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
  });
}

/** Runs the command line and returns the exit code (the caller sets it). */
export async function runCli(argv: readonly string[], console: Console): Promise<number> {
  const state: RunState = { exitCode: EXIT_SUCCESS };
  const program = buildProgram(console, state);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander that end with status 0.
      return error.exitCode === 0 ? EXIT_SUCCESS : EXIT_USAGE;
    }
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (program.opts<GlobalOptions>().json === true) {
      console.stdout.write(`${JSON.stringify({ error: { code: code ?? null, message } })}\n`);
    }
    console.stderr.write(`cartridge: ${message}${typeof code === 'string' ? ` (${code})` : ''}\n`);
    return exitCodeOf(error);
  }
}
