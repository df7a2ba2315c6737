import { createHash } from 'node:crypto';
import { Cartridge } from '../../src/index.js';
import { LZ4_DECODER_IMPLEMENTATION } from '../../src/journal/native-lz4.js';

/**
 * Runs with or without the LZ4 addon (`CARTRIDGE_NATIVE_LZ4=0` turns it off):
 * `log-child.ts <cartridge> create|read <lines>`. `create` appends `lines` audit lines, each its
 * own commit, so that their runs are consolidated; `read` opens the file and reads the log.
 * Prints one JSON line: the LZ4 decoder used, and the SHA-256 and length of the log read back.
 */
const [path, mode, lines] = process.argv.slice(2);
if (path === undefined || (mode !== 'create' && mode !== 'read') || lines === undefined) {
  process.exit(2);
}
const cartridge = mode === 'create' ? Cartridge.create(path) : Cartridge.open(path);
if (mode === 'create') {
  cartridge.createFile('/audit.log', '');
  for (let index = 0; index < Number(lines); index++) {
    cartridge.appendFile('/audit.log', `{"call":${index},"agent":"agent-${index % 31}"}\n`);
  }
}
const log = cartridge.readFile('/audit.log');
cartridge.close();
process.stdout.write(
  `${JSON.stringify({
    decoder: LZ4_DECODER_IMPLEMENTATION,
    sha256: createHash('sha256').update(log).digest('hex'),
    lengthBytes: log.length,
  })}\n`,
);
