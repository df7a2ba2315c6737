import { Cartridge, CartridgeError } from '../../src/index.js';
import { emitLine } from './emit-line.js';

/**
 * A change-stream reader in a process of its own: `stream-child.ts <cartridge> <from>` opens
 * the cartridge read-only, subscribes to `changes({ from })` (`from` is `start`, `now` or a
 * resume token) and prints one line per event: `event <type> <path> <token>`, or
 * `error <code> <token>` when the stream fails. It runs until killed. Lines are written
 * synchronously, so a line printed is an event received.
 */


const [path, from] = process.argv.slice(2) as [string, string];
const reader = Cartridge.open(path, { readOnly: true });
reader.changes({ from }).subscribe({
  next: (event) => emitLine(`event ${event.type} ${event.path ?? '-'} ${event.token}`),
  error: (error: unknown) => {
    const code = error instanceof CartridgeError ? error.code : String(error);
    const token = error instanceof CartridgeError ? (error.token ?? '-') : '-';
    emitLine(`error ${code} ${token}`);
  },
});
emitLine('subscribed');
