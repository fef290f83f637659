"""``coderunner up``: the whole platform on this machine, in the foreground.

An embedded nats-server (unless NATS_URL names one), then one dispatcher, one runner, the
edge and the janitor as child processes (``coderunner <role>``). Ctrl-C stops them all; the
runner removes the containers it started, and a last janitor pass removes any leftovers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker

from coderunner.nats_server import NatsServer
from contracts import labels

ROLES = ("dispatcher", "runner", "edge", "janitor")


@dataclass
class Platform:
    data_dir: Path
    env: dict[str, str]
    port: int = 8000
    host: str = "127.0.0.1"
    nats: NatsServer | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    roles: tuple[str, ...] = ROLES
    """The components it starts (a control plane whose runners are elsewhere: no runner)."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if not self.env.get("NATS_URL"):
            self.nats = NatsServer(
                self.data_dir / "nats", port=int(self.env.get("NATS_PORT", 4222))
            )
            self.nats.start()
            self.env["NATS_URL"] = self.nats.url
        self.env.setdefault("EDGE_PORT", str(self.port))
        self.env.setdefault("EDGE_HOST", self.host)
        for role in self.roles:
            self.children[role] = subprocess.Popen(
                [sys.executable, "-m", "coderunner", role], env=self.env
            )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_children()
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the edge did not answer on {self.url} within {timeout_s} s")

    def check_children(self) -> None:
        for role, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{role} exited with code {child.returncode}")

    def stop(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.nats:
            self.nats.stop()


def remove_runner_containers(env: Mapping[str, str]) -> int:
    """Containers (then session networks) labelled with this platform's runner id that
    survived the runner."""
    client = docker.DockerClient(base_url=env.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    mine = {"label": [f"{labels.RUNNER}={env['RUNNER_ID']}"]}
    try:
        found = client.api.containers(all=True, filters=mine)
        for container in found:
            try:
                client.api.remove_container(container["Id"], force=True)
            except docker.errors.NotFound:  # gone meanwhile (runner, janitor)
                pass
            except docker.errors.APIError as exc:  # its root filesystem still mounted, say
                print(f"cannot remove container {container['Id'][:12]}: {exc}", file=sys.stderr)
        for network in client.api.networks(filters=mine):
            with contextlib.suppress(docker.errors.NotFound):
                client.api.remove_network(network["Id"])
        return len(found)
    finally:
        client.close()


def secret(data_dir: Path, name: str) -> str:
    """A random secret kept under ``data_dir/secrets`` (mode 600), made on first use, so that
    webhook receivers and reconnecting browsers keep working across restarts."""
    path = data_dir / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()


def run(data_dir: Path, port: int, environ: Mapping[str, str]) -> int:
    env = dict(environ)
    env.setdefault("RUNNER_ID", f"{socket.gethostname()}-{os.getpid()}")
    for name in ("WEBHOOK_SECRET", "SESSION_SECRET"):
        if not env.get(name):
            env[name] = secret(data_dir, name.lower().replace("_", "-"))
    platform = Platform(data_dir, env, port=port)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        platform.start()
        platform.wait_ready()
        print(
            f"CodeRunner is up: open {platform.url}  (NATS {platform.env['NATS_URL']})", flush=True
        )
        print(f"Webhooks are signed with the secret in {data_dir / 'secrets/webhook-secret'}"
              if not environ.get("WEBHOOK_SECRET") else "Webhooks are signed with WEBHOOK_SECRET.",
              flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            platform.check_children()
            time.sleep(0.5)
        return 0
    except RuntimeError as exc:
        print(f"coderunner up: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping…", flush=True)
        platform.stop()
        removed = remove_runner_containers(platform.env)
        if removed:
            print(f"removed {removed} container(s) the runner left behind", flush=True)
