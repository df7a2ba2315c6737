import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cartridge } from '../../src/index.js';
import type { PeerDurability, PeerStore } from './peer-store.js';

/**
 * Cartridge through the same operations: `writeFile` for a put (one commit each), `readFile`
 * for a get, one `transaction()` of `writeFile`s for a batch. Keys become paths under 256
 * directories (`/entries/<2 hex digits>/<key>`), which is how an application would lay out many
 * entries. Durability is the engine's own `'off'`, `'normal'` or `'full'`, chosen to match the
 * peer it is compared with; compression is the default. Without a directory it opens
 * `Cartridge.memory()`, for the comparison with memfs; a directory that already holds the
 * cartridge opens it again (the cold-read figures).
 */
export function openCartridgePeer(
  directory: string | undefined,
  durability: PeerDurability,
): PeerStore & { readonly cartridge: Cartridge } {
  if (directory === undefined) {
    return cartridgeStore(Cartridge.memory({ durability }), durability, false);
  }
  const path = join(directory, 'peer.cart');
  if (existsSync(path))
    return cartridgeStore(Cartridge.open(path, { durability }), durability, true);
  return cartridgeStore(Cartridge.create(path, { durability }), durability, false);
}

export function cartridgePathOf(key: string): string {
  let hash = 0;
  for (let index = 0; index < key.length; index++)
    hash = (hash * 31 + key.charCodeAt(index)) & 0xff;
  return `/entries/${hash.toString(16).padStart(2, '0')}/${key.replaceAll('/', '_')}`;
}

function cartridgeStore(
  cartridge: Cartridge,
  durability: PeerDurability,
  reopened: boolean,
): PeerStore & { readonly cartridge: Cartridge } {
  // Cartridge separates creating a file from overwriting one, where a key-value put does not
  // care; the adapter remembers the paths it has written, as an application keeping records in
  // files would know which it has made. Only a reopened store has paths it did not write in
  // this process, and only there does a put of an unknown path pay for an `exists` first.
  const written = new Set<string>();
  const write = (path: string, bytes: Buffer): void => {
    if (written.has(path) || (reopened && cartridge.exists(path))) cartridge.writeFile(path, bytes);
    else cartridge.createFile(path, bytes);
    written.add(path);
  };
  const put = (key: string, bytes: Buffer): number => {
    write(cartridgePathOf(key), bytes);
    return cartridge.head;
  };
  return {
    name: 'cartridge',
    configuration: `Cartridge writeFile/readFile/transaction, durability ${durability}`,
    cartridge,
    put,
    get: (key) => cartridge.readFile(cartridgePathOf(key)),
    putBatch: (keys, values) => {
      cartridge.transaction(() => {
        keys.forEach((key, index) => {
          write(cartridgePathOf(key), values[index] as Buffer);
        });
      });
      return cartridge.head;
    },
    close: () => {
      const background = cartridge.lastBackgroundError;
      cartridge.close();
      if (background !== undefined) throw background;
    },
  };
}
