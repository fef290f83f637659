"""A checker or interactor program's exit code and report, read as testlib defines them."""

from __future__ import annotations

import pytest

from contracts.messages import Verdict
from runners.judging.checkers import CheckOutcome, CheckVerdict
from runners.judging.testlib import program_outcome


@pytest.mark.parametrize(("exit_code", "verdict"), [
    (0, "accepted"), (1, "wrong_answer"), (2, "presentation_error"), (4, "presentation_error"),
])
def test_testlib_exit_codes_are_verdicts(exit_code: int, verdict: CheckVerdict) -> None:
    ran: Verdict = "ok" if exit_code == 0 else "runtime_error"
    outcome = program_outcome(ran, exit_code, "wrong answer 1st words differ\n", 10)
    assert outcome == CheckOutcome(verdict, "wrong answer 1st words differ")


@pytest.mark.parametrize(("report", "outcome"), [
    ("points 4 almost\n", CheckOutcome("partial", "points 4 almost", points=4.0)),
    ("points 2.5\n", CheckOutcome("partial", "points 2.5", points=2.5)),
    ("points 10 all\n", CheckOutcome("accepted", "points 10 all")),
    ("points 0 none\n", CheckOutcome("wrong_answer", "points 0 none")),
])
def test_exit_7_gives_the_points_in_the_report(report: str, outcome: CheckOutcome) -> None:
    assert program_outcome("runtime_error", 7, report, 10) == outcome


@pytest.mark.parametrize(("verdict", "exit_code", "report", "message"), [
    ("runtime_error", 3, "FAIL answer file is empty", "the checker failed: FAIL answer file"),
    ("runtime_error", 7, "partially right", "the checker exited 7 (points) without 'points"),
    ("runtime_error", 7, "points 11", "the checker gave 11 points of 10: points 11"),
    ("runtime_error", 5, "", "the checker exited 5, which testlib does not define"),
    ("runtime_error", None, "", "the checker ended runtime_error"),
    ("time_limit", None, "", "the checker ended time_limit"),
    ("memory_limit", None, "", "the checker ended memory_limit"),
    ("output_limit", 0, "", "the checker ended output_limit"),
    ("compile_error", None, "a.cpp:1: error", "the checker ended compile_error: a.cpp:1"),
])
def test_a_checker_that_fails_crashes_or_loops_is_an_internal_error(
        verdict: Verdict, exit_code: int | None, report: str, message: str) -> None:
    outcome = program_outcome(verdict, exit_code, report, 10)
    assert outcome.verdict == "internal_error"
    assert outcome.message.startswith(message)


def test_a_long_report_is_cut() -> None:
    assert len(program_outcome("runtime_error", 1, "x" * 100_000, 1).message) == 400
