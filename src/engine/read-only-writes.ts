import { CartridgeError } from '../errors.js';

/**
 * The write calls of the cartridge API on a reader that cannot be written: a checked-out view,
 * an Engram archive. They exist so that code written against a cartridge meets a typed
 * `READ_ONLY` rather than "is not a function", and they live here once so that every
 * read-only reader refuses the same calls the same way.
 */
export abstract class ReadOnlyWrites {
  /** What the refusal calls the reader ("a checked-out view"). */
  protected abstract readonly readOnlyName: string;

  createFile(_path: string, _content: unknown): never {
    throw this.refuseWrite();
  }

  writeFile(_path: string, _content: unknown, _options?: unknown): never {
    throw this.refuseWrite();
  }

  appendFile(_path: string, _content: unknown): never {
    throw this.refuseWrite();
  }

  deleteFile(_path: string): never {
    throw this.refuseWrite();
  }

  createDir(_path: string, _options?: unknown): never {
    throw this.refuseWrite();
  }

  rename(_from: string, _to: string): never {
    throw this.refuseWrite();
  }

  protected refuseWrite(): CartridgeError {
    return new CartridgeError('READ_ONLY', `${this.readOnlyName} is read-only`);
  }
}
