#!/bin/sh
# Makes the addon ready for `make test-node` and `make bench`: installs the package's npm
# dependency (node-api-headers) when it is missing, then builds build/postmessage.node against
# the repository's libpostmessage (scripts/build.js). Without npm, build.js uses Node's own
# headers if this Node has them.
set -e
cd "$(dirname "$0")/.."
if [ ! -f node_modules/node-api-headers/package.json ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "==> npm install (bindings/node: node-api-headers)" >&2
    npm install --no-audit --no-fund --ignore-scripts >&2
  else
    echo "note: npm not found; building with Node's own headers" >&2
  fi
fi
node scripts/build.js >&2
