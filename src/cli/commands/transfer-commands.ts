import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cartridge } from '../../engine/cartridge.js';
import type { EntryMetadata } from '../../engine/cartridge-types.js';
import { progressBar } from '../progress.js';
import type { CommandRegistrar } from '../program.js';
import { targetOf } from '../targets.js';

/**
 * Moving trees between the host and a cartridge: `import` copies a host directory in (in
 * transactions of bounded size, so a crash keeps whole batches), `export` copies a cartridge
 * tree out, at the head or at any past position (`--at`), and `checkout` is `export --at`.
 */

/** A batch is committed once it holds this many entries or bytes. */
const IMPORT_BATCH_ENTRIES = 1000;
const IMPORT_BATCH_BYTES = 64 * 1024 * 1024;

/** What export reads: the cartridge at its head, or a view of a past state. */
interface TreeSource {
  listDir(path: string): string[];
  metadata(path: string): EntryMetadata;
  readFile(path: string): Buffer;
}

interface HostEntry {
  readonly relative: string;
  readonly directory: boolean;
}

function hostTree(root: string): HostEntry[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isDirectory() || entry.isFile())
    .map((entry) => ({
      relative: join(entry.parentPath, entry.name).slice(root.length).replace(/\\/g, '/'),
      directory: entry.isDirectory(),
    }))
    .sort((left, right) => left.relative.localeCompare(right.relative));
}

function cartridgeTree(source: TreeSource, root: string): { path: string; directory: boolean }[] {
  const entries: { path: string; directory: boolean }[] = [];
  const visit = (directory: string): void => {
    for (const name of source.listDir(directory)) {
      const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
      const isDirectory = source.metadata(path).type === 'directory';
      entries.push({ path, directory: isDirectory });
      if (isDirectory) visit(path);
    }
  };
  visit(root);
  return entries;
}

function exportTree(
  source: TreeSource,
  from: string,
  destination: string,
  showProgress: boolean,
): { files: number; directories: number; bytes: number } {
  const entries = cartridgeTree(source, from);
  const progress = progressBar('export', entries.length, showProgress);
  const base = from === '/' ? '' : from;
  let files = 0;
  let bytes = 0;
  mkdirSync(destination, { recursive: true });
  try {
    for (const entry of entries) {
      const target = join(destination, entry.path.slice(base.length));
      if (entry.directory) mkdirSync(target, { recursive: true });
      else {
        const content = source.readFile(entry.path);
        writeFileSync(target, content);
        files++;
        bytes += content.length;
      }
      progress.advance();
    }
  } finally {
    progress.stop();
  }
  return { files, directories: entries.length - files, bytes };
}

function summary(verb: string, result: { files: number; directories: number; bytes: number }) {
  return `${verb} ${result.files} files, ${result.directories} directories, ${result.bytes} bytes`;
}

function importTree(
  cartridge: Cartridge,
  root: string,
  prefix: string,
  showProgress: boolean,
): { files: number; directories: number; bytes: number } {
  const entries = hostTree(root);
  const progress = progressBar('import', entries.length, showProgress);
  const base = prefix.replace(/\/+$/, '');
  let files = 0;
  let bytes = 0;
  try {
    if (base.length > 0) cartridge.createDir(base, { recursive: true });
    for (let start = 0; start < entries.length;) {
      let batchBytes = 0;
      let end = start;
      cartridge.transaction(() => {
        while (
          end < entries.length &&
          end - start < IMPORT_BATCH_ENTRIES &&
          batchBytes < IMPORT_BATCH_BYTES
        ) {
          const entry = entries[end] as HostEntry;
          const path = `${base}${entry.relative}`;
          if (entry.directory) cartridge.createDir(path, { recursive: true });
          else {
            const content = readFileSync(join(root, entry.relative));
            cartridge.writeFile(path, content, { create: true });
            files++;
            bytes += content.length;
            batchBytes += content.length;
          }
          end++;
        }
      });
      progress.advance(end - start);
      start = end;
    }
  } finally {
    progress.stop();
  }
  return { files, directories: entries.length - files, bytes };
}

export const registerTransferCommands: CommandRegistrar = (program, context) => {
  program
    .command('import')
    .description('copy a host directory into the cartridge (created if missing)')
    .argument('<cartridge>')
    .argument('<directory>', 'the host directory')
    .option('--to <path>', 'where in the cartridge', '/')
    .action((cartridgePath: string, directory: string, options: { to: string }) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        const result = importTree(cartridge, directory, options.to, !output.json);
        output.result({ ...result, head: cartridge.head }, () =>
          output.line(summary('imported', result)),
        );
      });
    });

  const exportAction =
    (atRequired: boolean) =>
    (cartridgePath: string, directory: string, options: { at?: string; from: string }) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'read', (cartridge) => {
        if (atRequired && options.at === undefined) throw new Error('--at is required');
        const source: TreeSource =
          options.at === undefined ? cartridge : cartridge.checkout(targetOf(options.at));
        const result = exportTree(source, options.from, directory, !output.json);
        output.result({ ...result, at: options.at ?? null }, () =>
          output.line(summary('exported', result)),
        );
      });
    };

  program
    .command('export')
    .description('copy a cartridge tree out to a host directory, now or as it was')
    .argument('<cartridge>')
    .argument('<directory>', 'the host directory (created if missing)')
    .option('--at <target>', 'a journal offset, a snapshot name or a date')
    .option('--from <path>', 'the subtree to export', '/')
    .action(exportAction(false));

  program
    .command('checkout')
    .description('write the state at a past position into a host directory')
    .argument('<cartridge>')
    .argument('<directory>')
    .requiredOption('--at <target>', 'a journal offset, a snapshot name or a date')
    .option('--from <path>', 'the subtree to check out', '/')
    .action(exportAction(true));
};
