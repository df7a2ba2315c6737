/**
 * What `require('cartridge-vfs')` loads on Node versions that cannot `require()` an ES module
 * (Node 20 before 20.19): a clear error instead of `ERR_REQUIRE_ESM` from deep inside. Where
 * Node can (20.19+, 22.12+), the package's `module-sync` condition loads the real module.
 */
const error = new Error(
  'cartridge-vfs is an ES module. Use `import { Cartridge } from "cartridge-vfs"` (or ' +
    '`await import("cartridge-vfs")` from CommonJS), or Node.js 20.19+ or 22.12+, whose ' +
    'require() loads ES modules.',
) as Error & { code: string };
error.code = 'ERR_REQUIRE_ESM';
throw error;
