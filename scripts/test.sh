#!/usr/bin/env bash
# Runs every veil test: formatting and vet, the Go tests with the race
# detector, the JS unit tests under Node, and the browser end-to-end tests in
# headless Chromium. Installs what it needs (npm packages from the lock file;
# Debian's Chromium and tmux when run as root and they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Needed for the tests: ${missing[*]} (Debian: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

echo "== gofmt, go vet"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== go test -race -shuffle=on ./..."
go test -race -shuffle=on -count=1 ./...

# Every fuzz target (each decoder of peer data), 3 s each: seeds
# in testdata/fuzz/, new inputs in the Go cache. FUZZTIME=1m for longer.
echo "== fuzz"
fuzztime=${FUZZTIME:-3s}
grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' cmd internal | sed 's/:func / /' | sort |
  while read -r file name; do
    pkg=./$(dirname "$file")
    # -fuzzminimizetime bounds minimizing each new input, which would
    # otherwise take most of a short run.
    if out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime=100x "$pkg" 2>&1); then
      echo "ok   $name $pkg"
    elif ! grep -q 'Failing input written' <<<"$out" && grep -q '^    context deadline exceeded$' <<<"$out"; then
      # Go 1.26's fuzzing can fail a run that found nothing as -fuzztime
      # ends (go.dev/issue/75804, fixed in Go 1.27): only a failing input
      # counts.
      echo "ok   $name $pkg (go.dev/issue/75804 at the deadline)"
    else
      echo "$out" >&2
      exit 1
    fi
  done

echo "== npm ci"
npm ci --no-audit --no-fund --loglevel=error

echo "== vendored browser modules match package-lock.json"
node scripts/vendor.mjs --check

echo "== JS unit tests"
node --test internal/web/jstest/

echo "== browser end-to-end tests (headless Chromium)"
node --test --test-concurrency=1 e2e/
