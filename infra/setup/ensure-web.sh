#!/usr/bin/env bash
# The browser IDE's front-end dependencies (Monaco), from the npm registry with the committed
# lock file; node also runs the IDE's unit tests (node --test web/tests/). The edge serves
# web/ as static files, web/node_modules/monaco-editor/min/vs included: no build step.
set -euo pipefail
cd "$(dirname "$0")/../../web"
[ -f package.json ] || exit 0
if ! command -v npm >/dev/null 2>&1; then
  printf '[setup] installing nodejs and npm\n' >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f node_modules/monaco-editor/min/vs/loader.js ] || [ package-lock.json -nt node_modules ] \
   || [ package.json -nt node_modules ]; then
  printf '[setup] npm ci (web)\n' >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
