#!/usr/bin/env bash
# Installs the packages as an application would, from their tarballs, into a fresh project outside
# the repository, with the README's "Installing" line as written; then typechecks a strict ESM
# program that runs the README's first example (node16 and bundler resolution), runs it against
# @reins/testing's ProviderServer, and checks that the application has one copy of each Effect
# package. All of it twice: with what the README's tags install today, and with the oldest releases
# the peer ranges allow. Prints a PASS or FAIL line per check and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
started=$(date +%s)

passed=0
failed=0
pass() {
  echo "PASS: $1"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $1"
  failed=$((failed + 1))
}
finish() {
  echo "consumer test: $passed checks passed, $failed failed ($(($(date +%s) - started)) s)"
  if ((failed > 0)); then exit 1; fi
  exit 0
}

work=$(mktemp -d /tmp/reins-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
log=$work/log

# Runs a command as one check, showing the end of its output when it fails.
check() {
  local what=$1
  shift
  if "$@" > "$log" 2>&1; then
    pass "$what"
  else
    fail "$what"
    tail -n 40 "$log" | sed 's/^/    /'
  fi
}

# --- The tarballs, as npm would publish them.
if ! npx tsc -b > "$log" 2>&1; then
  cat "$log"
  fail "build (tsc -b)"
  finish
fi
mkdir "$work/tarballs"
mapfile -t packages < <(node -p 'require("./package.json").workspaces.join("\n")')
pack_args=()
for dir in "${packages[@]}"; do pack_args+=(--workspace "$dir"); done
if ! npm pack "${pack_args[@]}" --pack-destination "$work/tarballs" --json > "$work/packed.json" 2> "$log"; then
  cat "$log"
  fail "npm pack"
  finish
fi
# name<TAB>tarball, one line per package
declare -A tarball
while IFS=$'\t' read -r name file; do
  tarball[$name]=$work/tarballs/$file
done < <(node -e '
  for (const p of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))) console.log(`${p.name}\t${p.filename}`)
' "$work/packed.json")
pass "npm pack: ${!tarball[*]}"

# --- What the README tells an application to write.
install_line=$(awk '/^## Installing/ { on = 1; next } on && /^## / { exit } on && /^npm install / { print; exit }' README.md)
example=$(awk '/^## Stop, in code/ { on = 1; next } on && /^```ts$/ { code = 1; next } code && /^```$/ { exit } code' README.md)
if [[ -z $install_line || -z $example ]]; then
  fail "README.md has an npm install line under \"Installing\" and a ts block under \"Stop, in code\""
  finish
fi
read -ra readme_specs <<< "${install_line#npm install }"
echo "README: $install_line"

# The oldest release a peer range allows: its floor, the same in every package that names it.
floor() {
  node -e '
    const fs = require("fs")
    const ranges = new Set()
    for (const dir of process.argv.slice(2)) {
      const range = JSON.parse(fs.readFileSync(`${dir}/package.json`, "utf8")).peerDependencies?.[process.argv[1]]
      if (range !== undefined) ranges.add(range)
    }
    const [range, ...others] = [...ranges]
    if (range === undefined || others.length > 0 || !/^\^\d+\.\d+\.\d+$/.test(range)) {
      console.error(`peer ranges of ${process.argv[1]}: ${[...ranges].join(", ") || "none"}`)
      process.exit(1)
    }
    console.log(range.slice(1))
  ' "$1" "${packages[@]}"
}

# The exact versions of the repository's own typescript and @types/node, for the typecheck.
tools=()
for name in typescript @types/node; do
  tools+=("$name@$(node -p "require('./node_modules/$name/package.json').version")")
done

