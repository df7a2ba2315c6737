/**
 * The `is*()` questions that `fs.Stats` and `fs.Dirent` both answer, asked once here. A
 * cartridge holds files and directories only: no links, devices, FIFOs or sockets, so an entry
 * is a file exactly when it is not a directory.
 */
export abstract class EntryTypeChecks {
  abstract isDirectory(): boolean;

  isFile(): boolean {
    return !this.isDirectory();
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
