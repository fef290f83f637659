"""An interactive test: the interactor (the judge's program, any catalog language, compiled once
in a sandbox of its own) and the solution run at once, each in its sandbox, joined by the
runner: what one prints on stdout is written to the other's stdin, and each one's end closes
the other's input. The interactor gets arguments ``input output answer`` (files in its
workspace; ``output`` is where it may write) and decides by its exit code, as a custom checker
(runners/judging/testlib.py). Both run under their own limits; the solution's time is the test's.

Which verdict wins: the interactor's ``wrong_answer`` or ``presentation_error`` (a solution that
broke the protocol often fails because of it); else a failed solution run (time, memory, a
crash); else the interactor's verdict. A broken interactor is ``internal_error``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

from contracts.judging import Case, Interactor
from contracts.messages import JobFile, JudgementJob
from contracts.runtimes import Catalog
from contracts.settings import RunnerSettings
from runners import agent_messages as agent
from runners.execution import HARD_END_GRACE_S, WATCH_TICK_S, RunLimits, verdict_of
from runners.judge_helper import REPORT_BYTES, open_helper
from runners.judge_seat import ProgramSeat, SandboxSource, SeatLost
from runners.judging.diff import cut
from runners.judging.runs import CaseRun, checked_run, failed_run
from runners.judging.testlib import program_outcome
from runners.link import AgentGone
from runners.sandbox import Sandbox, SandboxError


class _Overran(Exception):
    pass


@dataclass
class _End:
    done: agent.Done
    stderr: str


class InteractorSeat:
    """The interactor in its sandbox; one interactive test at a time."""

    def __init__(self, seat: ProgramSeat, limits: RunLimits) -> None:
        self.seat = seat
        self.limits = limits
        self._lock = asyncio.Lock()
        self._count = 0

    @classmethod
    async def start(cls, interactor: Interactor, job: JudgementJob, catalog: Catalog,
                    settings: RunnerSettings, source: SandboxSource,
                    env: Mapping[str, str]) -> InteractorSeat | str:
        """The interactor, compiled; or why it cannot judge (for ``internal_error``)."""
        opened = await open_helper(interactor, job, catalog, settings, source, env)
        return opened if isinstance(opened, str) else cls(*opened)

    async def interact(self, solution: ProgramSeat, case: Case, limits: RunLimits,
                       points: int) -> CaseRun:
        async with self._lock:
            self._count += 1
            folder = f"interact-{self._count}"
            files = [JobFile(f"{folder}/input", case.stdin),
                     JobFile(f"{folder}/answer", case.expected_output)]
            args = [f"{folder}/input", f"{folder}/output", f"{folder}/answer"]
            try:
                judge = await self.seat.begin(self.limits, REPORT_BYTES, args, files)
            except (SeatLost, SandboxError) as exc:
                return CaseRun("internal_error", message=f"the interactor failed: {exc}"[:400])
            try:
                program = await solution.begin(limits, limits.output_bytes)
            except (SeatLost, SandboxError) as exc:
                await self.seat.lost(judge, overran=False)
                return CaseRun("internal_error", message=f"the platform lost this test's run: "
                               f"{exc}"[:400])
            return await self._joined(judge, program, solution, limits, points)

    async def close(self) -> None:
        await self.seat.close()

    async def _joined(self, judge: Sandbox, program: Sandbox, solution: ProgramSeat,
                      limits: RunLimits, points: int) -> CaseRun:
        results = await asyncio.gather(
            _relay(judge, program, self.limits.wall_ms, REPORT_BYTES),
            _relay(program, judge, limits.wall_ms, 0), return_exceptions=True)
        judged, ran = results
        for end, seat, sandbox in ((judged, self.seat, judge), (ran, solution, program)):
            if isinstance(end, BaseException):
                await seat.lost(sandbox, overran=isinstance(end, _Overran))
        if isinstance(ran, BaseException):
            return CaseRun("internal_error", message="the platform lost this test's run")
        if isinstance(judged, BaseException):
            return CaseRun("internal_error", message="the interactor did not end in time")
        # CPU past a run's limit is time_limit, also inside cpuExtraMs (as judge_steps.run_once)
        outcome = program_outcome(verdict_of(judged.done, self.limits.cpu_ms),
                                  judged.done.exit_code, judged.stderr, points)
        failed = failed_run(verdict_of(ran.done, limits.cpu_ms))
        time_ms, memory_kb = ran.done.wall_ms or 0, ran.done.memory_kb
        if outcome.verdict in ("wrong_answer", "presentation_error") or failed is None:
            return checked_run(outcome, time_ms, memory_kb)
        return CaseRun(failed, time_ms, memory_kb, cut(f"the interactor said: "
                                                       f"{outcome.verdict}", 400))


async def _relay(source: Sandbox, target: Sandbox, wall_ms: int, keep_bytes: int) -> _End:
    """Pass ``source``'s stdout to ``target``'s stdin until ``source`` ends, then close that
    input; raises _Overran past the wall limit and grace, AgentGone."""
    hard_end = time.monotonic() + wall_ms / 1000 + HARD_END_GRACE_S
    kept: list[str] = []
    size = 0
    while True:
        now = time.monotonic()
        if now >= hard_end:
            raise _Overran()
        match await source.link.event_within(min(hard_end - now, WATCH_TICK_S)):
            case agent.Output(stream="stdout", data=data):
                _write(target, agent.Stdin(data))
            case agent.Output(data=data) if size < keep_bytes:
                kept.append(data[: keep_bytes - size])
                size += len(kept[-1])
            case agent.Done() as done:
                _write(target, agent.Eof())
                return _End(done, "".join(kept))
            case _:
                pass


def _write(target: Sandbox, request: agent.AgentRequest) -> None:
    """To the other side's agent; if it is gone its own relay says so."""
    try:
        target.link.write_now(request)
    except AgentGone:
        pass
