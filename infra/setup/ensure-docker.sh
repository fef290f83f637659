#!/usr/bin/env bash
# Make sure a Docker engine answers, with gVisor's runsc registered beside runc. Installs
# Debian's docker.io, debootstrap and runsc only when missing, starts dockerd when it is not
# running, and waits until it answers.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

DAEMON_JSON=/etc/docker/daemon.json
# gVisor's runtimes (docs/reliability.md): this runsc has no systrap platform, so ptrace. A
# sandbox without a network gets no network stack at all (--network=none); one on a session
# network uses the container's own namespace, an internal bridge (--network=host passes
# through to it; gVisor's own stack refuses Docker's namespaces here).
GVISOR_RUNTIMES='{
  "runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]},
  "runsc-net": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=host"]}
}'

apt_install() {
  log "installing $* (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Writes the gVisor runtimes into daemon.json, keeping every other setting; prints "changed"
# when the file changed.
register_gvisor() {
  command -v runsc >/dev/null 2>&1 || apt_install runsc
  mkdir -p "$(dirname "$DAEMON_JSON")"
  GVISOR_RUNTIMES="$GVISOR_RUNTIMES" python3 - "$DAEMON_JSON" <<'PY'
import json, os, sys
path = sys.argv[1]
try:
    with open(path) as f:
        config = json.load(f)
except FileNotFoundError:
    config = {}
wanted = json.loads(os.environ["GVISOR_RUNTIMES"])
runtimes = config.setdefault("runtimes", {})
if any(runtimes.get(name) != spec for name, spec in wanted.items()):
    runtimes.update(wanted)
    with open(path + ".tmp", "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("changed")
PY
}

gvisor_registered() {
  docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc-net"'
}

# Extra engines beside the main one (coderunner/engines.py, the fault tests) need ip and nsenter.
if ! command -v ip >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then
  apt_install iproute2 util-linux
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  docker info >/dev/null 2>&1 || { log "DOCKER_HOST=$DOCKER_HOST does not answer"; exit 1; }
  gvisor_registered || log "DOCKER_HOST=$DOCKER_HOST has no runsc runtimes: gVisor runs fail there"
  exit 0
fi

if docker info >/dev/null 2>&1; then
  changed=$(register_gvisor)
  gvisor_registered && [ -z "$changed" ] && exit 0
  # dockerd reloads its runtimes on SIGHUP: running containers are untouched. Only the main
  # engine (its pidfile), never the fault tests' extra engines.
  log "registering gVisor (runsc) with the running dockerd"
  kill -HUP "$(cat /var/run/docker.pid)"
  for _ in $(seq 1 40); do
    gvisor_registered && exit 0
    sleep 0.25
  done
  log "dockerd did not load the runsc runtimes from $DAEMON_JSON"; exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi
register_gvisor >/dev/null

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/coderunner-dockerd.log)"
  nohup dockerd >/var/log/coderunner-dockerd.log 2>&1 </dev/null &
  disown || true
fi

for _ in $(seq 1 120); do
  # Once up, run again: a dockerd that the package started before daemon.json named runsc
  # (systemd hosts) gets the runtimes registered by the branch for a running engine.
  docker info >/dev/null 2>&1 && { log "docker engine is up"; exec bash "$0"; }
  sleep 0.5
done
log "dockerd did not answer within 60 s; see /var/log/coderunner-dockerd.log"
tail -n 20 /var/log/coderunner-dockerd.log >&2 || true
exit 1
