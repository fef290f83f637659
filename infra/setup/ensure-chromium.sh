#!/usr/bin/env bash
# Debian's Chromium for the browser IDE's end-to-end tests: Playwright drives /usr/bin/chromium
# and `playwright install` is never run, so no browser comes from anywhere but apt. Recommends
# are left out (printing, upower, notification daemons); fonts-liberation is kept for legible
# screenshots.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
printf '[setup] installing chromium (Debian package)\n' >&2
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }
# Refresh the package lists only when they are missing or too old to install from.
if ! install 2>/dev/null; then
  apt-get update -qq
  install
fi
