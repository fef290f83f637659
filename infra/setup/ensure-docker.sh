#!/usr/bin/env bash
# Make sure a Docker engine answers. Installs Debian's docker.io and debootstrap only when
# no engine answers, starts dockerd when it is not running, and waits until it answers.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

# Extra engines beside the main one (coderunner/engines.py, the fault tests) need ip and nsenter.
if ! command -v ip >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then
  log "installing iproute2 and util-linux (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 util-linux >/dev/null
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  docker info >/dev/null 2>&1 && exit 0
  log "DOCKER_HOST=$DOCKER_HOST does not answer"; exit 1
fi
docker info >/dev/null 2>&1 && exit 0

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/coderunner-dockerd.log)"
  nohup dockerd >/var/log/coderunner-dockerd.log 2>&1 </dev/null &
  disown || true
fi

for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && { log "docker engine is up"; exit 0; }
  sleep 0.5
done
log "dockerd did not answer within 60 s; see /var/log/coderunner-dockerd.log"
tail -n 20 /var/log/coderunner-dockerd.log >&2 || true
exit 1
