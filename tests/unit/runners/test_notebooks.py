from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from contracts.messages import Verdict
from contracts.runtimes import Runtime
from runners import agent_messages as agent
from runners.notebooks import Kernels, cell_verdict
from runners.sandbox import Sandbox


@pytest.mark.parametrize(("status", "ended_by", "verdict"), [
    ("ok", None, "ok"),
    ("error", None, "runtime_error"),
    ("aborted", None, "cancelled"),
    ("error", "cancelled", "cancelled"),        # KeyboardInterrupt after a stop or interrupt
    ("error", "time_limit", "time_limit"),
    ("ok", "output_limit", "output_limit"),     # it finished, but printed past the cap
    ("restarted", None, "cancelled"),
    ("died", None, "runtime_error"),
])
def test_cell_verdicts(status: str, ended_by: Verdict | None, verdict: Verdict) -> None:
    assert cell_verdict(status, ended_by)[0] == verdict


def test_a_dead_kernel_is_explained() -> None:
    message = cell_verdict("died", None)[1]
    assert message is not None and "without its state" in message


class KernelLink:
    """An agent whose kernel bridge starts at once and finishes the warm-up."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[agent.AgentRequest] = []
        self.events: asyncio.Queue[agent.AgentEvent] = asyncio.Queue()

    async def send(self, command: agent.AgentRequest, timeout: float | None = None) -> None:
        self.sent.append(command)
        if isinstance(command, agent.StartKernel):
            self.events.put_nowait(agent.FromKernel({"msg": "ready"}))
        elif isinstance(command, agent.ToKernel) and command.data.get("id") == "warm-up":
            self.events.put_nowait(agent.FromKernel({"msg": "done", "id": "warm-up"}))

    async def next_event(self, timeout: float | None = None) -> agent.AgentEvent:
        return await self.events.get()


def kernels(spares: int) -> tuple[Kernels, list[Sandbox], list[Sandbox]]:
    made: list[Sandbox] = []
    destroyed: list[Sandbox] = []

    async def create() -> Sandbox:
        made.append(Sandbox(f"k{len(made)}", "python", KernelLink(), 256, 64))  # type: ignore[arg-type]
        return made[-1]

    async def destroy(sandbox: Sandbox) -> None:
        destroyed.append(sandbox)

    async def subscribe(*_: Any) -> Any:
        raise AssertionError("not used")

    image = Runtime(name="python", display_name="P", extension=".py", image="python", run=["x"])
    return (Kernels(create, destroy, destroy, {}, 60, subscribe, subscribe, spares=spares,
                    image=image), made, destroyed)


async def settled(condition: Callable[[], bool], turns: int = 200) -> None:
    """Let the event loop run until ``condition`` holds; fail after ``turns`` turns of it."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the spare kernels never settled")


async def test_a_python_notebook_takes_the_warmed_spare_and_another_is_made() -> None:
    pool, made, destroyed = kernels(spares=1)
    pool.start()
    await settled(lambda: bool(made) and pool._spares is not None and pool._spares.ready == 1)
    assert pool._spares is not None
    spare = made[0]
    assert any(isinstance(c, agent.ToKernel) for c in spare.link.sent)  # type: ignore[attr-defined]
    assert (await pool._start("nb1", "python")).sandbox is spare
    bash = await pool._start("nb2", "bash")  # a bash kernel is never a spare
    assert bash.sandbox is not spare and bash.sandbox.link.sent[0].argv[-1] == "bash"  # type: ignore[attr-defined]
    await settled(lambda: pool._spares is not None and pool._spares.ready == 1)  # refilled
    await pool.close()
    assert destroyed == [made[-1]]  # close removes the spare it holds, not the kernels handed out


async def test_without_spares_every_notebook_starts_its_own_kernel() -> None:
    pool, made, _ = kernels(spares=0)
    pool.start()
    kernel = await pool._start("nb1", "python")
    assert made == [kernel.sandbox]
    assert not any(isinstance(c, agent.ToKernel) for c in kernel.sandbox.link.sent)  # type: ignore[attr-defined]
    await pool.close()
