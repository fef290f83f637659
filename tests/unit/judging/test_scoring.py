"""Scoring: points, groups, stop-on-first-failure and the overall verdict, from per-test runs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.judging import (
    Case,
    CaseResult,
    Group,
    GroupResult,
    JudgementResult,
    TestVerdict,
)
from runners.judging.runs import CaseRun
from runners.judging.scoring import compile_failed, judgement

ACCEPTED = CaseRun("accepted", 5, 1000)


def cases(*names: str, points: int | None = None) -> list[Case]:
    return [Case(name, "", points=points) for name in names]


def runs(**verdicts: TestVerdict) -> dict[str, CaseRun]:
    return {name: CaseRun(verdict) for name, verdict in verdicts.items()}


def test_all_accepted_scores_every_point() -> None:
    tests = [Case("a", "", points=3), Case("b", ""), Case("c", "", points=0)]
    result = judgement("j1", tests, [], False, {"a": ACCEPTED, "b": ACCEPTED, "c": ACCEPTED})
    assert result == JudgementResult(
        id="j1", verdict="accepted", passed=3, total=3, score=4.0, max_score=4.0,
        tests=[CaseResult("a", "accepted", 5, 1000, 3.0), CaseResult("b", "accepted", 5, 1000, 1.0),
               CaseResult("c", "accepted", 5, 1000, 0.0)])


def test_the_verdict_is_the_first_failure_in_test_order() -> None:
    result = judgement("j", cases("1", "2", "3", "4"), [], False,
                       runs(**{"1": "accepted", "2": "time_limit", "3": "wrong_answer",
                               "4": "accepted"}))
    assert result.verdict == "time_limit"
    assert [t.verdict for t in result.tests] == [
        "accepted", "time_limit", "wrong_answer", "accepted"]
    assert (result.passed, result.total, result.score, result.max_score) == (2, 4, 2.0, 4.0)


def test_stop_on_first_failure_skips_every_later_test_even_one_that_ran() -> None:
    result = judgement("j", cases("1", "2", "3", "4"), [], True,
                       runs(**{"1": "accepted", "2": "wrong_answer", "4": "accepted"}))
    assert [t.verdict for t in result.tests] == [
        "accepted", "wrong_answer", "skipped", "skipped"]
    assert (result.verdict, result.passed, result.score) == ("wrong_answer", 1, 1.0)


def test_a_partial_test_earns_its_share_and_is_a_failure() -> None:
    tests = [Case("a", "", points=10), Case("b", "", points=10)]
    result = judgement("j", tests, [], True, {"a": CaseRun("partial", points=2.5),
                                               "b": ACCEPTED})
    assert [t.verdict for t in result.tests] == ["partial", "skipped"]
    assert (result.verdict, result.passed, result.score, result.max_score) == (
        "partial", 0, 2.5, 20.0)


def test_partial_points_stay_within_the_tests_points() -> None:
    tests = [Case("a", "", points=2), Case("b", "", points=2)]
    result = judgement("j", tests, [], False, {"a": CaseRun("partial", points=7.0),
                                               "b": CaseRun("partial", points=-1.0)})
    assert [t.score for t in result.tests] == [2.0, 0.0]


def test_a_group_scores_all_or_nothing() -> None:
    tests = [Case("s1", ""), Case("s2", ""), *cases("g1", "g2", "h1", "h2")]
    groups = [Group("small", ["g1", "g2"], 30), Group("large", ["h1", "h2"], 70)]
    result = judgement("j", tests, groups, False,
                       runs(s1="accepted", s2="wrong_answer", g1="accepted", g2="accepted",
                            h1="accepted", h2="partial"))
    assert result.groups == [GroupResult("small", 30.0, 30.0), GroupResult("large", 0.0, 70.0)]
    assert [t.score for t in result.tests] == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert (result.score, result.max_score, result.passed) == (31.0, 102.0, 4)


def test_a_test_without_a_run_is_an_internal_error_never_a_wrong_verdict() -> None:
    result = judgement("j", cases("1", "2"), [Group("g", ["2"], 5)], False, runs(**{
        "1": "accepted"}))
    assert result.tests[1] == CaseResult("2", "internal_error",
                                         checker_message="the test was not run")
    assert (result.verdict, result.score, result.max_score) == ("internal_error", 1.0, 6.0)


def test_a_compile_error_fails_every_test_with_the_compilers_output() -> None:
    result = compile_failed("j", cases("1", "2"), [Group("g", ["2"], 5)], "a.cpp:1: error")
    assert result == JudgementResult(
        id="j", verdict="compile_error", passed=0, total=2, score=0.0, max_score=6.0,
        tests=[CaseResult("1", "compile_error"), CaseResult("2", "compile_error")],
        groups=[GroupResult("g", 0.0, 5.0)], message="a.cpp:1: error")


verdicts = st.sampled_from(["accepted", "wrong_answer", "time_limit", "runtime_error",
                            "presentation_error", "partial"])


@settings(database=None, deadline=None, max_examples=100)
@given(st.lists(st.tuples(verdicts, st.integers(0, 100)), min_size=1, max_size=20),
       st.booleans())
def test_score_adds_up_and_the_verdict_is_the_first_failure(
        plan: list[tuple[TestVerdict, int]], stop: bool) -> None:
    tests = [Case(str(n), "", points=points) for n, (_, points) in enumerate(plan)]
    ran = {str(n): CaseRun(verdict, points=points / 2) for n, (verdict, points) in enumerate(plan)}
    result = judgement("j", tests, [], stop, ran)
    first = next((n for n, (verdict, _) in enumerate(plan) if verdict != "accepted"), None)
    assert result.verdict == ("accepted" if first is None else plan[first][0])
    assert result.max_score == sum(points for _, points in plan)
    assert result.score == sum(t.score for t in result.tests) <= result.max_score
    assert result.passed == sum(t.verdict == "accepted" for t in result.tests)
    if stop and first is not None:
        assert {t.verdict for t in result.tests[first + 1:]} <= {"skipped"}
    else:
        assert "skipped" not in {t.verdict for t in result.tests}
