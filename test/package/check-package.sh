#!/usr/bin/env bash
# Packs the package, installs the tarball into a fresh scratch project and runs the README's
# example there: from an ES module, from CommonJS (require where Node can, a clear error where
# it cannot), the `cartridge` binary, and the type declarations under TypeScript's node16 and
# bundler module resolution. Run by .ci/run after the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The build is already there (CI builds first): pack it as it is.
tarball=$(npm pack --silent --ignore-scripts --pack-destination "$scratch" | tail -n 1)
cp test/package/esm-example.mjs test/package/cjs-example.cjs test/package/ts-example.mts \
  test/package/tsconfig.node16.json test/package/tsconfig.bundler.json "$scratch/"
cd "$scratch"
npm init -y >/dev/null
npm pkg set type=commonjs >/dev/null
typescript_version=$(node -p "require('$root/package.json').devDependencies.typescript")
types_version=$(node -p "require('$root/package.json').devDependencies['@types/node']")
npm install --no-audit --no-fund --silent --prefer-offline "./$tarball" \
  "typescript@$typescript_version" "@types/node@$types_version"

# The listing is taken whole first: `grep -q` closing the pipe early would fail `tar` under
# pipefail.
listing=$(tar -tzf "$tarball")
if ! grep -qx 'package/dist/src/index.js' <<<"$listing" ||
  ! grep -qx 'package/dist/engine/cartridge-engine.cjs' <<<"$listing"; then
  echo "package check: the tarball has no built code (run npm run build first)" >&2
  exit 1
fi
if grep -qE '^package/(test|bench|dist/test|dist/bench)/' <<<"$listing"; then
  echo "package check: the tarball contains tests or benchmarks" >&2
  exit 1
fi
node esm-example.mjs
# The install wrote the engine's code cache for this Node.js, and the entry takes it.
load=$(node --input-type=module \
  -e 'const { engineLoad } = await import("cartridge-vfs"); console.log(JSON.stringify(engineLoad()));')
if [ "$load" != '{"form":"bundle","codeCache":"accepted"}' ]; then
  echo "package check: the installed entry did not load its cached engine: $load" >&2
  exit 1
fi
# The module tree, for bundlers, is exported too.
modules=$(node --input-type=module \
  -e 'const { engineLoad } = await import("cartridge-vfs/modules"); console.log(engineLoad().form);')
if [ "$modules" != 'modules' ]; then
  echo "package check: cartridge-vfs/modules did not load the module tree: $modules" >&2
  exit 1
fi
echo "code cache: ok"
node cjs-example.cjs
npx --no-install cartridge init cli.cart >/dev/null
echo '{"call":1}' | npx --no-install cartridge put cli.cart /calls/1.json >/dev/null
test "$(npx --no-install cartridge cat cli.cart /calls/1.json)" = '{"call":1}'
echo "cli example: ok"
npx --no-install tsc -p tsconfig.node16.json
npx --no-install tsc -p tsconfig.bundler.json
echo "typescript node16 and bundler: ok"
