import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Cartridge } from '../../engine/cartridge.js';
import { Engram } from '../../engram/reader.js';
import type { EngramCompression } from '../../engram/entry-codec.js';
import { EXIT_CHECK_FAILED } from '../exit-codes.js';
import type { CommandRegistrar } from '../program.js';
import { progressBar } from '../progress.js';
import { targetOf } from '../targets.js';

/**
 * Engram archives: `freeze` writes a state of the cartridge (now or at `--at`) into a signed
 * Engram v1 archive; `engram ls|cat|verify|thaw` read archives (ours or engram-rs's).
 */

/** An Ed25519 private key from a file: PEM, or a raw 32-byte seed. */
function signingKeyFrom(file: string): Buffer | KeyObject {
  const bytes = readFileSync(file);
  return bytes.includes('-----BEGIN') ? createPrivateKey(bytes) : bytes;
}

/** An Ed25519 public key from a file: PEM, or its 32 raw bytes. */
function publicKeyFrom(file: string): Buffer | KeyObject {
  const bytes = readFileSync(file);
  return bytes.includes('-----BEGIN') ? createPublicKey(bytes) : bytes;
}

export const registerEngramCommands: CommandRegistrar = (program, context) => {
  program
    .command('freeze')
    .description('write the cartridge (now or as it was) into an Engram v1 archive')
    .argument('<cartridge>')
    .argument('<archive>', 'the .eng file to write (written whole, or not at all)')
    .requiredOption('--name <name>', "the archive's name")
    .option('--version <version>', "the package's version", '1.0.0')
    .requiredOption('--author <author>', 'who made it')
    .option('--description <text>', 'what it holds')
    .option('--compression <codec>', "'auto', 'zstd', 'lz4' or 'none'", 'auto')
    .option('--signing-key <file>', 'sign the manifest with an Ed25519 key (PEM or 32-byte seed)')
    .option('--at <position>', 'freeze the state at an offset, a snapshot name or a date')
    .action(
      (
        cartridgePath: string,
        archivePath: string,
        options: {
          name: string;
          version: string;
          author: string;
          description?: string;
          compression: EngramCompression;
          signingKey?: string;
          at?: string;
        },
      ) => {
        const { output, withCartridge } = context();
        withCartridge(cartridgePath, 'read', (cartridge) => {
          let bar: ReturnType<typeof progressBar> | undefined;
          let done = 0;
          const result = cartridge.freeze(archivePath, {
            name: options.name,
            version: options.version,
            author: options.author,
            compression: options.compression,
            ...(options.description === undefined ? {} : { description: options.description }),
            ...(options.signingKey === undefined
              ? {}
              : { signingKey: signingKeyFrom(options.signingKey) }),
            ...(options.at === undefined ? {} : { at: targetOf(options.at) }),
            onProgress: (progress) => {
              bar ??= progressBar('freeze', progress.bytesTotal, !output.json);
              bar.advance(progress.bytesDone - done);
              done = progress.bytesDone;
            },
          });
          bar?.stop();
          const size = `${result.archiveSizeBytes} bytes`;
          output.result(result, () =>
            output.line(`froze ${result.fileCount} files into ${result.path} (${size})`),
          );
        });
      },
    );

  const engram = program.command('engram').description('read Engram archives');
  engram
    .command('ls')
    .description('the entries of an archive')
    .argument('<archive>')
    .action((archivePath: string) => {
      const { output } = context();
      const archive = Engram.open(archivePath);
      try {
        const entries = archive.list();
        output.result(entries, () =>
          output.table(
            ['size', 'stored', 'codec', 'path'],
            entries.map((entry) => [
              entry.sizeBytes,
              entry.compressedSizeBytes,
              entry.compression,
              entry.path,
            ]),
          ),
        );
      } finally {
        archive.close();
      }
    });
  engram
    .command('cat')
    .description("print an entry's content (its CRC is checked)")
    .argument('<archive>')
    .argument('<path>')
    .action((archivePath: string, path: string) => {
      const { output } = context();
      const archive = Engram.open(archivePath);
      try {
        const content = archive.readFile(path);
        output.result({ path, content: content.toString('base64') }, () => output.bytes(content));
      } finally {
        archive.close();
      }
    });
  engram
    .command('verify')
    .description('check every entry and the manifest signatures (exit 4 when anything fails)')
    .argument('<archive>')
    .option('--public-key <file>', 'an Ed25519 public key (PEM): is it among the signers?')
    .action((archivePath: string, options: { publicKey?: string }) => {
      const { output, setExitCode } = context();
      const archive = Engram.open(archivePath);
      try {
        const report = archive.verify(
          options.publicKey === undefined ? undefined : publicKeyFrom(options.publicKey),
        );
        output.result(report, () =>
          output.table(
            ['field', 'value'],
            Object.entries(report).map(([field, value]) => [
              field,
              typeof value === 'object' && value !== null ? JSON.stringify(value) : value,
            ]),
          ),
        );
        const bad =
          report.manifestError !== null ||
          report.fileMismatches.length > 0 ||
          report.signatures.some((signature) => !signature.valid) ||
          report.trusted === false;
        if (bad) setExitCode(EXIT_CHECK_FAILED);
      } finally {
        archive.close();
      }
    });
  engram
    .command('thaw')
    .description('turn an archive into a new cartridge')
    .argument('<archive>')
    .argument('<cartridge>', 'the cartridge file to create')
    .action((archivePath: string, cartridgePath: string) => {
      const { output } = context();
      const cartridge = Cartridge.fromEngram(archivePath, cartridgePath);
      const stats = cartridge.stats();
      cartridge.close();
      output.result({ cartridge: cartridgePath, fileCount: stats.fileCount }, () =>
        output.line(`thawed ${archivePath} into ${cartridgePath} (${stats.fileCount} files)`),
      );
    });
};
