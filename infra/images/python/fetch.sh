#!/usr/bin/env bash
# Runs on the host before the build: bash_kernel (a Jupyter kernel for notebooks in bash) is on
# PyPI only, and a build container may not reach PyPI, so the host's pip fetches the wheel.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p fetched
if ! ls fetched/bash_kernel-0.10.0-*.whl >/dev/null 2>&1; then
  pip="../../../.venv/bin/pip"
  [ -x "$pip" ] || pip="python3 -m pip"
  $pip download --quiet --no-deps --dest fetched bash_kernel==0.10.0
fi
