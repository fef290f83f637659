"""A judgement on one runner (docs/judging.md): the submission compiled once, its tests run on
up to ``PARALLEL_SEATS`` sandboxes of the owner's, each output checked, the whole scored.

Each test's result is published as a ``test`` event when it is known, the scored whole as a
``judgement`` event; the caller publishes the completion. Nothing a sandbox prints is trusted:
outputs are kept up to the test's output limit, decoded by the agent link's bounded decoder,
and a run the platform lost (a sandbox that stopped answering) is ``internal_error``, never a
verdict on the submission.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import msgspec

from contracts.judging import (
    BuiltinChecker,
    Case,
    CustomChecker,
    Interactor,
    JudgementEvent,
    JudgementResult,
    RunReport,
    TestResultEvent,
)
from contracts.messages import (
    Control,
    ControlReply,
    ExecutionEvent,
    JudgementJob,
)
from contracts.runtimes import Catalog, Runtime
from contracts.settings import RunnerSettings
from runners.execution import RunLimits, resolve_limits
from runners.judge_checker import CheckerSeat
from runners.judge_interactor import InteractorSeat
from runners.judge_seat import ProgramSeat, SandboxSource, SeatLost, as_program, compile_room
from runners.judge_steps import StepEnd
from runners.judging.checkers import CheckOutcome, check
from runners.judging.runs import CaseRun, checked_run, failed_run
from runners.judging.scoring import case_result, compile_failed, judgement, points_of
from runners.sandbox import SandboxError

log = logging.getLogger(__name__)
Publish = Callable[[ExecutionEvent], Awaitable[None]]
STOPPED = "the judgement was stopped"
PARALLEL_SEATS = 2
"""Sandboxes one judgement runs its tests on at once (this machine has two cores); each
compiles the submission once. The runner's job slots count a judgement as one job."""
TESTS_PER_SEAT = 4
"""A further sandbox (a container, a compile) is taken only for this many more tests."""
INLINE_CHECK_CHARS = 65_536
"""Output and answer up to this size are checked on the event loop (microseconds); larger ones
in a thread (up to ~150 ms a MiB: docs/judging.md, Speed), so the runner's other jobs and
heartbeats go on meanwhile."""


@dataclass
class _Progress:
    runs: dict[str, CaseRun]
    first_failure: int | None = None
    """The index of the first test known to have failed (with ``stopOnFirstFailure``, tests
    after it are not run)."""


