/** Types of `bundle-engine.mjs` for the benchmarks and tests that call it from TypeScript. */
export interface BundledEngine {
  readonly bundlePath: string;
  readonly cliBundlePath: string;
  readonly entryPath: string;
  readonly binPath: string;
  readonly writerPath: string;
  readonly exportNames: readonly string[];
}

export function bundleEngine(outDirectory: string): BundledEngine;
export function writeCodeCache(outDirectory: string): string;
export function linkPackages(directory: string): void;
export function unlinkPackages(directory: string): void;
