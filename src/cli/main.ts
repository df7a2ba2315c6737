#!/usr/bin/env node
import { runProcess } from './program.js';

/**
 * The `cartridge` command run from the module tree (`npm run cli`, `dist/src/cli/main.js`). The
 * package's `bin` is `dist/engine/cli.js`, which runs the same from the CLI's bundle with its
 * code cache (ARCHITECTURE 77). See docs/CLI.md.
 */
await runProcess();
