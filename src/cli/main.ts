#!/usr/bin/env node
import { runCli } from './program.js';

/** The `cartridge` binary (package.json `bin`). See docs/CLI.md. */
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
});
