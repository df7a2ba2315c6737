// Builds the package's entry and its `cartridge` command (ARCHITECTURE 77): the engine and the
// CLI as CommonJS bundles, the ES module entry and the bin that load them with V8's code
// cache, and the script that writes the caches; then writes the caches. `npm run build` runs
// it after tsc (`node tools/bundle-engine.mjs`, into dist/engine); the benchmarks call
// `bundleEngine` to build the same into a scratch directory. esbuild is a development
// dependency: the installed package only runs what this wrote. The file names and the digest
// line written here are read by `src/loader/engine-loader.ts`, which this script cannot
// import (it runs under plain node, before anything is compiled): keep the two alike.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const projectRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const ENGINE_BUNDLE_NAME = 'cartridge-engine.cjs';
const CLI_BUNDLE_NAME = 'cartridge-cli.cjs';
const common = { bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };

/** Bundles into `outDirectory`; returns the paths written. Does not write the cache. */
export function bundleEngine(outDirectory) {
  mkdirSync(outDirectory, { recursive: true });
  const sourceEntry = join(projectRoot, 'src', 'index.ts');
  const bundlePath = writeBundle(sourceEntry, join(outDirectory, ENGINE_BUNDLE_NAME));
  const cliBundlePath = writeBundle(
    join(projectRoot, 'src', 'cli', 'program.ts'),
    join(outDirectory, CLI_BUNDLE_NAME),
  );

  // The names the public entry exports at run time, as esbuild sees them in an ES module
  // build of the same sources (types have no run-time name).
  const names = exportNames(sourceEntry);
  const entryPath = join(outDirectory, 'index.js');
  writeModule(
    entryPath,
    '// The package entry: loads dist/engine/cartridge-engine.cjs (ARCHITECTURE 77).',
    [
      `const engine = ${compileCall(ENGINE_BUNDLE_NAME)};`,
      ...names.map((name) => `export const ${name} = engine.${name};`),
    ],
  );

  const writerPath = join(outDirectory, 'write-code-cache.mjs');
  const writer = join(projectRoot, 'src', 'loader', 'write-code-cache.ts');
  writeModule(writerPath, '// Writes the code caches beside the bundles (ARCHITECTURE 77).', [
    `import { dirname } from 'node:path';`,
    `import { writeCodeCaches } from ${JSON.stringify(writer)};`,
    `const directory = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));`,
    `try {`,
    `  const bytes = await writeCodeCaches(directory);`,
    `  process.stdout.write('cartridge-vfs: code caches written (' + bytes + ' bytes)\\n');`,
    `} catch (error) {`,
    `  process.stdout.write('cartridge-vfs: code caches not written (' + error + ')\\n');`,
    `  process.exitCode = 1;`,
    `}`,
  ]);

  // The `cartridge` command (package.json `bin`): its bundle holds the CLI and its own copy of
  // the engine, loaded the same way.
  const binPath = join(outDirectory, 'cli.js');
  writeModule(
    binPath,
    '#!/usr/bin/env node\n// The `cartridge` command: loads dist/engine/cartridge-cli.cjs (ARCHITECTURE 77).',
    [`const { runProcess } = ${compileCall(CLI_BUNDLE_NAME)};`, `await runProcess();`],
  );
  chmodSync(binPath, 0o755);
  return { bundlePath, cliBundlePath, entryPath, binPath, writerPath, exportNames: names };
}

/** The call that compiles a bundle beside the module it is written in, and gives its exports. */
function compileCall(bundleName) {
  const url = `new URL(${JSON.stringify(`./${bundleName}`)}, import.meta.url)`;
  return `compileEngine(fileURLToPath(${url}), { importModule: (specifier) => import(specifier) }).exports`;
}

/**
 * Writes a small ES module of these lines, with the loader (`src/loader/engine-loader.ts`)
 * bundled into it, and `fileURLToPath` and `compileEngine` in scope.
 */
function writeModule(outfile, banner, lines) {
  const loader = join(projectRoot, 'src', 'loader', 'engine-loader.ts');
  buildSync({
    ...common,
    stdin: {
      contents: [
        `import { fileURLToPath } from 'node:url';`,
        `import { compileEngine } from ${JSON.stringify(loader)};`,
        ...lines,
      ].join('\n'),
      resolveDir: projectRoot,
      sourcefile: basename(outfile),
      loader: 'js',
    },
    format: 'esm',
    outfile,
    banner: { js: banner },
  });
}

/**
 * Bundles one entry as CommonJS for the loader: packages stay external (native addons,
 * WebAssembly), `import.meta.url` becomes a parameter of the loader's wrapper, and the first
 * line states the SHA-256 of the rest (what ties a code cache to it).
 */
function writeBundle(entry, outfile) {
  const code = buildSync({
    ...common,
    entryPoints: [entry],
    format: 'cjs',
    packages: 'external',
    write: false,
    outfile,
    define: { 'import.meta.url': '__cartridgeModuleUrl' },
  }).outputFiles[0].text;
  const digest = createHash('sha256').update(code).digest('hex');
  writeFileSync(outfile, `// cartridge-engine sha256:${digest}\n${code}`);
  return outfile;
}

function exportNames(sourceEntry) {
  const result = buildSync({
    ...common,
    entryPoints: [sourceEntry],
    format: 'esm',
    packages: 'external',
    write: false,
    outdir: '/',
    metafile: true,
  });
  const [output] = Object.values(result.metafile.outputs).filter((entry) => entry.entryPoint);
  return [...output.exports].sort();
}

/**
 * Makes a scratch directory resolve packages as an application that installed cartridge-vfs
 * does: a `node_modules` of links to the project's packages, and `cartridge-vfs` to the project
 * itself (where the native addons are built). `unlinkPackages` removes the links, never what
 * they point to.
 */
export function linkPackages(directory) {
  const modules = join(directory, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(join(projectRoot, 'node_modules'))) {
    symlinkSync(join(projectRoot, 'node_modules', name), join(modules, name));
  }
  symlinkSync(projectRoot, join(modules, 'cartridge-vfs'), 'dir');
}

export function unlinkPackages(directory) {
  rmSync(join(directory, 'node_modules'), { recursive: true, force: true });
}

/** Runs the cache writer in a fresh process (so that nothing else was compiled first). */
export function writeCodeCache(outDirectory) {
  const result = spawnSync(process.execPath, [join(outDirectory, 'write-code-cache.mjs')], {
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`code cache not written: ${result.stdout}${result.stderr}`);
  }
  return result.stdout.trim();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outDirectory = join(projectRoot, 'dist', 'engine');
  bundleEngine(outDirectory);
  process.stdout.write(`${writeCodeCache(outDirectory)}\n`);
}
