#!/usr/bin/env bash
# Build the root image every runtime image starts FROM, tagged "$1" (default coderunner/base:bookworm).
# Prefers `docker pull debian:bookworm-slim`; where no registry answers, it makes a minbase
# Debian bookworm with debootstrap from the mirror named in this machine's own apt sources.
set -euo pipefail
tag="${1:-coderunner/base:bookworm}"
log() { printf '[base] %s\n' "$*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then exit 0; fi

if timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
  docker tag debian:bookworm-slim "$tag"; log "tagged debian:bookworm-slim as $tag"; exit 0
fi

mirror_from_sources() {
  # deb822 files first (Debian 12 default), then one-line sources.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS="";FS="\n"}
         { uri=""; suites=""
           for (i=1;i<=NF;i++) {
             if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/,"",$i); split($i,u," "); uri=u[1] }
             if ($i ~ /^Suites:/) { suites=$i }
           }
           if (uri!="" && suites ~ /[ \t]bookworm([ \t]|$)/) { print uri; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1=="deb" && $0 ~ / bookworm / { for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done
}
mirror="$(mirror_from_sources | head -n 1)"
[ -n "$mirror" ] || { log "no bookworm mirror found in /etc/apt/sources.list.d or /etc/apt/sources.list"; exit 1; }

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

rootfs="$(mktemp -d /var/tmp/coderunner-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
log "importing as $tag"
tar -C "$rootfs" -c . | docker import - "$tag" >/dev/null
log "done"
