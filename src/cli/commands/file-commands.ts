import { readFileSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Cartridge } from '../../engine/cartridge.js';
import type { CommandRegistrar } from '../program.js';

/**
 * Commands on single entries: `init`, `info`, `ls`, `cat`, `put`, `get`, `rm`, `mkdir`, `mv`.
 * Paths inside the cartridge are absolute (`/calls/1.json`); files on the host are named as
 * the shell names them. `-` reads from stdin or writes to stdout.
 */

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function joinPath(directory: string, name: string): string {
  return directory === '/' ? `/${name}` : `${directory.replace(/\/+$/, '')}/${name}`;
}

export const registerFileCommands: CommandRegistrar = (program, context) => {
  program
    .command('init')
    .description('create a new, empty cartridge file')
    .argument('<cartridge>', 'the cartridge file to create')
    .option('--durability <mode>', "'full', 'normal' or 'off'", 'normal')
    .action((path: string, options: { durability: 'full' | 'normal' | 'off' }) => {
      const { output, keyOptions } = context();
      // With --key-file, the new cartridge is encrypted with that key.
      const cartridge = Cartridge.create(path, { durability: options.durability, ...keyOptions() });
      const id = cartridge.cartridgeId;
      cartridge.close();
      output.result({ path, cartridgeId: id }, () => output.line(`created ${path} (${id})`));
    });

  program
    .command('info')
    .description('what a cartridge holds: files, sizes, head, snapshots')
    .argument('<cartridge>')
    .action((path: string) => {
      const { output, withCartridge } = context();
      withCartridge(path, 'read', (cartridge) => {
        const stats = cartridge.stats();
        const snapshots = cartridge.listSnapshots().length;
        const info = {
          path,
          cartridgeId: cartridge.cartridgeId,
          snapshots,
          ...stats,
        };
        output.result(info, () =>
          output.table(
            ['field', 'value'],
            Object.entries(info).filter(([, value]) => typeof value !== 'object'),
          ),
        );
      });
    });

  program
    .command('ls')
    .description('list a directory')
    .argument('<cartridge>')
    .argument('[path]', 'the directory', '/')
    .option('-l, --long', 'with type, size and modification time')
    .option('-R, --recursive', 'the whole subtree')
    .action(
      (cartridgePath: string, path: string, options: { long?: boolean; recursive?: boolean }) => {
        const { output, withCartridge } = context();
        withCartridge(cartridgePath, 'read', (cartridge) => {
          const rows: { path: string; type: string; sizeBytes: number; modified: string }[] = [];
          const visit = (directory: string, prefix: string): void => {
            for (const name of cartridge.listDir(directory)) {
              const child = joinPath(directory, name);
              const metadata = cartridge.metadata(child);
              rows.push({
                path: prefix + name,
                type: metadata.type,
                sizeBytes: metadata.sizeBytes,
                modified: new Date(metadata.modifiedAtMs).toISOString(),
              });
              if (options.recursive === true && metadata.type === 'directory') {
                visit(child, `${prefix}${name}/`);
              }
            }
          };
          visit(path, '');
          output.result(rows, () => {
            if (options.long === true) {
              output.table(
                ['type', 'size', 'modified', 'name'],
                rows.map((row) => [
                  row.type === 'directory' ? 'd' : '-',
                  row.sizeBytes,
                  row.modified,
                  row.path,
                ]),
              );
            } else {
              for (const row of rows)
                output.line(row.type === 'directory' ? `${row.path}/` : row.path);
            }
          });
        });
      },
    );

  program
    .command('cat')
    .description("print a file's content")
    .argument('<cartridge>')
    .argument('<path>')
    .action((cartridgePath: string, path: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'read', (cartridge) => {
        const content = cartridge.readFile(path);
        output.result({ path, content: content.toString('base64') }, () => output.bytes(content));
      });
    });

  program
    .command('put')
    .description('store a host file (or stdin) at a path; creates or replaces it')
    .argument('<cartridge>')
    .argument('<path>', 'where in the cartridge')
    .argument('[source]', "the host file; '-' or nothing reads stdin", '-')
    .action(async (cartridgePath: string, path: string, source: string) => {
      const { output, withCartridge, console } = context();
      const content = source === '-' ? await readAll(console.stdin) : readFileSync(source);
      withCartridge(cartridgePath, 'write', (cartridge) => {
        cartridge.writeFile(path, content, { create: true });
        output.result({ path, sizeBytes: content.length, head: cartridge.head }, () =>
          output.line(`stored ${path} (${content.length} bytes)`),
        );
      });
    });

  program
    .command('get')
    .description('copy a file out to the host (or stdout)')
    .argument('<cartridge>')
    .argument('<path>')
    .argument('[destination]', "the host file; '-' or nothing writes stdout", '-')
    .action((cartridgePath: string, path: string, destination: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'read', (cartridge) => {
        const content = cartridge.readFile(path);
        if (destination === '-') output.bytes(content);
        else {
          writeFileSync(destination, content);
          output.result({ path, destination, sizeBytes: content.length }, () =>
            output.line(`wrote ${destination} (${content.length} bytes)`),
          );
        }
      });
    });

  program
    .command('rm')
    .description('remove a file or an empty directory (-r: a whole subtree, in one commit)')
    .argument('<cartridge>')
    .argument('<path>')
    .option('-r, --recursive', 'remove a directory and everything below it')
    .option('-f, --force', 'nothing to remove is not an error')
    .action(
      (cartridgePath: string, path: string, options: { recursive?: boolean; force?: boolean }) => {
        const { output, withCartridge } = context();
        withCartridge(cartridgePath, 'write', (cartridge) => {
          cartridge.fs.rmSync(path, {
            recursive: options.recursive === true,
            force: options.force === true,
          });
          output.result({ removed: path, head: cartridge.head }, () =>
            output.line(`removed ${path}`),
          );
        });
      },
    );

  program
    .command('mkdir')
    .description('create a directory')
    .argument('<cartridge>')
    .argument('<path>')
    .option('-p, --parents', 'create missing parents; an existing directory is not an error')
    .action((cartridgePath: string, path: string, options: { parents?: boolean }) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        cartridge.createDir(path, { recursive: options.parents === true });
        output.result({ created: path }, () => output.line(`created ${path}/`));
      });
    });

  program
    .command('mv')
    .description('rename a file or a directory with its subtree, in one commit')
    .argument('<cartridge>')
    .argument('<from>')
    .argument('<to>')
    .action((cartridgePath: string, from: string, to: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        cartridge.fs.renameSync(from, to);
        output.result({ from, to, head: cartridge.head }, () => output.line(`${from} -> ${to}`));
      });
    });
};
