"""From an execution's verdict to a test's."""

from __future__ import annotations

import pytest

from contracts.judging import Diff
from contracts.messages import Verdict
from runners.judging.checkers import CheckOutcome
from runners.judging.runs import CaseRun, checked_run, failed_run


@pytest.mark.parametrize(("verdict", "test_verdict"), [
    ("ok", None),
    ("compile_error", "compile_error"), ("runtime_error", "runtime_error"),
    ("time_limit", "time_limit"), ("memory_limit", "memory_limit"),
    ("output_limit", "output_limit"),
    ("cancelled", "internal_error"), ("expired", "internal_error"),
    ("internal_error", "internal_error"),
])
def test_a_failed_execution_decides_the_test(verdict: Verdict, test_verdict: str | None) -> None:
    assert failed_run(verdict) == test_verdict


def test_a_finished_execution_takes_the_checkers_verdict() -> None:
    outcome = CheckOutcome("partial", "points 3", Diff(1, 1, "a", "b"), points=3.0)
    assert checked_run(outcome, 12, 3400) == CaseRun("partial", 12, 3400, "points 3",
                                                     Diff(1, 1, "a", "b"), 3.0)
