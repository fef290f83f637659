#!/usr/bin/env bash
# Build the root image every runtime image starts FROM, tagged "$1" (default coderunner/base:trixie),
# of Debian suite "$2" (default trixie). Prefers `docker pull debian:<suite>-slim`; where no
# registry answers, it makes a minbase of the suite with debootstrap from the Debian mirror named
# in this machine's own apt sources (whatever suite the host runs: a bookworm host's mirror
# serves trixie too).
set -euo pipefail
tag="${1:-coderunner/base:trixie}"
suite="${2:-trixie}"
log() { printf '[base] %s\n' "$*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then exit 0; fi

if timeout 60 docker pull -q "debian:$suite-slim" >/dev/null 2>&1; then
  docker tag "debian:$suite-slim" "$tag"; log "tagged debian:$suite-slim as $tag"; exit 0
fi

mirror_from_sources() {
  # The host's main Debian archive (a URI ending in /debian, not -security or a vendor's):
  # deb822 files first (Debian 12 default), then one-line sources.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS="";FS="\n"}
         { for (i=1;i<=NF;i++) if ($i ~ /^URIs:/) {
             sub(/^URIs:[ \t]*/,"",$i); split($i,u," ")
             if (u[1] ~ /\/debian\/?$/) { print u[1]; exit } } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1=="deb" { for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }' "$f"
  done
}
mirror="$(mirror_from_sources | head -n 1)"
[ -n "$mirror" ] || { log "no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list.d or /etc/apt/sources.list"; exit 1; }

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

rootfs="$(mktemp -d /var/tmp/coderunner-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap --variant=minbase $suite from $mirror (a few minutes)"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >&2
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
log "importing as $tag"
tar -C "$rootfs" -c . | docker import - "$tag" >/dev/null
log "done"
