import { EntryTypeChecks } from './entry-type-checks.js';

/**
 * What `readdirSync(path, { withFileTypes: true })` returns for each entry, shaped like
 * `fs.Dirent`: the name, the directory it was listed from, and what kind of entry it is.
 */
export class DirectoryEntry extends EntryTypeChecks {
  constructor(
    readonly name: string,
    readonly parentPath: string,
    private readonly directory: boolean,
  ) {
    super();
  }

  /** The older name of `parentPath`, which Node still offers. */
  get path(): string {
    return this.parentPath;
  }

  isDirectory(): boolean {
    return this.directory;
  }
}
