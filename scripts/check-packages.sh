#!/usr/bin/env bash
# Checks each package's tarball as npm would publish it: publint (package.json, exports, files)
# and Are the Types Wrong (every entry point's types under node16 and bundler resolution). Prints a
# PASS or FAIL line per check and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
npx tsc -b || exit 1
rm -f packages/*/dist/.tsbuildinfo
failed=0
for dir in packages/*/; do
  name=$(node -p "require('./${dir}package.json').name")
  echo "== $name"
  if npx publint --strict "$dir"; then echo "PASS: publint $name"; else echo "FAIL: publint $name"; failed=1; fi
  # ESM only: the CommonJS and node10 resolutions do not apply.
  if npx attw --pack "$dir" --profile esm-only --format table-flipped; then
    echo "PASS: attw $name"
  else
    echo "FAIL: attw $name"
    failed=1
  fi
done
exit $failed
