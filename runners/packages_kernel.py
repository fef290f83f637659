"""``%pip install`` in a python notebook (docs/packages.md, Notebooks): the packages installed
for the cell's kernel, which keeps its state.

A kernel's container is already running, and a volume cannot be mounted into a running
container, so the layer is built and cached exactly as a run's (``Packages.layer_of``: fetched
on the host without running package code, installed in a sandbox without network, kept by the
resolved set's hash and shared), then read back from its volume as a clean tar and handed to
the kernel's agent as data (``PutLayer``), which unpacks it root-owned on the sandbox's /tmp;
a silent statement in the kernel puts that directory on ``sys.path`` (and ``PYTHONPATH``, for
the processes the kernel starts). The host never opens a path the sandbox made.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

import docker.errors
import requests

from contracts.messages import (
    CellJob,
    ExecutionEvent,
    Isolation,
    NotebookOutputEvent,
    Verdict,
    encode,
)
from contracts.packages import LAYER_PREFIX
from contracts.runtimes import Runtime
from runners import agent_messages as agent
from runners.execution import Publish
from runners.link import AgentGone
from runners.packages import Layer, Packages, PackagesFailed, Say
from runners.packages_layers import LayerRefused
from runners.packages_magic import pip_cell
from runners.packages_requests import BadRequest, PackageRequest
from runners.sandbox import Sandbox

PIECE_BYTES = 1 << 20
"""Bytes of the layer's tar in one ``PutLayer`` (each a line the agent reads whole)."""
AGENT_WAIT_S = 60.0
"""How long the agent and the kernel have to take a layer; past it the kernel is given up."""
LAYER_PATH = re.compile(r"^/tmp/\.coderunner-packages-[0-9a-f]{1,12}-[A-Za-z0-9_]+$")
ON_PATH = ("(lambda s, o, p: (p in s.path or s.path.insert(1 if s.path and s.path[0] in "
           "('', o.getcwd()) else 0, p), o.environ.__setitem__('PYTHONPATH', o.pathsep.join("
           "[p, *[e for e in o.environ.get('PYTHONPATH', '').split(o.pathsep) if e and e != p]]"
           ")), __import__('importlib').invalidate_caches()))"
           "(__import__('sys'), __import__('os'), {path!r})")
"""Run silently in the kernel: the layer's directory on ``sys.path`` after the working
directory (as ``PYTHONPATH`` would put it), and on ``PYTHONPATH`` for the processes it starts.
An expression of builtins: no name is left in the notebook's namespace."""
KERNEL = "python"
STOPPED = "the install was stopped: nothing was installed in the kernel"
READ_CACHE_BYTES = 64 * 2**20
"""Layers read back from their volumes kept in the runner's memory, newest first, up to this
in all: a set asked for again skips the helper container (about 0.2 s). A layer's volume is
named by its content's hash, so a kept copy never goes stale."""


class Stopped(Exception):
    """The ``%pip`` cell was stopped before its layer was ready."""


class CellOutput:
    """A ``%pip`` cell's outputs (nbformat streams), within the cell's output limit."""

    def __init__(self, job: CellJob, publish: Publish, limit: int) -> None:
        self.job, self.publish, self.left = job, publish, limit

    async def write(self, name: str, text: str) -> None:
        output = {"output_type": "stream", "name": name, "text": text}
        self.left -= len(encode(output))
        if self.left >= 0:
            event: ExecutionEvent = NotebookOutputEvent(
                self.job.execution_id, self.job.notebook_id, self.job.cell_id, output)
            await self.publish(event)

    async def stdout(self, text: str) -> None:
        await self.write("stdout", text)


