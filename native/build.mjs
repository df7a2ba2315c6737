// Builds the native addons (native/cartridge-aead.c, native/cartridge-blake3.c,
// native/cartridge-crc32c.c, native/cartridge-lz4.c, native/cartridge-mapped-file.c,
// native/cartridge-path-watch.c) with node-gyp; `npm install` runs it. It never fails the
// install: on a machine without a C compiler (or without Node's headers) Cartridge seals records
// with node:crypto, hashes small inputs with WebAssembly, computes CRC32C with @node-rs/crc32,
// writes consolidated runs with zstd instead of LZ4, writes commits with pwritev instead of a
// mapping and checks its file with a stat per commit, which give the same bytes, only slower.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const directory = dirname(fileURLToPath(import.meta.url));
// npm names its own node-gyp to the scripts it runs; outside npm, the one on the PATH.
const nodeGyp = process.env.npm_config_node_gyp;
const command = nodeGyp === undefined ? 'node-gyp' : process.execPath;
const args = nodeGyp === undefined ? ['rebuild'] : [nodeGyp, 'rebuild'];
const result = spawnSync(command, args, { cwd: directory, encoding: 'utf8' });
if (result.status === 0) {
  process.stdout.write('cartridge-vfs: native addons built (AEAD, BLAKE3, CRC32C, LZ4, mapped writes, path watch)\n');
} else {
  const reason = result.error?.message ?? `node-gyp exited with ${result.status}`;
  process.stdout.write(
    `cartridge-vfs: native addons not built (${reason}); node:crypto seals, WebAssembly hashes, @node-rs/crc32 checksums, zstd packs log runs, commits are written with pwritev and the file is checked with stat instead\n`,
  );
}

// The V8 code caches of the engine and the CLI (ARCHITECTURE 77) are made by the Node.js that
// will read them, here, once the addons they call are in place. The project's own checkout has
// no `dist/` yet at this point (`npm run build` writes the caches there); an installed package
// has it. A cache that is not written only means functions compile as they first run.
const cacheWriter = join(dirname(directory), 'dist', 'engine', 'write-code-cache.mjs');
if (existsSync(cacheWriter)) {
  const written = spawnSync(process.execPath, [cacheWriter], { encoding: 'utf8' });
  process.stdout.write(
    written.stdout || `cartridge-vfs: code caches not written (exit ${written.status})\n`,
  );
}
