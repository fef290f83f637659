"""InteractorSeat (runners/judge_interactor.py) on fake sandboxes: how a test's verdict is
made from the interactor's run and the solution's."""

from __future__ import annotations

from typing import cast

import msgspec

from contracts.messages import ProgramJob, SourceFile
from contracts.runtimes import Runtime, RuntimeLimits
from contracts.settings import RunnerSettings
from runners import agent_messages as agent
from runners.execution import resolve_limits
from runners.judge_interactor import InteractorSeat
from runners.judge_seat import ProgramSeat
from runners.sandbox import Sandbox

PYTHON = Runtime(name="python", display_name="Python", extension=".py", image="python",
                 run=["python3", "{main}", "{args}"],
                 limits=RuntimeLimits(wall_ms=10_000, cpu_ms=10_000, memory_mb=256,
                                      processes=64))
SETTINGS = RunnerSettings(max_wall_ms=300_000, max_memory_mb=1024, output_cap_kb=1024)
PROGRAM = ProgramJob(execution_id="e1", owner="key:a", priority=1, submitted_at=0.0,
                     language="python", files=[SourceFile("a.py", "")], main_file="a.py")


class EndsWith:
    """A sandbox whose run ends with ``done`` at once."""

    def __init__(self, done: agent.Done) -> None:
        self.link = self
        self.done = done

    async def event_within(self, timeout: float) -> agent.Done:
        return self.done

    def write_now(self, request: object) -> None:
        pass


async def test_a_solution_past_its_cpu_limit_is_time_limit_though_the_interactor_accepts(
) -> None:
    limits = msgspec.structs.replace(resolve_limits(PROGRAM, PYTHON, SETTINGS), cpu_ms=1000,
                                     cpu_extra_ms=1000)
    seat = cast(ProgramSeat, None)
    interactor = InteractorSeat(seat, limits)
    judge = cast(Sandbox, EndsWith(agent.Done(phase="run", exit_code=0, wall_ms=5)))
    program = cast(Sandbox, EndsWith(agent.Done(phase="run", exit_code=0, wall_ms=1600,
                                                cpu_ms=1500)))
    run = await interactor._joined(judge, program, seat, limits, points=1)
    assert run.verdict == "time_limit"
