"""Several runner hosts on this one machine: the test bed of the scale-out fault test and of
``coderunner bench --hosts``.

A runner host is an extra Docker engine (``coderunner/engines.py``: its own network namespace,
data root, socket and bridge) with a runner agent, and optionally a janitor, of its own pointed
at it. ``control_plane`` runs what the hosts serve: a nats-server (or a three-node cluster on
loopback), a dispatcher and an edge, and no runner. ``heartbeats`` and ``job_counts`` read the
``runners`` bucket, where each runner says how many jobs it has taken so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.js.api import StorageType, StreamConfig

from coderunner.engines import Engine, running_engines
from coderunner.nats_server import NatsCluster, NatsServer, free_port
from coderunner.up import Platform, remove_runner_containers
from contracts import subjects
from contracts.messages import RunnerInfo
from contracts.settings import nats_servers

Process = subprocess.Popen[bytes]


class MultiHostError(RuntimeError):
    """The multi-host test bed did not come up."""


def _spawn(role: str, env: Mapping[str, str]) -> Process:
    return subprocess.Popen([sys.executable, "-m", "coderunner", role], env=dict(env))


def end_process(process: Process, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 20
                ) -> None:
    """Signal a child (if it still runs) and reap it, killing it after ``timeout_s``."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class RunnerHost:
    """One extra engine and the runner agent (and janitor) that use it."""

    engine: Engine
    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)

    @property
    def runner_id(self) -> str:
        return self.env["RUNNER_ID"]

    def start(self, janitor: bool = True) -> RunnerHost:
        self.processes["runner"] = _spawn("runner", self.env)
        if janitor:
            self.processes["janitor"] = _spawn("janitor", self.env)
        return self

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.processes.values())

    def stop(self) -> None:
        """SIGTERM (the runner removes its containers), then whatever it left."""
        for process in self.processes.values():
            end_process(process)
        if self.engine.answers():
            remove_runner_containers(self.env)

    def kill(self) -> float:
        """The host disappears: SIGKILL its runner and janitor, then stop its engine (which
        stops the sandboxes). Returns the seconds the engine took to stop."""
        for process in self.processes.values():
            end_process(process, signal.SIGKILL)
        return self.engine.stop()


