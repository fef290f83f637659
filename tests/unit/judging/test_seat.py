"""ProgramSeat (runners/judge_seat.py) on fake sandboxes: what is compiled where."""

from __future__ import annotations

import asyncio
from typing import cast

import msgspec

from contracts.messages import JobFile, ProgramJob, SourceFile
from contracts.runtimes import Runtime
from contracts.settings import RunnerSettings
from runners import agent_messages as agent
from runners.execution import resolve_limits
from runners.judge_seat import ProgramSeat
from runners.sandbox import Sandbox

C = Runtime(name="c", display_name="C", extension=".c", image="gcc",
            compile=["gcc", "-o", "{stem}", "{main}"], run=["./{stem}", "{args}"])
SETTINGS = RunnerSettings(max_wall_ms=300_000, max_memory_mb=1024, output_cap_kb=1024)
PROGRAM = ProgramJob(execution_id="e1", owner="key:a", priority=1, submitted_at=0.0,
                     language="c", files=[SourceFile("a.c", "int main(){}")], main_file="a.c")


class FakeLink:
    """An agent that compiles (the binary then exists) and runs it (exit 127 without it)."""

    def __init__(self) -> None:
        self.compiled = False
        self.events: asyncio.Queue[agent.Done] = asyncio.Queue()

    async def send(self, command: agent.Run, timeout: float) -> None:
        phase = command.steps[0].phase
        if phase == "compile":
            self.compiled = True
        code = 0 if phase == "compile" or self.compiled else 127
        self.events.put_nowait(agent.Done(phase=phase, exit_code=code, wall_ms=1))

    async def event_within(self, timeout: float) -> agent.Done | None:
        return await self.events.get()

    def write_now(self, request: object) -> None:
        pass


class FakeSandbox:
    def __init__(self, memory_mb: int, processes: int) -> None:
        self.link = FakeLink()
        self.memory_mb = memory_mb
        self.processes = processes
        self.short_id = "fake"


class NewContainerPerFit:
    """As under gVisor: limits that differ are a new container (without the binary)."""

    def __init__(self) -> None:
        self.given: list[Sandbox] = []

    async def take(self, runtime: Runtime, owners_slot: bool) -> Sandbox:
        return cast(Sandbox, FakeSandbox(256, 64))

    async def fit(self, sandbox: Sandbox, runtime: Runtime, memory_mb: int,
                  processes: int) -> Sandbox:
        self.given.append(sandbox)
        return cast(Sandbox, FakeSandbox(memory_mb, processes))

    def give_back(self, sandbox: Sandbox, owners_slot: bool) -> None:
        self.given.append(sandbox)

    async def take_away(self, sandbox: Sandbox) -> None:
        self.given.append(sandbox)


async def test_a_test_with_its_own_memory_in_a_new_container_is_compiled_there() -> None:
    limits = resolve_limits(PROGRAM, C, SETTINGS)
    seat = ProgramSeat(NewContainerPerFit(), PROGRAM, C, limits, {})
    assert await seat.open(1024) is None
    small = msgspec.structs.replace(limits, memory_mb=limits.memory_mb // 2)
    for run_limits in (small, small, limits):
        end = await seat.run(run_limits, 1024)
        assert (end.verdict, end.done.exit_code) == ("ok", 0)
    await seat.close()


async def test_files_written_for_a_run_count_in_bytes_not_characters() -> None:
    limits = resolve_limits(PROGRAM, C, SETTINGS)
    seat = ProgramSeat(NewContainerPerFit(), PROGRAM, C, limits, {})
    await seat.open(1024)
    await seat.run(limits, 1024, files=[JobFile("check-1/output", "é" * 1000)])
    assert seat.written_bytes == 2000
