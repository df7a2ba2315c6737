import { CartridgeError } from '../errors.js';
import type { Cartridge } from './cartridge.js';
import type { Storage } from '../journal/io/storage.js';
import type { CartridgeOptions } from './options.js';

/**
 * `Cartridge.repair(path)`: what to do with a cartridge that does not open cleanly.
 *
 * - A clean file is left alone.
 * - A torn tail (the end of an unfinished or unsynced commit, which no caller was told had
 *   committed) is cut, as a writable open does.
 * - Damage inside the durable journal is never repaired in place: the damaged original stays
 *   as it is (evidence, and a second chance with better tools), and everything of the valid
 *   prefix (every file and directory as of the last whole commit before the damage, and the
 *   policy) is copied into a new cartridge. The records after the damage cannot be linked to
 *   the hash chain, so they are reported, not trusted.
 */

export interface RepairOptions extends CartridgeOptions {
  /** Where a salvaged copy goes; default `<path>.repaired.cart`. It must not exist. */
  readonly outputPath?: string;
}

export interface RepairReport {
  /** `'none'`: the file was clean; `'tail-cut'`: a torn tail was cut; `'salvaged'`: copied. */
  readonly action: 'none' | 'tail-cut' | 'salvaged';
  readonly path: string;
  /** The salvaged copy, for `'salvaged'`; null otherwise. */
  readonly outputPath: string | null;
  /** Where the valid journal of the original ends. */
  readonly validEndOffset: number;
  readonly damageOffset: number | null;
  readonly damageReason: string | null;
  /** Bytes of the original after its valid journal (cut, or left behind by the salvage). */
  readonly droppedBytes: number;
  readonly filesSalvaged: number;
  readonly directoriesSalvaged: number;
  readonly bytesSalvaged: number;
}

/** What repair needs of the Cartridge class (passed in, so this file does not import it). */
export interface CartridgeFactory {
  open(path: string, options?: CartridgeOptions): Cartridge;
  create(path: string, options?: CartridgeOptions): Cartridge;
}

export function repairCartridge(
  factory: CartridgeFactory,
  storage: Storage,
  path: string,
  options: RepairOptions = {},
): RepairReport {
  const { outputPath: requestedOutput, ...openOptions } = options;
  const inspected = factory.open(path, {
    ...openOptions,
    readOnly: true,
    recovery: 'read-only-prefix',
  });
  const recovery = inspected.recovery;
  const base = {
    path,
    validEndOffset: recovery.validEndOffset,
    damageOffset: recovery.damageOffset,
    damageReason: recovery.damageReason,
    droppedBytes: recovery.droppedBytes,
  };
  if (recovery.decision !== 'fail-corrupt') {
    inspected.close();
    if (recovery.decision === 'accept') {
      return { ...base, action: 'none', outputPath: null, ...NOTHING_SALVAGED };
    }
    // A writable open cuts the torn tail (and syncs the cut) as part of its recovery.
    factory.open(path, { ...openOptions, readOnly: false }).close();
    return { ...base, action: 'tail-cut', outputPath: null, ...NOTHING_SALVAGED };
  }
  const outputPath = requestedOutput ?? `${path}.repaired.cart`;
  try {
    if (outputPath === path) {
      throw new CartridgeError('INVALID_ARGUMENT', 'repair never writes over the damaged file');
    }
    const counts = salvage(factory, storage, inspected, outputPath, openOptions);
    return { ...base, action: 'salvaged', outputPath, ...counts };
  } finally {
    inspected.close();
  }
}

const NOTHING_SALVAGED = { filesSalvaged: 0, directoriesSalvaged: 0, bytesSalvaged: 0 };

function salvage(
  factory: CartridgeFactory,
  storage: Storage,
  source: Cartridge,
  outputPath: string,
  options: CartridgeOptions,
): { filesSalvaged: number; directoriesSalvaged: number; bytesSalvaged: number } {
  if (storage.exists(outputPath)) {
    throw new CartridgeError('EEXIST', `${outputPath} exists: repair writes only new files`, {
      path: outputPath,
    });
  }
  const target = factory.create(outputPath, { ...options, readOnly: false });
  let filesSalvaged = 0;
  let directoriesSalvaged = 0;
  let bytesSalvaged = 0;
  try {
    const copy = (directory: string): void => {
      for (const name of source.listDir(directory)) {
        const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
        if (source.metadata(path).type === 'directory') {
          target.createDir(path);
          directoriesSalvaged++;
          copy(path);
        } else {
          const content = source.readFile(path);
          target.createFile(path, content);
          filesSalvaged++;
          bytesSalvaged += content.length;
        }
      }
    };
    target.transaction(() => copy('/'));
    const policy = source.policy();
    if (policy !== null) target.setPolicy(policy);
    target.flush();
  } finally {
    target.close();
  }
  return { filesSalvaged, directoriesSalvaged, bytesSalvaged };
}
