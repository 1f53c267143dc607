#!/usr/bin/env bash
# Installs the Debian packages the test suite drives when they are missing: chromium for the
# browser tests (through playwright-core, never a downloaded browser) and tmux for the terminal
# tests. Needs root or sudo only when something is missing.
set -uo pipefail
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v tmux > /dev/null || missing+=(tmux)
((${#missing[@]})) || exit 0
sudo=()
((EUID == 0)) || sudo=(sudo)
echo "installing ${missing[*]} from Debian"
log=$(mktemp)
if ! { "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; } > "$log" 2>&1; then
  echo "apt-get failed:"
  tail -20 "$log"
  rm -f "$log"
  exit 1
fi
rm -f "$log"
