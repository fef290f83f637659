"""Notebook kernels on this runner: a hardened container per notebook, its cells one at a time.

A kernel belongs to one owner (a browser session or an API key) and one notebook id, together
the notebook's key. Its container runs the agent, which runs ``kernel_bridge.py``, which runs a
real Jupyter kernel (ipykernel, or bash_kernel) and speaks the Jupyter protocol to it. Cells
arrive as jobs from the queue; each one waits for the notebook's previous cell. The edge
interrupts, restarts and closes a kernel through ``notebook.control.<key>``, to which only the
runner holding that kernel listens. Kernels idle for ``KERNEL_TTL`` are removed with their state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.messages import (
    CellJob,
    CompletionEvent,
    Control,
    ControlReply,
    JobFile,
    NotebookCommand,
    NotebookOutputEvent,
    NotebookReply,
    Verdict,
    completion_for,
    encode,
    status_for,
)
from contracts.runtimes import Runtime
from contracts.subjects import notebook_key
from runners import agent_messages as agent
from runners.execution import HARD_END_GRACE_S, Publish
from runners.link import AgentGone
from runners.packages_kernel import KernelPackages
from runners.pool import WarmPool
from runners.sandbox import Sandbox, SandboxError

log = logging.getLogger(__name__)
BRIDGE = ["python3", "-I", "/opt/coderunner/kernel_bridge.py"]
START_TIMEOUT_S = 60.0
WARM_UP = {"op": "execute", "id": "warm-up", "silent": True,
           "code": "__import__('numpy'), __import__('matplotlib.pyplot'), "
                   "__import__('matplotlib_inline.backend_inline')"}
"""Run silently in a spare kernel: the libraries a plot needs are loaded before anyone asks
(nothing is bound in the user's namespace, and the cell count stays at 0)."""
SPARE_KERNEL = "python"
"""The kernel the spares run (a bash notebook starts its own); every kernel's image is
``contracts.messages.KERNEL_RUNTIME``."""
DEADLINE_CHECK_S = 0.5
INTERRUPT_GRACE_S = 10.0
"""A cell that is stopped, interrupted or past the output cap is interrupted; if it is not done
this long after, its kernel is taken away (frozen, then removed). At its wall limit the grace is
``HARD_END_GRACE_S``, and no grace goes past it: the cell's completion comes within its wall
limit plus 2 s, as a program's does."""


class Unsubscribe(Protocol):
    async def unsubscribe(self) -> None: ...


CreateKernel = Callable[[], Awaitable[Sandbox]]
Destroy = Callable[[Sandbox], Awaitable[None]]
CommandHandler = Callable[[NotebookCommand], Awaitable[NotebookReply]]
SubscribeCommands = Callable[[str, CommandHandler], Awaitable[Unsubscribe]]
ControlHandler = Callable[[Control], Awaitable[ControlReply]]
SubscribeControl = Callable[[str, ControlHandler], Awaitable[Unsubscribe]]


@dataclass
class Kernel:
    key: str
    name: str
    sandbox: Sandbox
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    running: str | None = None
    """The execution id of the cell running now."""
    ended_by: Verdict | None = None
    """Why the running cell is being ended early (stop, time or output limit, close)."""
    interrupted: bool = False
    deadline: float = 0.0
    wall_end: float = 0.0
    """When the running cell's wall limit ends."""
    """When the running cell is given up on: its wall limit, or a grace after an interrupt."""
    closing: bool = False
    commands: Unsubscribe | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the running cell is stopped, interrupted or its kernel removed: a ``%pip``
    cell's fetch or install ends at once."""


@dataclass(frozen=True)
class CellLimits:
    wall_ms: int
    output_bytes: int


@dataclass
class CellRun:
    """What one cell produced so far."""

    output_bytes: int = 0
    truncated: bool = False
    count: int | None = None


class Kernels:
    def __init__(self, create: CreateKernel, destroy: Destroy, take_away: Destroy,
                 env: dict[str, str], ttl_s: float, subscribe_commands: SubscribeCommands,
                 subscribe_control: SubscribeControl, spares: int = 0,
                 image: Runtime | None = None, packages: KernelPackages | None = None) -> None:
        self._create = create
        self._destroy = destroy
        self._take_away = take_away
        """Freezes a kernel that did not stop when interrupted, and removes it."""
        self._env = env
        self.ttl_s = ttl_s
        self._subscribe_commands = subscribe_commands
        self._subscribe_control = subscribe_control
        self._packages = packages or KernelPackages()
        """``%pip install`` cells (docs/packages.md, Notebooks)."""
        self._kernels: dict[str, Kernel] = {}
        self._owners: dict[str, str] = {}
        """Notebook key → its owner (the key is a digest of both)."""
        self._starting: dict[str, asyncio.Lock] = {}
        # python kernels kept started and warmed up, never used, for the next notebook
        self._spares = WarmPool(image, spares, lambda _: self._spare_kernel(), destroy,
                                name="kernels") if image is not None and spares > 0 else None

    def start(self) -> None:
        if self._spares is not None:
            self._spares.start()

    async def _spare_kernel(self) -> Sandbox:
        """A started python kernel with the libraries a plot needs loaded: a spare."""
        sandbox = await self._started(SPARE_KERNEL)
        try:
            await self._warm_up(sandbox)
        except (AgentGone, SandboxError) as exc:
            await self._destroy(sandbox)
            raise SandboxError(f"warming up a kernel failed: {exc}") from exc
        return sandbox

    async def _warm_up(self, sandbox: Sandbox) -> None:
        await sandbox.link.send(agent.ToKernel(WARM_UP))
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            event = await sandbox.link.next_event(timeout=deadline - time.monotonic())
            if isinstance(event, agent.FromKernel) and event.data.get("msg") == "done" and \
                    event.data.get("id") == WARM_UP["id"]:
                return

    def __len__(self) -> int:
        return len(self._kernels)

    def owned(self, owner: str) -> list[Kernel]:
        """The owner's kernels (session control)."""
        return [k for key, k in self._kernels.items() if self._owners.get(key) == owner]

    async def close_owned(self, owner: str) -> int:
        """Close the owner's kernels, as ``close`` would (a session reset); how many."""
        kernels = self.owned(owner)
        for kernel in kernels:
            kernel.closing = True
            if kernel.running:
                kernel.ended_by = "cancelled"
            await self._remove(kernel)
        return len(kernels)

    # --- cells ------------------------------------------------------------------------------------

    async def run(self, job: CellJob, limits: CellLimits, publish: Publish,
                  queued_ms: int) -> CompletionEvent:
        key = notebook_key(job.owner, job.notebook_id)
        self._owners[key] = job.owner
        try:
            kernel = await self._kernel(key, job.kernel, job.files)
        except SandboxError as exc:
            return completion_for(job, "internal_error", str(exc), queued_ms=queued_ms)
        async with kernel.lock:
            if self._kernels.get(key) is not kernel:  # closed while this cell waited
                return completion_for(job, "cancelled", "the notebook was closed",
                                      queued_ms=queued_ms)
            kernel.running, kernel.ended_by, kernel.interrupted = job.execution_id, None, False
            kernel.stop.clear()
            kernel.deadline = kernel.wall_end = time.monotonic() + limits.wall_ms / 1000
            control = await self._subscribe_control(
                job.execution_id, lambda c: self._on_control(kernel, c))
            try:
                return await self._run_cell(kernel, job, limits, publish, queued_ms)
            finally:
                kernel.running = None
                kernel.last_used = time.monotonic()
                with contextlib.suppress(Exception):
                    await control.unsubscribe()

    async def _run_cell(self, kernel: Kernel, job: CellJob, limits: CellLimits,
                        publish: Publish, queued_ms: int) -> CompletionEvent:
        started = time.monotonic()
        run = CellRun()
        try:
            await publish(status_for(job, "running"))
            pip = await self._packages.cell(kernel.sandbox, job, limits.output_bytes, publish,
                                            kernel.stop)
            if pip is not None:
                return completion_for(job, pip[0], pip[1], queued_ms=queued_ms,
                                      wall_ms=round((time.monotonic() - started) * 1000))
            await self._send(kernel, {"op": "execute", "id": job.execution_id, "code": job.code,
                                      "outputBytes": limits.output_bytes})
            while True:
                event = await self._next(kernel)
                if not isinstance(event, agent.FromKernel):
                    continue
                done = await self._on_kernel(kernel, job, event.data, run, limits, publish)
                if done is not None:
                    wall_ms = round((time.monotonic() - started) * 1000)
                    return completion_for(job, done[0], done[1], queued_ms=queued_ms,
                                          wall_ms=wall_ms, execution_count=run.count,
                                          truncated=run.truncated)
        except AgentGone:
            verdict = kernel.ended_by or "internal_error"
            message = ("the notebook was closed" if kernel.closing else
                       "the kernel did not stop when interrupted; it was removed with its state"
                       if kernel.interrupted else
                       "the kernel's container stopped; its state is lost")
            await self._remove(kernel, taken_away=kernel.interrupted and not kernel.closing)
            return completion_for(job, verdict, message, queued_ms=queued_ms,
                                  wall_ms=round((time.monotonic() - started) * 1000),
                                  truncated=run.truncated)

    async def _next(self, kernel: Kernel) -> agent.AgentEvent | None:
        """The sandbox's next event; None when the cell's deadline passed and it was
        interrupted; AgentGone when it passes again (the kernel is given up on)."""
        remaining = kernel.deadline - time.monotonic()
        if remaining > 0:
            try:
                # Never longer than DEADLINE_CHECK_S: an interrupt moves the deadline earlier.
                return await kernel.sandbox.link.next_event(
                    timeout=min(remaining, DEADLINE_CHECK_S))
            except AgentGone:
                if kernel.sandbox.link.closed:
                    raise
                return None
        if not kernel.interrupted:
            await self._interrupt(kernel, "time_limit")
            return None
        await kernel.sandbox.link.close()
        raise AgentGone("the cell did not stop after an interrupt")

    async def _interrupt(self, kernel: Kernel, verdict: Verdict) -> None:
        """SIGINT to the kernel for the running cell, which ends as ``verdict`` (unless it was
        ended for another reason first) and is given a grace to stop."""
        if kernel.running is None:
            await self._send(kernel, {"op": "interrupt"})
            return
        kernel.ended_by = kernel.ended_by or verdict
        kernel.stop.set()
        if not kernel.interrupted:
            kernel.interrupted = True
            grace = HARD_END_GRACE_S if verdict == "time_limit" else INTERRUPT_GRACE_S
            kernel.deadline = min(time.monotonic() + grace, kernel.wall_end + HARD_END_GRACE_S)
        await self._send(kernel, {"op": "interrupt"})

    async def _on_kernel(self, kernel: Kernel, job: CellJob, data: dict[str, Any], run: CellRun,
                         limits: CellLimits, publish: Publish) -> tuple[Verdict, str | None] | None:
        """Relay one message of the bridge; the cell's verdict once it is done."""
        mine = data.get("id") == job.execution_id
        msg = data.get("msg")
        if msg == "output" and mine and isinstance(data.get("output"), dict):
            output: dict[str, Any] = data["output"]
            run.output_bytes += len(encode(output))
            if run.output_bytes > limits.output_bytes:
                run.truncated = True
                if not kernel.interrupted:
                    await self._interrupt(kernel, "output_limit")
                return None
            await publish(NotebookOutputEvent(job.execution_id, job.notebook_id, job.cell_id,
                                              output))
        elif msg == "done" and mine:
            count = data.get("executionCount")
            run.count = count if isinstance(count, int) else None
            if data.get("outputExceeded") is True:  # the bridge cut it (it may count more)
                run.truncated = True
                kernel.ended_by = kernel.ended_by or "output_limit"
            return cell_verdict(str(data.get("status")), kernel.ended_by)
        elif msg == "exited":
            raise AgentGone("the kernel bridge exited")
        return None

    # --- kernels ----------------------------------------------------------------------------------

    async def _kernel(self, key: str, name: str, files: Sequence[JobFile]) -> Kernel:
        """The notebook's kernel, started when there is none (with ``files`` in its working
        directory: a running kernel's stay as its cells left them)."""
        async with self._starting.setdefault(key, asyncio.Lock()):
            kernel = self._kernels.get(key)
            if kernel is not None and not kernel.sandbox.link.closed:
                return kernel
            if kernel is not None:
                await self._remove(kernel)
            kernel = await self._start(key, name, files)
            self._kernels[key] = kernel
            kernel.commands = await self._subscribe_commands(
                key, lambda command: self.command(kernel, command))
            return kernel

    async def _start(self, key: str, name: str, files: Sequence[JobFile] = ()) -> Kernel:
        if name == SPARE_KERNEL and self._spares is not None and not files:
            spare = await self._spares.take_warm()
            if spare is not None:
                return Kernel(key, name, spare)
        return Kernel(key, name, await self._started(name, files))

    async def _started(self, name: str, files: Sequence[JobFile] = ()) -> Sandbox:
        """A new kernel container whose kernel answered; the agent writes ``files`` (as the
        sandbox user, as a run's) before it starts the kernel, and again at each restart."""
        sandbox = await self._create()
        try:
            await sandbox.link.send(agent.StartKernel(
                [*BRIDGE, name], self._env, [agent.SourceFile(f.name, f.content) for f in files]))
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                event = await sandbox.link.next_event(timeout=deadline - time.monotonic())
                if not isinstance(event, agent.FromKernel):
                    continue
                data = event.data
                if data.get("msg") == "ready":
                    return sandbox
                if data.get("msg") in ("failed", "exited"):
                    raise SandboxError(f"the {name} kernel did not start: "
                                       f"{data.get('error', 'it exited')}")
        except (AgentGone, SandboxError) as exc:
            await self._destroy(sandbox)
            if isinstance(exc, SandboxError):
                raise
            raise SandboxError(f"the {name} kernel did not start: {exc}") from exc

    async def _send(self, kernel: Kernel, data: dict[str, Any]) -> None:
        """Never waits for the agent to read (an interrupt must not wait behind a kernel that
        hogs its container): what is queued is a cell's code or a command, both bounded."""
        kernel.sandbox.link.write_now(agent.ToKernel(data))

    async def _on_control(self, kernel: Kernel, control: Control) -> ControlReply:
        """``stop`` on a running cell's execution interrupts the kernel; input is ignored."""
        if control.action == "stop" and kernel.running == control.execution_id:
            with contextlib.suppress(AgentGone):
                await self._interrupt(kernel, "cancelled")
        return ControlReply()

    async def command(self, kernel: Kernel, command: NotebookCommand) -> NotebookReply:
        """Interrupt, restart or close, asked for by the edge."""
        kernel.last_used = time.monotonic()
        try:
            if command.action == "close":
                kernel.closing = True
                if kernel.running:
                    kernel.ended_by = "cancelled"
                await self._remove(kernel)
                return NotebookReply("closed")
            if command.action == "interrupt":
                await self._interrupt(kernel, "cancelled")
                return NotebookReply("interrupted")
            if kernel.running:
                kernel.ended_by = kernel.ended_by or "cancelled"
            # The agent kills the kernel and all it started, resets and checks the sandbox
            # like a reused one, then starts the kernel again (or ends, failing the check:
            # the next cell then gets a new container).
            await kernel.sandbox.link.send(agent.RestartKernel(kernel.running))
            return NotebookReply("restarted")
        except AgentGone:
            await self._remove(kernel)
            return NotebookReply("dead", "the kernel's container stopped; its state is lost")

    async def _remove(self, kernel: Kernel, taken_away: bool = False) -> None:
        kernel.stop.set()
        if self._kernels.get(kernel.key) is kernel:
            del self._kernels[kernel.key]
            self._owners.pop(kernel.key, None)
        if kernel.commands is not None:
            with contextlib.suppress(Exception):
                await kernel.commands.unsubscribe()
            kernel.commands = None
        await (self._take_away if taken_away else self._destroy)(kernel.sandbox)

    async def expire(self, now: float | None = None) -> int:
        """Remove kernels without a cell for the TTL."""
        now = time.monotonic() if now is None else now
        idle = [k for k in self._kernels.values()
                if not k.lock.locked() and now - k.last_used >= self.ttl_s]
        for kernel in idle:
            await self._remove(kernel)
            self._starting.pop(kernel.key, None)
        return len(idle)

    async def close(self) -> None:
        if self._spares is not None:
            await self._spares.close()
        for kernel in list(self._kernels.values()):
            await self._remove(kernel)


def cell_verdict(status: str, ended_by: Verdict | None) -> tuple[Verdict, str | None]:
    """A finished cell's verdict from the kernel's reply status and why it was ended early."""
    if status == "restarted":
        return "cancelled", "the kernel was restarted"
    if status == "died":
        return "runtime_error", "the kernel died (out of memory, or killed); it was " \
                                "restarted without its state"
    if ended_by is not None:
        return ended_by, None
    if status == "ok":
        return "ok", None
    if status in ("aborted", "abort"):  # ipykernel says aborted, bash_kernel abort
        return "cancelled", None
    return "runtime_error", None
