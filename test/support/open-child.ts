import { Cartridge, CartridgeError } from '../../src/index.js';

/**
 * `open-child.ts <create|open|open-read-only> <path>`: one open in a process of its own, for
 * tests whose failure mode is a hang (a blocking open of a FIFO cannot be interrupted from
 * inside the process). Prints the CartridgeError code, `opened`, or `untyped <message>`.
 */
const [action, path] = process.argv.slice(2);
if (path === undefined) throw new Error('usage: open-child.ts <action> <path>');
try {
  const cartridge =
    action === 'create'
      ? Cartridge.create(path)
      : Cartridge.open(path, { readOnly: action === 'open-read-only' });
  cartridge.close();
  process.stdout.write('opened\n');
} catch (error) {
  const code = error instanceof CartridgeError ? error.code : `untyped ${String(error)}`;
  process.stdout.write(`${code}\n`);
}
