import type { CartridgeFs } from './cartridge-fs.js';

/**
 * `fs.promises` for the facade: the same operations as promises. The engine is synchronous
 * (a commit returns once its bytes are written), so each one runs at once and its promise
 * settles with its result or its error; an error never escapes as a synchronous throw.
 */
type Method = (...args: never[]) => unknown;
type Promised<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;

function promised<F extends Method>(fs: CartridgeFs, method: F): Promised<F> {
  return ((...args: Parameters<F>) =>
    new Promise((resolve) => resolve(method.apply(fs, args)))) as Promised<F>;
}

export class FsPromises {
  readonly readFile: Promised<CartridgeFs['readFileSync']>;
  readonly writeFile: Promised<CartridgeFs['writeFileSync']>;
  readonly appendFile: Promised<CartridgeFs['appendFileSync']>;
  readonly access: Promised<CartridgeFs['accessSync']>;
  readonly stat: Promised<CartridgeFs['statSync']>;
  readonly lstat: Promised<CartridgeFs['lstatSync']>;
  readonly readdir: Promised<CartridgeFs['readdirSync']>;
  readonly mkdir: Promised<CartridgeFs['mkdirSync']>;
  readonly rm: Promised<CartridgeFs['rmSync']>;
  readonly rmdir: Promised<CartridgeFs['rmdirSync']>;
  readonly unlink: Promised<CartridgeFs['unlinkSync']>;
  readonly rename: Promised<CartridgeFs['renameSync']>;
  readonly copyFile: Promised<CartridgeFs['copyFileSync']>;

  constructor(fs: CartridgeFs) {
    this.readFile = promised(fs, fs.readFileSync);
    this.writeFile = promised(fs, fs.writeFileSync);
    this.appendFile = promised(fs, fs.appendFileSync);
    this.access = promised(fs, fs.accessSync);
    this.stat = promised(fs, fs.statSync);
    this.lstat = promised(fs, fs.lstatSync);
    this.readdir = promised(fs, fs.readdirSync);
    this.mkdir = promised(fs, fs.mkdirSync);
    this.rm = promised(fs, fs.rmSync);
    this.rmdir = promised(fs, fs.rmdirSync);
    this.unlink = promised(fs, fs.unlinkSync);
    this.rename = promised(fs, fs.renameSync);
    this.copyFile = promised(fs, fs.copyFileSync);
  }
}
