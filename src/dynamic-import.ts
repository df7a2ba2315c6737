/**
 * `import()` for the engine's few modules loaded on first use (the SQLite WebAssembly module).
 *
 * Run from its ES modules, the engine imports them itself. Run from the package's bundle
 * through `vm.Script` (ARCHITECTURE 77), an `import()` inside the script would need either a
 * Node.js flag (`--experimental-vm-modules`) or an experimental constant that prints a warning
 * in the host's output; so the loader passes in an `import()` of its own, made by the package
 * entry, which resolves packages from the same folder as the bundle.
 */
declare const __cartridgeImport: ((specifier: string) => Promise<unknown>) | undefined;

export function importModule(specifier: string): Promise<unknown> {
  return typeof __cartridgeImport === 'undefined'
    ? import(specifier)
    : __cartridgeImport(specifier);
}
