"""Packages on demand (docs/packages.md): the read-only layer a run's packages are mounted from,
found in the cache or fetched, installed in a sandbox without network, and kept."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from msgspec import Struct

from contracts.messages import Isolation, OutputEvent, ProgramJob
from contracts.packages import LAYER_MOUNT, NODE_MODULES_MOUNT, PackageSettings
from contracts.runtimes import Runtime
from runners import agent_messages as agent
from runners.execution import Publish
from runners.link import AgentGone
from runners.packages_fetch import Fetched, FetchFailed, fetch
from runners.packages_layers import DockerLayers, LayerRefused, clean_layer, volume_name
from runners.packages_requests import PackageRequest
from runners.sandbox import BASE_ENV, DockerSandboxes, Sandbox, SandboxError

log = logging.getLogger(__name__)
Say = Callable[[str], Awaitable[None]]
"""Where an install's output goes: a run's stderr, a notebook cell's output."""
INSTALLER = Path(__file__).with_name("packages_installer.py").read_text()
INSTALL_MEMORY_MB = 1024
INSTALL_PROCESSES = 64
INSTALL_GRACE_S = 5.0
"""Past the install's time limit, how long the agent has to report before the sandbox goes."""
LOG_TAIL = 1500
"""How much of the install's output ends a failed install's message."""
LAYER_MOUNTS = {"pip": LAYER_MOUNT, "npm": NODE_MODULES_MOUNT}
LAYER_ENV: dict[str, dict[str, str]] = {"pip": {"PYTHONPATH": LAYER_MOUNT}, "npm": {}}
"""What a layer adds to a run's environment: Node finds /node_modules from any directory
without it (contracts/packages.py, NODE_MODULES_MOUNT)."""


class PackagesFailed(Exception):
    """The packages could not be fetched or installed: the run ends ``compile_error``."""


class Layer(Struct, frozen=True):
    volume: str
    mount: str
    env: dict[str, str]


class Packages:
    """Layers by request: a request seen before costs one volume look-up."""

    def __init__(self, settings: PackageSettings, layers: DockerLayers,
                 sandboxes: DockerSandboxes, versions: dict[str, str]) -> None:
        self.settings = settings
        self.layers = layers
        self.sandboxes = sandboxes
        self.versions = versions
        """Language → version of its image: part of a layer's key; pip resolves for Python's."""
        self.known: dict[str, str] = {}
        """``seen_key`` (a request, and the image it is installed for) → its layer's volume."""
        self._locks: dict[str, asyncio.Lock] = {}

    async def layer_for(self, job: ProgramJob, request: PackageRequest, runtime: Runtime,
                        isolation: Isolation, publish: Publish) -> Layer:
        """The layer of a run's ``request``; the install's output is the run's stderr."""
        async def say(text: str) -> None:
            await publish(OutputEvent(job.execution_id, "stderr", text))
        return await self.layer_of(request, runtime, isolation, say)

    async def layer_of(self, request: PackageRequest, runtime: Runtime, isolation: Isolation,
                       say: Say) -> Layer:
        """The layer of ``request``; an install runs under ``isolation`` (the job's) and tells
        its output to ``say``. Requests for the same packages at once wait for the first
        one's layer: one download, one install."""
        seen = seen_key(request, runtime, self.versions.get(runtime.name, ""))
        async with self._lock(seen):
            volume = self.known.get(seen)
            if volume is None or not await self.layers.exists(volume):
                volume = await self._fetch_and_install(request, runtime, isolation, say)
                self.known[seen] = volume
        return Layer(volume, LAYER_MOUNTS[request.kind], LAYER_ENV[request.kind])

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def _fetch_and_install(self, request: PackageRequest, runtime: Runtime,
                                 isolation: Isolation, say: Say) -> str:
        try:
            fetched = await fetch(request, self.settings,
                                  minor_version(self.versions.get("python", "")))
        except FetchFailed as exc:
            raise PackagesFailed(str(exc)) from None
        key = layer_key(fetched, runtime, self.versions.get(runtime.name, ""))
        volume = volume_name(key)
        async with self._lock(key):  # two requests (``a``, ``a==1``) may resolve alike
            if not await self.layers.exists(volume):
                raw = await self._install(fetched, runtime, isolation, say)
                try:
                    layer, size = clean_layer(raw, self.settings.max_layer_mb * 2**20)
                except LayerRefused as exc:
                    raise PackagesFailed(str(exc)) from None
                await self.layers.store(volume, key, layer, size, runtime.image_tag)
        return volume

    async def _install(self, fetched: Fetched, runtime: Runtime, isolation: Isolation,
                       say: Say) -> bytes:
        sandbox = await self.sandboxes.create(install_runtime(runtime, self.settings),
                                              isolation=isolation)
        try:
            return await self._install_in(sandbox, fetched, say)
        except AgentGone as exc:
            raise PackagesFailed(f"the install sandbox stopped answering: {exc}") from None
        finally:
            await self.sandboxes.destroy(sandbox)

    async def _install_in(self, sandbox: Sandbox, fetched: Fetched, say: Say) -> bytes:
        wall_ms = self.settings.install_timeout_s * 1000
        output_bytes = self.settings.max_layer_mb * 2**20 * 3 // 2 + 2**20
        await sandbox.link.send(agent.Run(
            files=install_files(fetched),
            steps=[agent.StepSpec("compile", ["python3", "-I", "installer.py", fetched.kind])],
            env=dict(BASE_ENV), limits=agent.StepLimits(wall_ms, wall_ms, output_bytes),
            close_stdin=True))
        layer: list[str] = []
        said: list[str] = []
        deadline = time.monotonic() + self.settings.install_timeout_s + INSTALL_GRACE_S
        while True:
            match await sandbox.link.next_event(timeout=deadline - time.monotonic()):
                case agent.Output(stream="stdout", data=data):
                    layer.append(data)
                case agent.Output(data=data):
                    said.append(data)
                    await say(data)
                case agent.Done() as done:
                    break
                case _:
                    pass
        if done.exit_code != 0 or done.signal or done.timed_out or done.output_exceeded:
            why = ("took more than its time limit" if done.timed_out else
                   "sent more than its size limit" if done.output_exceeded else "failed")
            raise PackagesFailed(f"installing the packages {why}: {done.error or ''}\n"
                                 + "".join(said)[-LOG_TAIL:])
        try:
            return base64.b64decode("".join(layer))
        except (binascii.Error, ValueError):
            raise PackagesFailed("the install sent an unreadable layer") from None


