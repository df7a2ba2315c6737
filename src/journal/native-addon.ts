import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Loads one of the addons that `npm install` builds from `native/` into `native/build/Release`
 * (see `native/build.mjs`), or returns null: not built (no C compiler on this machine), or
 * turned off by its environment variable. Every addon only makes something faster that
 * JavaScript also does, with the same bytes, so a missing one is never an error. The addons are
 * found from the package's own root, which is the same for the sources run by tsx and for the
 * built `dist/`.
 */
export function loadNativeAddon<Binding>(fileName: string, disabled: boolean): Binding | null {
  if (disabled) return null;
  try {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('cartridge-vfs/package.json'));
    return require(join(root, 'native', 'build', 'Release', fileName)) as Binding;
  } catch {
    // Not built: the JavaScript path does the work.
    return null;
  }
}

/**
 * An addon that says whether this platform has what it wraps (`available`: the CPU
 * instruction, the system calls), loaded as `loadNativeAddon` does; undefined when it is not
 * built, turned off, or has nothing here.
 */
export function loadPlatformAddon<Binding extends { readonly available: boolean }>(
  fileName: string,
  disabled: boolean,
): Binding | undefined {
  const addon = loadNativeAddon<Binding>(fileName, disabled);
  return addon?.available === true ? addon : undefined;
}
