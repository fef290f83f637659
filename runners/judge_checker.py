"""A ``custom`` checker: the judge's own program, in any catalog language, compiled once in a
sandbox of its own and run once per test with testlib's conventions: arguments ``input output
answer`` (files in its workspace), its verdict from its exit code (runners/judging/testlib.py),
its message from its stderr. A checker that fails (exit 3, a crash, a loop past its limits, a
sandbox lost) gives ``internal_error``: a broken checker never judges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from contracts.judging import Case, CustomChecker
from contracts.messages import JobFile, JudgementJob
from contracts.runtimes import Catalog
from contracts.settings import RunnerSettings
from runners.execution import RunLimits
from runners.judge_helper import REPORT_BYTES, open_helper
from runners.judge_seat import ProgramSeat, SandboxSource, SeatLost
from runners.judging.checkers import CheckOutcome
from runners.judging.diff import cut
from runners.judging.testlib import program_outcome
from runners.sandbox import SandboxError

WORKSPACE_BUDGET = 32 * 1024 * 1024
"""Bytes of checks' files a checker's sandbox takes (its workspace holds 64 MiB) before the
checker moves to a fresh sandbox."""


class CheckerSeat:
    """The checker program in its sandbox; one check at a time."""

    def __init__(self, seat: ProgramSeat, limits: RunLimits) -> None:
        self.seat = seat
        self.limits = limits
        self._lock = asyncio.Lock()
        self._count = 0

    @classmethod
    async def start(cls, checker: CustomChecker, job: JudgementJob, catalog: Catalog,
                    settings: RunnerSettings, source: SandboxSource,
                    env: Mapping[str, str]) -> CheckerSeat | str:
        """The checker, compiled; or why it cannot check (a message for ``internal_error``)."""
        opened = await open_helper(checker, job, catalog, settings, source, env)
        return opened if isinstance(opened, str) else cls(*opened)

    async def check(self, case: Case, output: str, points: int) -> CheckOutcome:
        async with self._lock:
            return await self._check(case, output, points)

    async def _check(self, case: Case, output: str, points: int) -> CheckOutcome:
        if self.seat.written_bytes > WORKSPACE_BUDGET:
            await self.seat.close()  # the next run takes a fresh sandbox and compiles again
        self._count += 1
        folder = f"check-{self._count}"
        files = [JobFile(f"{folder}/input", case.stdin), JobFile(f"{folder}/output", output),
                 JobFile(f"{folder}/answer", case.expected_output)]
        try:
            end = await self.seat.run(self.limits, REPORT_BYTES,
                                      args=[f.name for f in files], files=files)
        except (SeatLost, SandboxError) as exc:
            return CheckOutcome("internal_error", cut(f"the checker's sandbox failed: {exc}",
                                                      400))
        return program_outcome(end.verdict, end.done.exit_code, end.stderr, points)

    async def close(self) -> None:
        await self.seat.close()
