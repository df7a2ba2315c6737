import { readFileSync } from 'node:fs';
import { Cartridge } from '../../engine/cartridge.js';
import type { ExportedHead } from '../../proof/signed-head.js';
import type { ChangeEvent } from '../../engine/change-stream.js';
import { EXIT_CHECK_FAILED } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { CommandContext, CommandRegistrar } from '../program.js';
import { progressBar } from '../progress.js';
import { targetOf } from '../targets.js';

/**
 * Commands over the journal's timeline: `log` (the changes, `--follow` to keep reading),
 * `watch` (live changes under a glob), `snapshot create|list|rm`, `diff`, `restore` and
 * `verify`.
 */

function eventRow(event: ChangeEvent): unknown[] {
  // A move names where the entry came from too: `path.moved  /to  (from /from)`.
  const where = event.path ?? event.name ?? '';
  const moved = event.from === undefined ? where : `${where} (from ${event.from})`;
  return [event.offset, event.time.toISOString(), event.type, moved];
}

function printEvent(output: Output, event: ChangeEvent): void {
  if (output.json) {
    const { token, position, ...rest } = event;
    output.result({ ...rest, sequence: position.sequence, token });
  } else {
    output.line(eventRow(event).join('  '));
  }
}

/**
 * Streams changes to the output. Without `follow` it stops once the stream has caught up with
 * the head; with it, it runs until SIGINT or SIGTERM.
 */
function streamChanges(
  context: CommandContext,
  cartridgePath: string,
  options: { from: string; filter?: string; follow: boolean; limit?: number },
): Promise<void> {
  const { output } = context;
  const cartridge: Cartridge = context.openCartridge(cartridgePath, 'read');
  const target =
    options.from === 'start' || options.from === 'now' ? options.from : targetOf(options.from);
  // A date names the state at that time: the stream starts after its last commit.
  const from =
    target instanceof Date || typeof target === 'object' ? cartridge.checkout(target).head : target;
  let printed = 0;
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: unknown) => {
      subscription.unsubscribe();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      cartridge.close();
      if (error === undefined) resolve();
      else reject(error);
    };
    const stop = () => finish();
    const subscription = cartridge
      .changes({
        from,
        ...(options.filter === undefined ? {} : { filter: options.filter }),
      })
      .subscribe({
        next: (event) => {
          if (event.type === 'caught-up') {
            if (!options.follow) queueMicrotask(() => finish());
            return;
          }
          if (options.limit !== undefined && printed >= options.limit) return;
          printEvent(output, event);
          printed++;
        },
        error: (error: unknown) => finish(error),
      });
    if (options.follow) {
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }
  });
}

