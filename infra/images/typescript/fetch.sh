#!/usr/bin/env bash
# Runs on the host before the build: Debian has no @types/node, and a build container may not
# reach the npm registry (or trust the machine's TLS set-up), so the host's npm fetches it.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p fetched
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if ! ls fetched/types-node-18.*.tgz fetched/undici-types-5.*.tgz >/dev/null 2>&1; then
  rm -f fetched/*.tgz
  npm pack --silent --pack-destination fetched @types/node@18 'undici-types@~5.26.4' >/dev/null
fi
