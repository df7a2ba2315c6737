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
