"""One test's run, before scoring: how the program's execution ended, then (if it ran to the
end) what the checker said."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.judging import Diff, RunReport, TestVerdict
from contracts.messages import Verdict
from runners.judging.checkers import CheckOutcome


@dataclass(frozen=True)
class CaseRun:
    """A test's verdict and measurements; ``points`` only for ``partial``; ``report`` only
    for a judgement that reports its runs."""

    verdict: TestVerdict
    time_ms: int = 0
    memory_kb: int = 0
    message: str = ""
    diff: Diff | None = None
    points: float | None = None
    report: RunReport | None = None


def failed_run(verdict: Verdict) -> TestVerdict | None:
    """The test's verdict when its execution failed (a program that exits non-zero fails, as in
    DMOJ, whatever it printed); None when it ran to the end and the checker decides. A run the
    platform lost (``cancelled``, ``expired``, ``internal_error``) is never the submission's
    fault: ``internal_error``."""
    match verdict:
        case "ok":
            return None
        case "compile_error" | "runtime_error" | "time_limit" | "memory_limit" | "output_limit":
            return verdict
        case "cancelled" | "expired" | "internal_error":
            return "internal_error"


def checked_run(outcome: CheckOutcome, time_ms: int, memory_kb: int) -> CaseRun:
    """A test whose program ran to the end, judged by its checker."""
    return CaseRun(outcome.verdict, time_ms, memory_kb, outcome.message, outcome.diff,
                   outcome.points)
