#!/usr/bin/env bash
# The Node suite from a clean checkout (the `node:` step of ./scripts/test): installs the
# package's dev tools from package-lock.json, builds the addon (debug) and the TypeScript,
# type-checks with --strict, and runs `node --test` against a real local Manager.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in node npm cargo; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "$tool not found: the Node suite needs Node 20+ and npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
  }
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "Node $(node --version) is too old: @inferencekey/sdk needs Node 20 or newer" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
(cd ../.. && cargo build -q -p inferencekey-manager)
npm run --silent build
npm run --silent typecheck
npm test
