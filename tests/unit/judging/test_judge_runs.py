"""A judgement that reports its runs (Judge0's ``number_of_runs``, runners/judge.py) on a fake
agent: one sandbox, compiled once, the runs in order, each run kept, the output of the decisive
one only, and no run in the events."""

from __future__ import annotations

import asyncio
from typing import cast

import msgspec

from contracts.judging import (
    AnyOutputChecker,
    Case,
    CaseResult,
    JudgementEvent,
    JudgementResult,
    RunReport,
    TestResultEvent,
)
from contracts.messages import ExecutionEvent, JudgementJob, SourceFile
from contracts.runtimes import Catalog, Runtime, RuntimeLimits
from contracts.settings import RunnerSettings
from runners import agent_messages as agent
from runners.judge import Judge
from runners.judging.fit import fit_judgement
from runners.sandbox import Sandbox
from tests.unit.judging.test_judge import NoSandboxes

C = Runtime(name="c", display_name="C", extension=".c", image="gcc",
            compile=["gcc", "-o", "{stem}", "{main}"], run=["./{stem}", "{args}"],
            limits=RuntimeLimits(wall_ms=10_000, cpu_ms=10_000, memory_mb=256, processes=64))
SETTINGS = RunnerSettings(max_wall_ms=300_000, max_memory_mb=1024, output_cap_kb=1024)


class CountingLink:
    """An agent that compiles, then runs: run ``n`` prints ``n`` and its arguments, and takes
    ``n`` ms of CPU; the run numbered ``fail_at`` exits 3."""

    def __init__(self, fail_at: int | None) -> None:
        self.compiles = 0
        self.runs = 0
        self.fail_at = fail_at
        self.events: asyncio.Queue[agent.Output | agent.Done] = asyncio.Queue()

    async def send(self, command: agent.Run, timeout: float) -> None:
        await asyncio.sleep(0)  # as a real agent, let another seat go on meanwhile
        step = command.steps[0]
        if step.phase == "compile":
            self.compiles += 1
            self.events.put_nowait(agent.Done(phase="compile", exit_code=0, wall_ms=5))
            return
        self.runs += 1
        args = " ".join(step.argv[1:])
        self.events.put_nowait(agent.Output("stdout", f"{self.runs} {args}\n"))
        code = 3 if self.runs == self.fail_at else 0
        self.events.put_nowait(agent.Done(phase="run", exit_code=code, wall_ms=10 + self.runs,
                                          cpu_ms=self.runs, memory_kb=1000 + self.runs))

    async def event_within(self, timeout: float) -> agent.Output | agent.Done | None:
        return await self.events.get()

    def write_now(self, request: object) -> None:
        pass


class OneSandboxOnly(NoSandboxes):
    def __init__(self, fail_at: int | None) -> None:
        self.taken = 0
        self.link = CountingLink(fail_at)

    async def take(self, runtime: Runtime, owners_slot: bool) -> Sandbox:
        self.taken += 1
        return cast(Sandbox, type("S", (), {"link": self.link, "memory_mb": 256,
                                            "processes": 64, "short_id": "s"})())


async def judged(runs: int, fail_at: int | None = None
                 ) -> tuple[JudgementResult, OneSandboxOnly, list[ExecutionEvent]]:
    job = JudgementJob(
        execution_id="j1", owner="key:a", priority=1, submitted_at=0.0, language="c",
        files=[SourceFile("main.c", "int main(){}")], main_file="main.c",
        tests=[], checker=AnyOutputChecker(), stop_on_first_failure=True,
        args=["-x", "y z"], report_runs=True)
    tests = [Case(name=str(n), expected_output="") for n in range(1, runs + 1)]
    source = OneSandboxOnly(fail_at)
    published: list[ExecutionEvent] = []

    async def publish(event: ExecutionEvent) -> None:
        published.append(event)

    result = await Judge(job, tests, C, cast(Catalog, None), SETTINGS, source, publish).run()
    return result, source, published


async def test_runs_are_made_in_order_in_one_sandbox_compiled_once() -> None:
    result, source, published = await judged(6)
    assert (source.taken, source.link.compiles, source.link.runs) == (1, 1, 6)
    assert [t.verdict for t in result.tests] == ["accepted"] * 6
    assert [t.run.cpu_ms if t.run else None for t in result.tests] == [1, 2, 3, 4, 5, 6]
    assert [t.memory_kb for t in result.tests] == [1001, 1002, 1003, 1004, 1005, 1006]
    assert result.tests[-1].run == RunReport(exit_code=0, cpu_ms=6, stdout="6 -x y z\n")
    assert all(t.run and t.run.stdout == "" for t in result.tests[:-1]), "one run's output"
    events = [e for e in published if isinstance(e, TestResultEvent)]
    assert [e.result.name for e in events] == ["1", "2", "3", "4", "5", "6"]
    assert all(e.result.run is None for e in events)
    [final] = [e for e in published if isinstance(e, JudgementEvent)]
    assert all(t.run is None for t in final.result.tests)


async def test_the_runs_stop_at_the_first_failure_which_keeps_its_output() -> None:
    result, source, _ = await judged(5, fail_at=2)
    assert source.link.runs == 2
    assert [t.verdict for t in result.tests] == ["accepted", "runtime_error"] + ["skipped"] * 3
    assert result.tests[1].run == RunReport(exit_code=3, cpu_ms=2, stdout="2 -x y z\n")
    assert result.tests[0].run == RunReport(exit_code=0, cpu_ms=1)


def test_a_stored_result_too_large_halves_the_runs_output() -> None:
    test = CaseResult("1", "accepted", run=RunReport(stdout="o" * 40_000, stderr="e" * 100))
    result = JudgementResult(id="j", verdict="accepted", passed=1, total=1, score=1.0,
                             max_score=1.0, tests=[test])
    data = fit_judgement(result, 12_000)
    assert len(data) <= 12_000
    [kept] = msgspec.json.decode(data, type=JudgementResult).tests
    assert kept.run is not None
    assert (len(kept.run.stdout), kept.run.stderr) == (10_000, "e" * 100)
