"""Extra Docker engines (``coderunner/engines.py``), each in a network namespace of its own: a
platform whose runner uses one runs jobs, a session's server and client still talk, a session
sandbox reaches nothing on the host, images load only when missing, and a torn-down engine
leaves no process, mount, namespace or cgroup behind."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from coderunner.engines import Engine, reserved, running_engines
from tests.conftest import Running, need_root, running_platform
from tests.integration.wsclient import Client

# The first run on a machine loads the images into the engine (a minute on two busy cores).
pytestmark = pytest.mark.timeout(300)
IMAGES = ["coderunner/python:latest", "coderunner/bash:latest"]
SERVER = """import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000))
s.listen()
print("listening", flush=True)
c, _ = s.accept()
c.sendall(b"echo:" + c.recv(100))
"""
CLIENT = """import socket
s = socket.create_connection(("server", 9000), timeout=3)
s.sendall(b"hello")
print(s.recv(100).decode())
"""
PROBE = """import json, socket, sys
out = {}
for target in json.loads(sys.argv[1]):
    host, port = target
    try:
        socket.create_connection((host, port), timeout=2).close()
        out[f"{host}:{port}"] = "CONNECTED"
    except OSError as exc:
        out[f"{host}:{port}"] = type(exc).__name__
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", tuple(json.loads(sys.argv[1])[0]))
except OSError:
    pass
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    need_root("extra Docker engines")
    with running_engines(1, IMAGES) as [engine]:
        yield engine


@pytest.fixture(scope="module")
def on_engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_platform(tmp_path_factory.mktemp("engine"),
                          DOCKER_HOST=engine.socket_url) as running:
        yield running


@pytest.fixture
async def client(on_engine: Running) -> AsyncIterator[Client]:
    c = await Client.connect(on_engine.ws_url)
    yield c
    await c.close()


@pytest.fixture
def host_listener() -> Iterator[tuple[socket.socket, socket.socket, int]]:
    """A TCP listener (IPv4 and IPv6) and a UDP socket of our own on every host address."""
    listener = socket.socket(socket.AF_INET6)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    datagrams.bind(("0.0.0.0", port))
    datagrams.setblocking(False)
    yield listener, datagrams, port
    listener.close()
    datagrams.close()


def host_addresses() -> list[str]:
    """Every IPv4 address of the host's own network namespace (docker0's among them)."""
    found = json.loads(subprocess.check_output(["ip", "-j", "-4", "addr"], text=True))
    return [a["local"] for link in found for a in link.get("addr_info", [])]


async def test_jobs_run_on_the_extra_engine_not_on_the_main_one(
    client: Client, engine: Engine,
) -> None:
    result = await client.run({"main.py": "import socket\nprint(socket.gethostname())"})
    assert result.verdict == "ok", result.events
    extra = engine.client()
    try:
        assert extra.containers.get(result.stdout.strip()).id, "it ran on the extra engine"
    finally:
        extra.close()


async def test_a_session_server_and_client_talk_on_an_extra_engine(client: Client) -> None:
    queued = await client.submit({"server.py": SERVER}, request_id="server", network=True)
    while (event := await client.receive()).get("type") != "output":
        assert event.get("type") != "completion", event
    result = await client.run({"client.py": CLIENT}, request_id="client", network=True)
    assert (result.verdict, result.stdout) == ("ok", "echo:hello\n"), result.stderr
    assert (await client.collect(queued["executionId"])).verdict == "ok"


async def test_a_session_sandbox_on_an_extra_engine_reaches_nothing_on_the_host(
    client: Client, engine: Engine, on_engine: Running,
    host_listener: tuple[socket.socket, socket.socket, int],
) -> None:
    listener, datagrams, port = host_listener
    nats_port = int(on_engine.nats_url.rsplit(":", 1)[1])
    gateway = engine.bridge_ip.split("/")[0]
    targets = [[address, port] for address in host_addresses()]
    targets += [["127.0.0.1", nats_port], [gateway, port]]
    for network in (True, False):
        result = await client.run({"main.py": PROBE}, args=[json.dumps(targets)],
                                  network=network, request_id=f"probe-{network}")
        assert result.verdict == "ok", result.stderr
        outcome = json.loads(result.stdout)
        assert len(outcome) == len(targets)
        assert "CONNECTED" not in outcome.values(), outcome
    time.sleep(0.5)  # a datagram that got out would have arrived by now
    with pytest.raises(BlockingIOError):
        listener.accept()
    with pytest.raises(BlockingIOError):
        datagrams.recvfrom(100)


def test_images_load_only_when_missing(engine: Engine) -> None:
    assert engine.load_images(IMAGES) == []


def test_a_torn_down_engine_leaves_nothing_behind() -> None:
    need_root("extra Docker engines")
    with reserved(1, prefix="teardown") as [engine]:
        try:
            engine.start()
            client = engine.client()
            try:
                client.networks.create("leftover", internal=True)
            finally:
                client.close()
            pid = engine.pid()
            assert pid is not None and engine.answers()
            assert engine.restart() > 0 and engine.answers(), "it comes back"
        finally:
            engine.teardown(purge=True)
    assert engine.pid() is None and not engine.answers()
    assert not engine.netns_path.exists()
    assert not engine.data_root.exists() and not engine.exec_root.exists()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(engine.data_root) not in mounts and str(engine.exec_root) not in mounts
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{engine.cgroup_parent.strip('/')}"))
    strays = [p for p in Path("/proc").iterdir() if p.name.isdigit()
              and str(engine.exec_root) in _cmdline(p)]
    assert not strays


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_an_engine_writes_firewall_rules_only_in_its_own_namespace(engine: Engine) -> None:
    """dockerd flushes the DOCKER chains of its network namespace when it starts: in the
    host's namespace an extra engine would wipe the main engine's rules."""
    client = engine.client()
    network = client.networks.create(
        "rules-probe", driver="bridge", internal=True,
        options={"com.docker.network.bridge.inhibit_ipv4": "true"})
    try:
        bridge = f"br-{str(network.id)[:12]}"
        inside = subprocess.check_output(
            ["nsenter", f"--net={engine.netns_path}", "--", "iptables-save"], text=True)
        host = subprocess.check_output(["iptables-save"], text=True)
    finally:
        network.remove()
        client.close()
    assert bridge in inside and ":FORWARD DROP" in inside
    assert bridge not in host and f"10.231.{engine.index}." not in host
