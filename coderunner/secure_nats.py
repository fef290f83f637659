"""Make a secured NATS for a fleet: a CA, a certificate per NATS server and per client host and
role (openssl), a password per client, and each server's configuration (TLS for clients and
routes, route authorization, one user per role and host with only the subjects it needs).

    python -m coderunner.secure_nats --out DIR --nats nats-1=nats-1.internal \\
        --nats nats-2=nats-2.internal --nats nats-3=nats-3.internal \\
        --edge edge-1 --dispatcher disp-1 --runner run-1 --runner run-2 --janitor run-1

``DIR/nats/<server>/`` goes to that NATS host (``/etc/coderunner/nats``), ``DIR/<role>-<host>/``
to that host (its ``nats.env`` to ``/etc/coderunner/<role>-nats.env``). ``DIR/ca/ca.key`` and
``DIR/route-ca/ca.key`` should not stay on any host. Routes are TLS with certificates of their
own CA (a client's certificate cannot join) and a password. See docs/scale-out.md ("Securing NATS").
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from contracts import subjects

ROLES = ("edge", "dispatcher", "runner", "janitor")
FULL: dict[str, object] = {"publish": {"allow": [">"]}, "subscribe": {"allow": [">"]}}
"""The edge and the dispatcher hold every job and result anyway: NATS does not fence them."""


@dataclass(frozen=True)
class NatsNode:
    name: str
    host: str
    client_port: int = 4222
    route_port: int = 6222

    @classmethod
    def parse(cls, text: str) -> NatsNode:
        """``name=host[:client_port[:route_port]]``."""
        name, _, rest = text.partition("=")
        host, *ports = (rest or name).split(":")
        return cls(name, host, *(int(p) for p in ports))


@dataclass(frozen=True)
class Client:
    role: str
    host: str
    password: str

    @property
    def user(self) -> str:
        return f"{self.role}-{self.host}"

    def permissions(self) -> dict[str, object]:
        if self.role == "runner":
            return subjects.runner_permissions(self.host)
        if self.role == "janitor":
            return subjects.janitor_permissions()
        return FULL


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(path))
    path.chmod(0o600)


def make_ca(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "ca.key", directory / "ca.pem"
    _key(key)
    _openssl("req", "-x509", "-new", "-key", str(key), "-days", "3650", "-subj",
             "/CN=CodeRunner NATS CA", "-out", str(cert))
    return key, cert


def issue(ca: tuple[Path, Path], directory: Path, name: str, hosts: list[str],
          usage: str, prefix: str = "") -> None:
    """``directory/<prefix>cert.pem`` and ``<prefix>key.pem`` for ``name``, valid for
    ``hosts`` (DNS names or IP addresses), for ``usage`` ``serverAuth,clientAuth`` or
    ``clientAuth``."""
    directory.mkdir(parents=True, exist_ok=True)
    key, csr = directory / f"{prefix}key.pem", directory / "req.csr"
    cert = directory / f"{prefix}cert.pem"
    _key(key)
    _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(csr))
    alt = ",".join(("IP:" if h.replace(".", "").isdigit() else "DNS:") + h for h in hosts)
    ext = directory / "ext.cnf"
    ext.write_text(f"extendedKeyUsage={usage}\n" + (f"subjectAltName={alt}\n" if alt else ""))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
             "-CAcreateserial", "-days", "825", "-extfile", str(ext), "-out", str(cert))
    csr.unlink()
    ext.unlink()


def server_config(node: NatsNode, nodes: list[NatsNode], clients: list[Client],
                  route_password: str, installed: Path, store_dir: str) -> str:
    tls = (f'cert_file: "{installed}/cert.pem", key_file: "{installed}/key.pem", '
           f'ca_file: "{installed}/ca.pem", verify: true, timeout: 2')
    route_tls = (f'cert_file: "{installed}/route-cert.pem", '
                 f'key_file: "{installed}/route-key.pem", '
                 f'ca_file: "{installed}/route-ca.pem", verify: true, timeout: 2')
    users = [{"user": c.user, "password": c.password, "permissions": c.permissions()}
             for c in clients]
    routes = ", ".join(f'"nats-route://route:{route_password}@{n.host}:{n.route_port}"'
                       for n in nodes if n != node)
    return (
        f'server_name: "{node.name}"\n'
        f'listen: "0.0.0.0:{node.client_port}"\n'
        "max_payload: 8MB\n"
        f'jetstream {{ store_dir: "{store_dir}" }}\n'
        f"tls {{ {tls} }}\n"
        f"authorization {{ users: {json.dumps(users, indent=1)} }}\n"
        "cluster {\n"
        '  name: "coderunner"\n'
        f'  listen: "0.0.0.0:{node.route_port}"\n'
        f"  tls {{ {route_tls} }}\n"
        f'  authorization {{ user: "route", password: "{route_password}", timeout: 2 }}\n'
        f"  routes: [{routes}]\n"
        "}\n"
    )


def client_env(client: Client, nodes: list[NatsNode], installed: Path) -> str:
    url = ",".join(f"tls://{n.host}:{n.client_port}" for n in nodes)
    return (f"# NATS for {client.user}: only this host and role may hold this file.\n"
            f"NATS_URL={url}\nNATS_USER={client.user}\nNATS_PASSWORD={client.password}\n"
            f"NATS_TLS_CA={installed}/ca.pem\nNATS_TLS_CERT={installed}/cert.pem\n"
            f"NATS_TLS_KEY={installed}/key.pem\n")


def make(out: Path, nodes: list[NatsNode], hosts: dict[str, list[str]],
         installed: Path = Path("/etc/coderunner/nats"),
         store_dir: str = "/var/lib/coderunner/nats") -> None:
    """Write everything under ``out`` (see the module's docstring); ``installed`` is where
    each host keeps its ``ca.pem``, ``cert.pem`` and ``key.pem``."""
    ca = make_ca(out / "ca")
    route_ca = make_ca(out / "route-ca")  # signs NATS servers only: no client joins a route
    clients = [Client(role, host, secrets.token_hex(24))
               for role in ROLES for host in hosts.get(role, [])]
    route_password = secrets.token_hex(24)
    for node in nodes:
        directory = out / "nats" / node.name
        issue(ca, directory, node.name, [node.host, node.name], "serverAuth,clientAuth")
        (directory / "ca.pem").write_bytes(ca[1].read_bytes())
        issue(route_ca, directory, node.name, [node.host, node.name], "serverAuth,clientAuth",
              "route-")
        (directory / "route-ca.pem").write_bytes(route_ca[1].read_bytes())
        config = directory / "nats-server.conf"
        config.write_text(server_config(node, nodes, clients, route_password,
                                        _at(installed, directory),
                                        store_dir.format(name=node.name)))
        config.chmod(0o600)
    for client in clients:
        directory = out / client.user
        issue(ca, directory, client.user, [], "clientAuth")
        (directory / "ca.pem").write_bytes(ca[1].read_bytes())
        env = directory / "nats.env"
        env.write_text(client_env(client, nodes, _at(installed, directory)))
        env.chmod(0o600)


def _at(installed: Path, directory: Path) -> Path:
    """Where a host keeps its files: ``installed``, or (``installed`` relative: a test) the
    directory written here."""
    return installed if installed.is_absolute() else directory.resolve()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--nats", action="append", required=True, type=NatsNode.parse,
                        help="name=host[:client_port[:route_port]], once per NATS server")
    for role in ROLES:
        parser.add_argument(f"--{role}", action="append", default=[], metavar="HOST",
                            help=f"a host running the {role} (once per host)")
    parser.add_argument("--installed", type=Path, default=Path("/etc/coderunner/nats"))
    args = parser.parse_args()
    os.umask(0o077)
    make(args.out, args.nats, {role: getattr(args, role) for role in ROLES}, args.installed)
    print(f"secured NATS written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
