import { CartridgeError } from '../../errors.js';
import type { CommandContext, CommandRegistrar } from '../program.js';

/**
 * Erasure inside immutable history: `redact` (the content of versions of a path) and `shred`
 * (the data keys of a subject). Both are administrative and durable when they return.
 */

/** `past`, `all`, or journal offsets separated by commas, as `log` and `history` print them. */
function versionsOf(text: string): 'past' | 'all' | number[] {
  if (text === 'past' || text === 'all') return text;
  const offsets = text.split(',').map((part) => Number(part.trim()));
  if (offsets.length === 0 || !offsets.every((offset) => Number.isSafeInteger(offset))) {
    throw new CartridgeError(
      'INVALID_ARGUMENT',
      `--versions must be past, all or offsets separated by commas, not ${text}`,
    );
  }
  return offsets;
}

export const registerErasureCommands: CommandRegistrar = (
  program,
  context: () => CommandContext,
) => {
  program
    .command('redact')
    .description('remove the content of versions of a file from the cartridge (history stays)')
    .argument('<cartridge>')
    .argument('<path>')
    .option('--versions <which>', 'past (the default), all, or offsets separated by commas', 'past')
    .action((cartridgePath: string, path: string, options: { versions: string }) => {
      const { output, withCartridge } = context();
      const versions = versionsOf(options.versions);
      withCartridge(cartridgePath, 'write', (cartridge) => {
        const result = cartridge.redact(path, { versions });
        output.result(result, () =>
          output.line(
            `redacted ${result.versionsRedacted} versions of ${path}: ` +
              `${result.recordsErased} records, ${result.bytesErased} bytes erased`,
          ),
        );
      });
    });

  program
    .command('shred')
    .description("destroy a subject's data keys: all its content becomes unreadable")
    .argument('<cartridge>')
    .argument('<subject>', 'the subject path, as `redact` and the API name it (/calls/jane)')
    .action((cartridgePath: string, subject: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'write', (cartridge) => {
        const result = cartridge.shred(subject);
        output.result(result, () =>
          output.line(`shredded ${result.keysShredded} keys of ${subject}`),
        );
      });
    });
};