def host_env(engine: Engine, plane_env: Mapping[str, str],
             settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """A runner host's environment: the platform's, with its own runner id and engine;
    ``settings`` override it."""
    return {**plane_env, "RUNNER_ID": f"{plane_env['PLATFORM_ID']}-{engine.name}",
            "DOCKER_HOST": engine.socket_url, **(settings or {})}


@contextlib.contextmanager
def runner_hosts(count: int, plane_env: Mapping[str, str], images: Sequence[str],
                 settings: Mapping[str, str] | None = None, janitor: bool = True
                 ) -> Iterator[list[RunnerHost]]:
    """``count`` runner hosts on reserved extra engines with ``images`` loaded, attached to the
    platform whose environment is ``plane_env``; ``settings`` go to every host's processes."""
    with running_engines(count, images) as engines:
        hosts = [RunnerHost(engine, host_env(engine, plane_env, settings))
                 for engine in engines]
        try:
            for host in hosts:
                host.start(janitor)
            yield hosts
        finally:
            for host in hosts:
                host.stop()


class Locator:
    """Which host's engine a sandbox (named by its host name, the container's short id) is
    on. An engine that stopped answering is dropped, its client closed, before docker-py would
    connect to it: docker-py leaves the socket of a failed connect open (unclosed AF_UNIX
    sockets, a ResourceWarning when collected)."""

    def __init__(self, hosts: Sequence[RunnerHost]) -> None:
        self._engines = {host.engine.name: host.engine for host in hosts}
        self._clients = {name: engine.client(timeout=10) for name, engine in self._engines.items()}

    def engine_of(self, hostname: str) -> str | None:
        if not hostname:
            return None
        for name, client in list(self._clients.items()):
            if not self._engines[name].answers():
                client.close()
                del self._clients[name]
                continue
            try:
                client.api.inspect_container(hostname)
                return name
            except docker.errors.NotFound:
                continue
        return None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


@dataclass
class ControlPlane:
    """NATS, a dispatcher and an edge: a platform whose runners are elsewhere."""

    platform: Platform
    nats: NatsServer | NatsCluster

    @property
    def url(self) -> str:
        return self.platform.url

    @property
    def env(self) -> dict[str, str]:
        """What every component of this platform takes: NATS_URL, PLATFORM_ID and the
        settings."""
        return self.platform.env

    @property
    def nats_url(self) -> str:
        return self.env["NATS_URL"]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"


@contextlib.contextmanager
def control_plane(data_dir: Path, nats_nodes: int = 1,
                  settings: Mapping[str, str] | None = None) -> Iterator[ControlPlane]:
    """An edge and a dispatcher on a nats-server of their own (``nats_nodes`` 3: a cluster on
    loopback, streams replicated three times); ``settings`` override the environment."""
    nats_: NatsServer | NatsCluster = (
        NatsServer(data_dir / "nats", port=0) if nats_nodes == 1
        else NatsCluster(data_dir / "nats", size=nats_nodes))
    platform: Platform | None = None
    try:
        nats_.start()
        env = {**os.environ, "NATS_URL": nats_.url,
               "PLATFORM_ID": f"hosts-{uuid.uuid4().hex[:6]}", "LOG_LEVEL": "WARNING",
               **(settings or {})}
        if nats_nodes > 1:
            asyncio.run(wait_for_jetstream(nats_.url, replicas=min(nats_nodes, 3)))
        platform = Platform(data_dir, env, port=free_port(), roles=("dispatcher", "edge"))
        platform.start()
        platform.wait_ready()
        yield ControlPlane(platform, nats_)
    finally:
        if platform is not None:
            platform.stop()
        nats_.stop()


async def wait_for_jetstream(url: str, replicas: int, timeout_s: float = 60.0) -> None:
    """Until the cluster has a JetStream meta leader and takes a replicated stream."""
    nc = await nats.connect(nats_servers(url))
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await js.add_stream(StreamConfig(name="READY", subjects=["ready.probe"],
                                                 storage=StorageType.MEMORY,
                                                 num_replicas=replicas))
                await js.delete_stream("READY")
                return
            except (nats.js.errors.APIError, nats.errors.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await nc.close()


async def heartbeats(nats_url: str, runner_ids: Sequence[str]) -> dict[str, RunnerInfo]:
    """The latest heartbeat of each of ``runner_ids`` that has one in the ``runners`` bucket
    (put every ``RUNNER_HEARTBEAT_S``, gone ``RUNNER_TTL_S`` after the last)."""
    nc = await nats.connect(nats_servers(nats_url))
    try:
        kv = await nc.jetstream().key_value(subjects.RUNNERS_BUCKET)
        found: dict[str, RunnerInfo] = {}
        for runner_id in runner_ids:
            try:
                entry = await kv.get(runner_id)
            except nats.js.errors.KeyNotFoundError:
                continue
            found[runner_id] = msgspec.json.decode(entry.value or b"", type=RunnerInfo)
        return found
    finally:
        await nc.close()


async def job_counts(nats_url: str, runner_ids: Sequence[str]) -> dict[str, int]:
    """Runner id → jobs it has taken so far, as its last heartbeat says (0 without one)."""
    infos = await heartbeats(nats_url, runner_ids)
    return {runner_id: infos[runner_id].jobs if runner_id in infos else 0
            for runner_id in runner_ids}


async def jobs_since(nats_url: str, before: Mapping[str, int], total: int,
                     timeout_s: float = 30.0) -> dict[str, int]:
    """Runner id → jobs taken since ``before``, once the heartbeats account for ``total`` of
    them (a heartbeat lags by up to ``RUNNER_HEARTBEAT_S``) or ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = await job_counts(nats_url, list(before))
        since = {runner_id: now[runner_id] - before[runner_id] for runner_id in before}
        if sum(since.values()) >= total or time.monotonic() > deadline:
            return since
        await asyncio.sleep(0.5)


async def wait_until_warm(nats_url: str, hosts: Sequence[RunnerHost],
                          timeout_s: float = 180.0) -> float:
    """Until every host's heartbeat shows each of its pools at its target; returns seconds."""
    started = time.monotonic()
    ids = [host.runner_id for host in hosts]
    while True:
        for host in hosts:
            if not host.alive():
                raise MultiHostError(f"a process of runner host {host.engine.name} exited")
        infos = await heartbeats(nats_url, ids)
        if len(infos) == len(ids) and all(
                info.pools and all(p.warm >= p.target for p in info.pools.values())
                for info in infos.values()):
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise MultiHostError(f"runner hosts not warm within {timeout_s} s: "
                                 f"{ {i: info.pools for i, info in infos.items()} }")
        await asyncio.sleep(0.5)
