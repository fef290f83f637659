#!/bin/sh
# Make a secured NATS for a fleet (run once, on an admin machine, never on a runner host):
# a CA for clients and one for routes, a certificate per NATS server and per host and role,
# a password per host and role, each NATS server's configuration (TLS for clients and routes,
# route authorization, per-role subject permissions) and each host's NATS settings.
#
#   infra/deploy/make-secrets.sh --out /root/coderunner-secrets \
#       --nats nats-1=nats-1.internal --nats nats-2=nats-2.internal --nats nats-3=nats-3.internal \
#       --edge edge-1 --dispatcher disp-1 --runner run-1 --runner run-2 --janitor run-1 --janitor run-2
#
# Then copy DIR/nats/<server>/* to /etc/coderunner/nats/ on that NATS host (its
# nats-server.conf replaces infra/deploy/nats-server.conf), and DIR/<role>-<host>/* to
# /etc/coderunner/nats/ on that host, with its nats.env as /etc/coderunner/<role>-nats.env.
# Keep DIR/ca/ca.key and DIR/route-ca/ca.key offline. See docs/scale-out.md.
set -eu
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m coderunner.secure_nats "$@"
