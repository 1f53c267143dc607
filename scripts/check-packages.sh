#!/usr/bin/env bash
# Checks each package's tarball as npm would publish it: publint (package.json, exports, files)
# and Are the Types Wrong (every entry point's types under node16 and bundler resolution).
set -uo pipefail
cd "$(dirname "$0")/.."
npx tsc -b || exit 1
rm -f packages/*/dist/.tsbuildinfo
failed=0
for dir in packages/*/; do
  name=$(node -p "require('./${dir}package.json').name")
  echo "== $name"
  npx publint --strict "$dir" || failed=1
  # ESM only: the CommonJS and node10 resolutions do not apply.
  npx attw --pack "$dir" --profile esm-only --format table-flipped || failed=1
done
exit $failed