def minor_version(version: str) -> str:
    """``3.11`` of ``3.11.2``; empty when the image's version is unknown."""
    parts = version.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]) else ""


def install_runtime(runtime: Runtime, settings: PackageSettings) -> Runtime:
    """The language's image with the install's limits, its /tmp as large as a layer may be,
    and no warm helpers."""
    limits = msgspec.structs.replace(
        runtime.limits, memory_mb=INSTALL_MEMORY_MB, processes=INSTALL_PROCESSES,
        tmp_mb=settings.max_layer_mb, wall_ms=settings.install_timeout_s * 1000)
    return msgspec.structs.replace(runtime, limits=limits, fork_server=None, compile_server=None)


def install_files(fetched: Fetched) -> list[agent.SourceFile]:
    files = [agent.SourceFile("installer.py", INSTALLER)]
    plan = json.loads(fetched.plan) if fetched.plan else [
        {"name": a.name, "file": f"{i}.b64"} for i, a in enumerate(fetched.artifacts)]
    names = [item["file"] for item in plan] if fetched.kind == "npm" else \
        [f"{i}.b64" for i in range(len(fetched.artifacts))]
    files.append(agent.SourceFile("pkg/plan.json", json.dumps(plan)))
    for name, artifact in zip(names, fetched.artifacts, strict=True):
        files.append(agent.SourceFile(f"pkg/{name}", base64.b64encode(artifact.data).decode()))
    return files


def seen_key(request: PackageRequest, runtime: Runtime, version: str) -> str:
    """What a layer is remembered by before its set is resolved: the request, and what of
    ``layer_key`` is not the resolved set (the installer, the image, its language's version)."""
    parts = [request.key, hashlib.sha256(INSTALLER.encode()).hexdigest(), runtime.image_tag,
             version]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def layer_key(fetched: Fetched, runtime: Runtime, version: str) -> str:
    """The layer's key: the resolved set, the installer, and the image (and its language's
    version) it was installed with."""
    parts = [fetched.digest(), hashlib.sha256(INSTALLER.encode()).hexdigest(), runtime.image_tag,
             version]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def runtime_with(runtime: Runtime, layer: Layer) -> Runtime:
    """The runtime a run with ``layer`` uses: its environment names the layer (the fork
    server, started with the sandbox, must see it too)."""
    return msgspec.structs.replace(runtime, env={**runtime.env, **layer.env})


__all__ = ["Layer", "Packages", "PackagesFailed", "SandboxError", "runtime_with"]
