import { Cartridge } from '../../src/index.js';
import { HASH_IMPLEMENTATION } from '../../src/journal/hashing.js';

/**
 * Runs with `CARTRIDGE_PORTABLE_HASH=1` (the BLAKE3 fallback of platforms without the native
 * binding): `portable-hash-child.ts <cartridge> create|verify`. `create` writes a small tree
 * with a checkpoint and a snapshot; `verify` opens the file and verifies it. Prints one JSON
 * line: the implementation used, the verify report's `ok` and head hash, and a file's content.
 */
const [path, mode] = process.argv.slice(2);
if (path === undefined || (mode !== 'create' && mode !== 'verify')) process.exit(2);
let cartridge: Cartridge;
if (mode === 'create') {
  cartridge = Cartridge.create(path);
  cartridge.createFile('/a/one.txt', 'one');
  cartridge.createFile('/a/big.bin', Buffer.alloc(200_000, 7));
  cartridge.checkpoint();
  cartridge.createSnapshot('first');
  cartridge.appendFile('/a/one.txt', ' and more');
} else {
  cartridge = Cartridge.open(path);
}
const report = cartridge.verify();
const content = cartridge.readFile('/a/one.txt').toString();
cartridge.close();
process.stdout.write(
  `${JSON.stringify({ implementation: HASH_IMPLEMENTATION, ok: report.ok, headHash: report.headHash, content })}\n`,
);