export const registerHistoryCommands: CommandRegistrar = (program, context) => {
  program
    .command('log')
    .description('the changes in the journal, oldest first')
    .argument('<cartridge>')
    .option(
      '--from <position>',
      "'start', 'now', an offset, a snapshot name or a resume token",
      'start',
    )
    .option('--filter <glob>', 'only paths matching this glob (/calls/**)')
    .option('--limit <count>', 'at most this many changes', (value) => Number.parseInt(value, 10))
    .option('-f, --follow', 'keep printing new changes until interrupted')
    .action(
      (
        cartridgePath: string,
        options: { from: string; filter?: string; limit?: number; follow?: boolean },
      ) => streamChanges(context(), cartridgePath, { ...options, follow: options.follow === true }),
    );

  program
    .command('watch')
    .description('print changes as they are committed, until interrupted')
    .argument('<cartridge>')
    .argument('[glob]', 'only paths matching this glob')
    .action((cartridgePath: string, glob: string | undefined) =>
      streamChanges(context(), cartridgePath, {
        from: 'now',
        follow: true,
        ...(glob === undefined ? {} : { filter: glob }),
      }),
    );

  const snapshot = program.command('snapshot').description('named positions in history');
  snapshot
    .command('create')
    .description('name the current state')
    .argument('<cartridge>')
    .argument('<name>')
    .option('-m, --message <description>', 'what the snapshot is for')
    .action((cartridgePath: string, name: string, options: { message?: string }) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        const info = cartridge.createSnapshot(name, options.message);
        output.result(info, () => output.line(`snapshot ${info.name} at offset ${info.offset}`));
      });
    });
  snapshot
    .command('list')
    .description('the snapshots, oldest first')
    .argument('<cartridge>')
    .action((cartridgePath: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'read', (cartridge) => {
        const snapshots = cartridge.listSnapshots();
        output.result(snapshots, () =>
          output.table(
            ['name', 'offset', 'created', 'description'],
            snapshots.map((info) => [info.name, info.offset, info.createdAt, info.description]),
          ),
        );
      });
    });
  snapshot
    .command('rm')
    .description('delete a snapshot (the history it named stays until compaction)')
    .argument('<cartridge>')
    .argument('<name>')
    .action((cartridgePath: string, name: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        cartridge.deleteSnapshot(name);
        output.result({ deleted: name }, () => output.line(`deleted snapshot ${name}`));
      });
    });

  program
    .command('diff')
    .description('what changed between two positions (the second defaults to the head)')
    .argument('<cartridge>')
    .argument('<from>', 'an offset, a snapshot name or a date')
    .argument('[to]', 'an offset, a snapshot name or a date')
    .option('--prefix <path>', 'only under this directory')
    .action(
      (
        cartridgePath: string,
        from: string,
        to: string | undefined,
        options: { prefix?: string },
      ) => {
        const { output, withCartridge } = context();
        withCartridge(cartridgePath, 'read', (cartridge) => {
          const entries = cartridge.diff(
            targetOf(from),
            to === undefined ? undefined : targetOf(to),
            options.prefix === undefined ? {} : { prefix: options.prefix },
          );
          output.result(entries, () => {
            for (const entry of entries) output.line(`${entry.change.padEnd(8)} ${entry.path}`);
          });
        });
      },
    );

  program
    .command('restore')
    .description('bring the whole cartridge back to a past state (a new commit; history stays)')
    .argument('<cartridge>')
    .argument('<target>', 'an offset, a snapshot name or a date')
    .action((cartridgePath: string, target: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        const result = cartridge.restoreSnapshot(targetOf(target));
        output.result(result, () =>
          output.line(
            `restored the state of offset ${result.targetHead}: ` +
              `${result.changedCount} entries changed`,
          ),
        );
      });
    });

  program
    .command('repair')
    .description('cut a torn tail, or copy what survives damage into a new file (exit 4 then)')
    .argument('<cartridge>')
    .option('-o, --output <file>', 'where a salvaged copy goes (default <cartridge>.repaired.cart)')
    .action((cartridgePath: string, options: { output?: string }) => {
      const { output, setExitCode, keyOptions } = context();
      const report = Cartridge.repair(cartridgePath, {
        ...keyOptions(),
        ...(options.output === undefined ? {} : { outputPath: options.output }),
      });
      output.result(report, () => output.table(['field', 'value'], Object.entries(report)));
      if (report.action === 'salvaged') setExitCode(EXIT_CHECK_FAILED);
    });

  program
    .command('compact')
    .description('rewrite the cartridge without the history it no longer needs (the file shrinks)')
    .argument('<cartridge>')
    .option(
      '--keep-history-from <target>',
      'keep the state at this offset, snapshot name or date, and the history after it',
    )
    .action((cartridgePath: string, options: { keepHistoryFrom?: string }) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        let bar: ReturnType<typeof progressBar> | undefined;
        let done = 0;
        const result = cartridge.compact({
          ...(options.keepHistoryFrom === undefined
            ? {}
            : { keepHistoryFrom: targetOf(options.keepHistoryFrom) }),
          onProgress: (progress) => {
            bar ??= progressBar('compact', progress.recordsTotal, !output.json);
            bar.advance(progress.recordsDone - done);
            done = progress.recordsDone;
          },
        });
        bar?.stop();
        output.result(result, () =>
          output.line(
            `compacted ${cartridgePath}: ${result.bytesBefore} to ${result.bytesAfter} bytes ` +
              `(${result.reclaimedBytes} reclaimed, ${result.recordsDropped} records dropped)`,
          ),
        );
      });
    });

  program
    .command('verify')
    .description('check every record, the hash chain and the index (exit 4 on damage)')
    .argument('<cartridge>')
    .option('--public-key <file>', 'an Ed25519 public key (PEM): check the signed heads too')
    .option('--anchor <file>', 'a head kept elsewhere (JSON from `head`): rollback and forks')
    .action((cartridgePath: string, options: { publicKey?: string; anchor?: string }) => {
      const { output, setExitCode, keyOptions } = context();
      // Without --key-file, an encrypted cartridge is checked as stored (chain, Merkle log,
      // signed heads), without the index replay: the report says so (stateChecked: false).
      let bar: ReturnType<typeof progressBar> | undefined;
      let checked = 0;
      const report = Cartridge.verifyFile(cartridgePath, {
        ...keyOptions(),
        onProgress: (progress) => {
          bar ??= progressBar('verify', progress.bytesTotal, !output.json);
          bar.advance(progress.bytesChecked - checked);
          checked = progress.bytesChecked;
        },
        ...(options.publicKey === undefined
          ? {}
          : { publicKey: readFileSync(options.publicKey, 'utf8') }),
        ...(options.anchor === undefined
          ? {}
          : { anchor: JSON.parse(readFileSync(options.anchor, 'utf8')) as ExportedHead }),
      });
      bar?.stop();
      output.result(report, () =>
        output.table(
          ['field', 'value'],
          Object.entries(report).filter(([, value]) => typeof value !== 'object' || value === null),
        ),
      );
      if (!report.ok) setExitCode(EXIT_CHECK_FAILED);
    });

  program
    .command('sign')
    .description('sign the current head with an Ed25519 private key (PEM); prints the signed head')
    .argument('<cartridge>')
    .argument('<key-file>', 'the signing key, PEM')
    .action((cartridgePath: string, keyFile: string) => {
      const { output, withCartridge } = context();
      const key = readFileSync(keyFile, 'utf8');
      withCartridge(cartridgePath, 'write', (cartridge) => {
        const signed = cartridge.signCheckpoint(key);
        output.result(signed, () => output.line(JSON.stringify(signed, null, 2)));
      });
    });

  program
    .command('head')
    .description('the current head (id, records, offset, hashes): keep it elsewhere as an anchor')
    .argument('<cartridge>')
    .action((cartridgePath: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'read', (cartridge) => {
        const head = cartridge.exportHead();
        output.result(head, () => output.line(JSON.stringify(head, null, 2)));
      });
    });
};