# One round: a fresh project, the install, one copy of each Effect package, both typechecks, the run.
round() {
  local label=$1
  shift
  local specs=("$@")
  local project=$work/$label
  mkdir "$project"
  cp scripts/consumer/package.json scripts/consumer/main.ts scripts/consumer/tsconfig.*.json "$project/"
  printf '%s\n' "$example" > "$project/readme.ts"
  echo "== $label: npm install ${specs[*]/#$work\//} ${tools[*]}"
  cd "$project"

  if ! npm install --no-audit --no-fund "${specs[@]}" "${tools[@]}" > "$log" 2>&1; then
    fail "$label: npm install"
    tail -n 40 "$log" | sed 's/^/    /'
    cd "$repo"
    return
  fi
  if grep -E 'EBADENGINE|ERESOLVE|peer dep' "$log" > "$work/warnings"; then
    fail "$label: npm install printed no engine or peer warnings"
    sed 's/^/    /' "$work/warnings"
  else
    pass "$label: npm install printed no engine or peer warnings"
  fi

  local name
  for name in effect @effect/platform @effect/platform-node; do
    local copies
    # npm ls exits non-zero on a tree it finds invalid; the copies it lists are what counts here.
    copies=$(npm ls "$name" --all --parseable 2> /dev/null | grep "/node_modules/" | sort -u || true)
    if [[ -n $copies && $(wc -l <<< "$copies") -eq 1 ]]; then
      pass "$label: one copy of $name ($(node -p "require('$copies/package.json').version"))"
    else
      fail "$label: one copy of $name"
      npm ls "$name" --all 2>&1 | sed 's/^/    /'
    fi
  done
  if [[ $label == oldest ]]; then
    for name in effect @effect/platform @effect/platform-node; do
      local want got
      want=$(cd "$repo" && floor "$name")
      got=$(node -p "require('$name/package.json').version")
      if [[ $got == "$want" ]]; then pass "$label: $name is $want"; else fail "$label: $name is $want (installed $got)"; fi
    done
  fi

  check "$label: typecheck, strict, moduleResolution node16" ./node_modules/.bin/tsc -p tsconfig.node16.json
  check "$label: typecheck, strict, moduleResolution bundler" ./node_modules/.bin/tsc -p tsconfig.bundler.json
  if [[ ! -f dist/main.js ]]; then
    fail "$label: the program ran"
    cd "$repo"
    return
  fi
  if node dist/main.js > "$work/out" 2>&1; then
    pass "$label: the program ran"
  else
    fail "$label: the program ran"
  fi
  sed 's/^/    /' "$work/out"
  local expected
  for expected in \
    "requests: 3" \
    "stopped stream: the client closed it before its end" \
    "continued with: user,assistant,tool,assistant,user" \
    "last input: Go on." \
    "text: It was just past nine in the evening in Tokyo." \
    "body path: node"; do
    if grep -Fxq "$expected" "$work/out"; then pass "$label: printed \"$expected\""; else fail "$label: printed \"$expected\""; fi
  done
  cd "$repo"
}

# The README's line: its @reins packages from their tarballs, the other specs as written; with the
# remaining tarballs beside them (@reins/testing for the server, and each other provider, so that
# every package is installed with the others).
latest=()
oldest=()
declare -A listed
for spec in "${readme_specs[@]}"; do
  if [[ $spec == @reins/* ]]; then
    if [[ -z ${tarball[$spec]:-} ]]; then
      fail "the README's $spec is a package of this repository"
      finish
    fi
    latest+=("${tarball[$spec]}")
    oldest+=("${tarball[$spec]}")
    listed[$spec]=1
  else
    # effect@3 -> effect, @effect/platform@0 -> @effect/platform
    name=${spec%@*}
    latest+=("$spec")
    if ! version=$(floor "$name"); then
      fail "one peer range of $name in every package, written ^x.y.z"
      finish
    fi
    oldest+=("$name@$version")
  fi
done
for name in "${!tarball[@]}"; do
  if [[ -z ${listed[$name]:-} ]]; then
    latest+=("${tarball[$name]}")
    oldest+=("${tarball[$name]}")
  fi
done

round latest "${latest[@]}"
round oldest "${oldest[@]}"
finish
