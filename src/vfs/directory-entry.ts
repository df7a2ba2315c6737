/**
 * What `readdirSync(path, { withFileTypes: true })` returns for each entry, shaped like
 * `fs.Dirent`: the name, the directory it was listed from, and what kind of entry it is.
 */
export class DirectoryEntry {
  constructor(
    readonly name: string,
    readonly parentPath: string,
    private readonly directory: boolean,
  ) {}

  /** The older name of `parentPath`, which Node still offers. */
  get path(): string {
    return this.parentPath;
  }

  isFile(): boolean {
    return !this.directory;
  }

  isDirectory(): boolean {
    return this.directory;
  }

  isSymbolicLink(): boolean {
    return false;
  }

  isBlockDevice(): boolean {
    return false;
  }

  isCharacterDevice(): boolean {
    return false;
  }

  isFIFO(): boolean {
    return false;
  }

  isSocket(): boolean {
    return false;
  }
}