class Judge:
    """One ``JudgementJob``: ``run`` returns its result, having published its events."""

    def __init__(self, job: JudgementJob, tests: list[Case], runtime: Runtime, catalog: Catalog,
                 settings: RunnerSettings, source: SandboxSource, publish: Publish,
                 env: Mapping[str, str] | None = None) -> None:
        self.job = job
        self.tests = tests
        """The job's tests, a stored problem's fetched."""
        self.runtime = runtime
        self.catalog = catalog
        self.settings = settings
        self.source = source
        self.publish = publish
        self.env = env or {}
        self.program = as_program(job, job.limits)
        self.progress = _Progress({})
        self.stopped = False
        self._seats: list[ProgramSeat] = []
        self.checker: CheckerSeat | InteractorSeat | None = None

    async def run(self) -> JudgementResult:
        tests = self.tests
        first = self._seat(owners_slot=self.job.reuse_key is not None)
        seats = self._seats = [first]
        try:
            try:
                failed = await first.open(self._keep_bytes(self.compile_limits()))
            except (SeatLost, SandboxError) as exc:  # judged all the same: internal_error
                log.warning("judgement %s, compile: %s", self.job.execution_id, exc)
                return await self._finish(internal_result(
                    self.job, tests, f"the platform lost the compile: {exc}"[:400]))
            if self.stopped:
                return await self._finish(internal_result(self.job, tests, STOPPED))
            if failed is not None:
                return await self._finish(compile_failed(
                    self.job.execution_id, tests, self.job.groups, failed.stderr or
                    failed.stdout or failed.done.error or ""))
            checker = await self._checker()
            if isinstance(checker, str):
                return await self._finish(internal_result(self.job, tests, checker))
            self.checker = checker
            pending = list(enumerate(tests))
            seats += [self._seat() for _ in range(seats_wanted(self.job, tests) - 1)]
            if self.stopped:
                return await self._finish(internal_result(self.job, tests, STOPPED))
            await asyncio.gather(*(self._work(seat, pending) for seat in seats))
        finally:
            for seat in seats:
                await seat.close()
            if self.checker is not None:
                await self.checker.close()
        return await self._finish(judgement(
            self.job.execution_id, tests, self.job.groups, self.job.stop_on_first_failure,
            self.progress.runs))

    def compile_limits(self) -> RunLimits:
        """The compile's: the judgement's limits with room for the compile step."""
        return compile_room(resolve_limits(self.program, self.runtime, self.settings),
                            self.runtime, self.settings)

    def _seat(self, owners_slot: bool = False) -> ProgramSeat:
        return ProgramSeat(self.source, self.program, self.runtime, self.compile_limits(),
                           self.env, owners_slot)

    async def _checker(self) -> CheckerSeat | InteractorSeat | str | None:
        """The custom checker's or the interactor's seat, compiled; a message when it cannot
        judge."""
        match self.job.checker:
            case CustomChecker() as custom:
                return await CheckerSeat.start(custom, self.job, self.catalog, self.settings,
                                               self.source, self.env)
            case Interactor() as interactor:
                return await InteractorSeat.start(interactor, self.job, self.catalog,
                                                  self.settings, self.source, self.env)
            case _:
                return None

    async def control(self, control: Control) -> ControlReply:
        """A client's ``stop`` ends the judgement: no test starts after it, and the running
        ones are killed (their tests are ``internal_error``); a judgement takes no input."""
        if control.action != "stop":
            return ControlReply(False, "invalid_request", "a judgement takes no input")
        self.stopped = True
        for seat in self._seats:
            seat.stop()
        return ControlReply()

    async def _work(self, seat: ProgramSeat, pending: list[tuple[int, Case]]) -> None:
        while pending and not self.stopped:
            index, case = pending.pop(0)
            stop = self.progress.first_failure
            if self.job.stop_on_first_failure and stop is not None and index > stop:
                continue
            run = await self._test(seat, case)
            if self.stopped:
                run = CaseRun("internal_error", message=STOPPED)
            self.progress.runs[case.name] = run
            if run.verdict != "accepted" and (stop is None or index < stop):
                self.progress.first_failure = index
            grouped = any(case.name in group.tests for group in self.job.groups)
            shown = msgspec.structs.replace(case_result(case, run, grouped), run=None)
            await self.publish(TestResultEvent(self.job.execution_id, shown))

    async def _test(self, seat: ProgramSeat, case: Case) -> CaseRun:
        limits = self._limits(case)
        if isinstance(self.checker, InteractorSeat):
            return await self.checker.interact(seat, case, limits, points_of(case))
        try:
            end = await seat.run(limits, self._keep_bytes(limits), stdin=case.stdin,
                                 args=self.job.args)
        except (SeatLost, SandboxError) as exc:
            log.warning("judgement %s, test %r: %s", self.job.execution_id, case.name, exc)
            return _lost(exc)
        return await self._judged(case, end)

    async def _judged(self, case: Case, end: StepEnd) -> CaseRun:
        failed = failed_run(end.verdict)
        time_ms, memory_kb = end.wall_ms, end.done.memory_kb
        report = run_report(end) if self.job.report_runs else None
        if failed is not None:
            return CaseRun(failed, time_ms, memory_kb, _first_line(end.stderr),
                           report=report)
        if isinstance(self.checker, CheckerSeat):
            outcome = await self.checker.check(case, end.stdout, points_of(case))
        else:
            match self.job.checker:
                case CustomChecker() | Interactor():
                    return CaseRun("internal_error", message="no checker")
                case builtin:
                    outcome = await builtin_check(builtin, case.expected_output, end.stdout)
        return dataclasses.replace(checked_run(outcome, time_ms, memory_kb), report=report)

    def _limits(self, case: Case) -> RunLimits:
        return resolve_limits(as_program(self.job, case.limits or self.job.limits),
                              self.runtime, self.settings)

    def _keep_bytes(self, limits: RunLimits) -> int:
        return limits.output_bytes

    async def _finish(self, result: JudgementResult) -> JudgementResult:
        """Publish the result (without the runs: they are for the stored result) and return
        it."""
        shown = msgspec.structs.replace(
            result, tests=[msgspec.structs.replace(t, run=None) for t in result.tests])
        await self.publish(JudgementEvent(self.job.execution_id, shown))
        return result


async def builtin_check(checker: BuiltinChecker, expected: str, output: str) -> CheckOutcome:
    """A built-in checker's outcome, off the event loop past ``INLINE_CHECK_CHARS``."""
    if len(expected) + len(output) <= INLINE_CHECK_CHARS:
        return check(checker, expected, output)
    return await asyncio.to_thread(check, checker, expected, output)


def seats_wanted(job: JudgementJob, tests: list[Case]) -> int:
    """Sandboxes (each a compile) for ``tests``: one for an interactive judgement, whose tests
    take turns on the one interactor, and for one that reports its runs (Judge0's runs are
    one after another); else one more per ``TESTS_PER_SEAT`` tests, at most
    ``PARALLEL_SEATS``."""
    if isinstance(job.checker, Interactor) or job.report_runs:
        return 1
    return min(PARALLEL_SEATS, -(-len(tests) // TESTS_PER_SEAT))


def run_report(end: StepEnd) -> RunReport:
    """A run as a judgement that reports its runs keeps it (its output cut as it was run)."""
    done = end.done
    return RunReport(exit_code=done.exit_code, signal=done.signal, cpu_ms=done.cpu_ms,
                     stdout=end.stdout, stderr=end.stderr, error=done.error)


def _lost(exc: Exception) -> CaseRun:
    return CaseRun("internal_error", message=f"the platform lost this test's run: {exc}"[:400])


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0][:400] if text.strip() else ""


def internal_result(job: JudgementJob, tests: list[Case], message: str) -> JudgementResult:
    """Every test ``internal_error``: the judgement could not be made (``message`` says why)."""
    runs = {case.name: CaseRun("internal_error", message=message) for case in tests}
    result = judgement(job.execution_id, tests, job.groups, False, runs)
    return msgspec.structs.replace(result, message=message)
