#!/usr/bin/env bash
# Installs the bench's own dependencies from bench/package-lock.json, then runs the bench with the
# given arguments (`npm run bench -- --only start`), or typechecks it with --typecheck.
#
# The bench is not a workspace, so that the root install leaves out the peer libraries it compares
# against. It must share the root's single copy of effect, @effect/platform and
# @effect/platform-node with the @reins packages (a second copy breaks their type and runtime
# identity): bench/package.json declares them as peer dependencies, pinned as at the root, and
# `--omit=peer` keeps them out of bench/node_modules, so that Node and TypeScript find the root's.
# The @reins packages come from the root's workspace links the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -d node_modules/effect ]]; then
  echo "the root dependencies are not installed: run npm ci first" >&2
  exit 1
fi

# The peers the bench declares must be the versions the root installed, or the figures in
# results.json would name versions other than the ones measured.
node -e '
  const fs = require("fs")
  const peers = JSON.parse(fs.readFileSync("bench/package.json", "utf8")).peerDependencies
  let stale = false
  for (const [name, pinned] of Object.entries(peers)) {
    const installed = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8")).version
    if (installed !== pinned) {
      console.error(`bench/package.json pins ${name} ${pinned}, the root installed ${installed}`)
      stale = true
    }
  }
  if (stale) process.exit(1)
'

# npm ci starts from an empty node_modules every time; skip it while the lockfile is the one that
# was installed last.
stamp=bench/node_modules/.installed-package-lock.json
if ! cmp -s bench/package-lock.json "$stamp" 2> /dev/null; then
  npm ci --prefix bench --omit=peer --no-audit --no-fund
  cp bench/package-lock.json "$stamp"
fi

if [[ ${1:-} == --typecheck ]]; then
  exec npm run --prefix bench typecheck
fi
exec npm run --prefix bench bench -- "$@"
