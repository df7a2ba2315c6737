/**
 * How this copy of the engine was loaded: from the package's single-file bundle, compiled with
 * the V8 code cache written when the package was built or installed (the fast start), or from
 * its ES modules (the sources under tsx, a bundler's output, the `dist/src` tree).
 *
 * The package entry (`dist/engine/index.js`) runs the bundle inside a function whose
 * parameters include `__cartridgeEngineLoad`; anywhere else that name is not defined.
 */
export type CodeCacheStatus =
  /** V8 took the cache: the functions it holds were not compiled again. */
  | 'accepted'
  /** V8 refused the cache (another V8 build or other V8 flags); the engine compiled lazily. */
  | 'rejected'
  /** The cache was made for another bundle, Node.js version or architecture: not offered. */
  | 'stale'
  /** The cache file's bytes are not those its header names (a damaged file): not offered. */
  | 'damaged'
  /** No cache file next to the bundle (or it could not be read). */
  | 'absent'
  /** `CARTRIDGE_CODE_CACHE=0` turned it off. */
  | 'disabled'
  /** The engine runs from its ES modules, which have no cache of ours. */
  | 'unused';

export interface EngineLoad {
  readonly form: 'bundle' | 'modules';
  readonly codeCache: CodeCacheStatus;
}

declare const __cartridgeEngineLoad: EngineLoad | undefined;

const FROM_MODULES: EngineLoad = Object.freeze({ form: 'modules', codeCache: 'unused' });

/** How the engine in this process was loaded (for diagnostics: is the fast start in use?). */
export function engineLoad(): EngineLoad {
  return typeof __cartridgeEngineLoad === 'undefined' ? FROM_MODULES : __cartridgeEngineLoad;
}
