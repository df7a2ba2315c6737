import type { CartridgeFs } from './cartridge-fs.js';

/**
 * `fs.promises` for the facade: the same operations as promises. The engine is synchronous
 * (a commit returns once its bytes are written), so each one runs at once and its promise
 * settles with its result or its error; an error never escapes as a synchronous throw.
 */
type Method = (...args: never[]) => unknown;
type Promised<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;

/** Each promise method and the synchronous method it runs: the one list to extend. */
const SYNCHRONOUS_METHODS = {
  readFile: 'readFileSync',
  writeFile: 'writeFileSync',
  appendFile: 'appendFileSync',
  access: 'accessSync',
  stat: 'statSync',
  lstat: 'lstatSync',
  readdir: 'readdirSync',
  mkdir: 'mkdirSync',
  rm: 'rmSync',
  rmdir: 'rmdirSync',
  unlink: 'unlinkSync',
  rename: 'renameSync',
  copyFile: 'copyFileSync',
} as const satisfies Record<string, keyof CartridgeFs>;

type SynchronousMethods = typeof SYNCHRONOUS_METHODS;

export type FsPromises = {
  readonly [Name in keyof SynchronousMethods]: Promised<CartridgeFs[SynchronousMethods[Name]]>;
};

export function createFsPromises(fs: CartridgeFs): FsPromises {
  const methods: Record<string, unknown> = {};
  for (const [name, synchronous] of Object.entries(SYNCHRONOUS_METHODS)) {
    const method = fs[synchronous] as Method;
    methods[name] = (...args: never[]) =>
      new Promise((resolve) => resolve(method.apply(fs, args)));
  }
  return Object.freeze(methods) as FsPromises;
}