class KernelPackages:
    """Installs a ``%pip`` cell's packages into its kernel; without ``packages`` (a runner that
    installs none) such a cell is refused."""

    def __init__(self, packages: Packages | None = None, runtime: Runtime | None = None,
                 isolation: Isolation = "runc") -> None:
        self.packages = packages
        self.runtime = runtime
        """The kernels' runtime (contracts.messages.KERNEL_RUNTIME): a run's layer of the same
        packages is the same layer."""
        self.isolation = isolation
        self._read: OrderedDict[str, bytes] = OrderedDict()
        """Volume → its layer's clean tar, least recently used first."""

    async def cell(self, sandbox: Sandbox, job: CellJob, output_bytes: int, publish: Publish,
                   stop: asyncio.Event | None = None) -> tuple[Verdict, str | None] | None:
        """The verdict of ``job`` if it is a ``%pip`` cell, which is then done; None for any
        other cell (the kernel runs it). AgentGone when the kernel's container went. ``stop``
        set during the fetch or the install ends them: the cell is ``cancelled``."""
        if job.kernel != KERNEL:
            return None
        out = CellOutput(job, publish, output_bytes)
        try:
            request = pip_cell(job.code, job.files)
            if request is None:
                return None
            names = await self.install(sandbox, request, out.stdout, stop or asyncio.Event())
        except (BadRequest, PackagesFailed) as exc:
            await out.write("stderr", f"{exc}\n")
            return "compile_error", str(exc)
        except Stopped:
            await out.write("stderr", f"{STOPPED}\n")
            return "cancelled", STOPPED
        await out.stdout(f"Installed in this kernel: {names}. A kernel restart removes them "
                         "(run this cell again).\n")
        return "ok", None

    async def install(self, sandbox: Sandbox, request: PackageRequest, say: Say,
                      stop: asyncio.Event) -> str:
        """Install ``request`` for the kernel in ``sandbox``; what was asked for, as words.
        Stopped when ``stop`` is set before the layer is ready (the copy into the kernel, once
        begun, is not cut: the agent would keep half a layer)."""
        if self.packages is None or self.runtime is None:
            raise PackagesFailed("this runner does not install packages")
        layer = await unless_stopped(
            self.packages.layer_of(request, self.runtime, self.isolation, say), stop)
        tar = await self._layer_tar(layer.volume)
        path = await put_layer(sandbox, layer.volume.removeprefix(LAYER_PREFIX), tar)
        await on_path(sandbox, path)
        return ", ".join(request.names)

    async def _layer_tar(self, volume: str) -> bytes:
        assert self.packages is not None and self.runtime is not None
        tar = self._read.pop(volume, None)
        if tar is None:
            limit = self.packages.settings.max_layer_mb * 2**20
            try:
                tar = await self.packages.layers.read(volume, self.runtime.image_tag, limit)
            except (LayerRefused, docker.errors.DockerException,
                    requests.RequestException) as exc:
                raise PackagesFailed(f"reading the packages' layer failed: {exc}") from None
        self._read[volume] = tar
        while sum(map(len, self._read.values())) > READ_CACHE_BYTES:
            self._read.popitem(last=False)
        return tar


async def unless_stopped(work: Coroutine[Any, Any, Layer], stop: asyncio.Event) -> Layer:
    """``work``'s result; Stopped (``work`` cancelled: a fetch's pip is killed, an install's
    sandbox removed) once ``stop`` is set first."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise Stopped
    return task.result()


async def put_layer(sandbox: Sandbox, key: str, tar: bytes) -> str:
    """Hand the layer to the kernel's agent, in pieces; the directory it unpacked it in."""
    pieces = range(0, max(len(tar), 1), PIECE_BYTES)
    for start in pieces:
        data = base64.b64encode(tar[start:start + PIECE_BYTES]).decode()
        await sandbox.link.send(agent.PutLayer(key, data, last=start == pieces[-1]),
                              timeout=AGENT_WAIT_S)
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        event = await sandbox.link.next_event(timeout=deadline - time.monotonic())
        if isinstance(event, agent.LayerPut):
            break
        if isinstance(event, agent.FromKernel) and event.data.get("msg") == "exited":
            raise AgentGone("the kernel bridge exited")
    if not event.ok:
        raise PackagesFailed(f"the packages could not be copied into the kernel: {event.error}")
    if LAYER_PATH.match(event.path) is None:
        raise AgentGone(f"the agent put the layer at {event.path[:80]!r}")
    return event.path


async def on_path(sandbox: Sandbox, path: str) -> None:
    """Put ``path`` on the kernel's ``sys.path``, silently (no output, no cell number)."""
    ident = f"packages-{path.rsplit('-', 1)[-1]}"
    sandbox.link.write_now(agent.ToKernel({"op": "execute", "id": ident, "silent": True,
                                           "code": ON_PATH.format(path=path)}))
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        event = await sandbox.link.next_event(timeout=deadline - time.monotonic())
        if not isinstance(event, agent.FromKernel):
            continue
        if event.data.get("msg") == "exited":
            raise AgentGone("the kernel bridge exited")
        if event.data.get("msg") == "done" and event.data.get("id") == ident:
            break
    if event.data.get("status") != "ok":
        raise PackagesFailed("the kernel could not put the packages on its path "
                             f"({str(event.data.get('status'))[:40]})")
