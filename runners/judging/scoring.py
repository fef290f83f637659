"""From each test's run to the judgement's result: stop-on-first-failure, points, groups, the
overall verdict (docs/judging.md, Scoring). Deterministic whatever order the runs finished in:
with ``stopOnFirstFailure`` every test after the first failure in test order is ``skipped``,
even one that ran."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from contracts.judging import (
    MAX_COMPILE_OUTPUT,
    Case,
    CaseResult,
    Group,
    GroupResult,
    JudgementResult,
    decisive,
)
from runners.judging.diff import cut
from runners.judging.runs import CaseRun

NOT_RUN = CaseRun("internal_error", message="the test was not run")


def judgement(judgement_id: str, tests: Sequence[Case], groups: Sequence[Group],
              stop_on_first_failure: bool, runs: Mapping[str, CaseRun]) -> JudgementResult:
    """Score ``runs`` (by test name) of ``tests``; a test with no run is ``internal_error``,
    never a wrong verdict."""
    grouped = {name for group in groups for name in group.tests}
    ordered = _in_order(tests, stop_on_first_failure, runs)
    results = _outputs_of_decisive([case_result(case, run, case.name in grouped)
                                    for case, run in zip(tests, ordered, strict=True)])
    verdicts = {result.name: result.verdict for result in results}
    group_results = [
        GroupResult(group.name, _group_score(group, verdicts), group.points) for group in groups]
    return JudgementResult(
        id=judgement_id,
        verdict=next((r.verdict for r in results if r.verdict != "accepted"), "accepted"),
        passed=sum(result.verdict == "accepted" for result in results),
        total=len(results),
        score=sum(r.score for r in results) + sum(g.score for g in group_results),
        max_score=float(sum(points_of(case) for case in tests if case.name not in grouped)
                        + sum(group.points for group in groups)),
        tests=results,
        groups=group_results,
    )


def compile_failed(judgement_id: str, tests: Sequence[Case], groups: Sequence[Group],
                   output: str) -> JudgementResult:
    """Every test ``compile_error``, the compiler's output as the judgement's message."""
    runs = {case.name: CaseRun("compile_error") for case in tests}
    result = judgement(judgement_id, tests, groups, False, runs)
    return msgspec.structs.replace(result, message=cut(output, MAX_COMPILE_OUTPUT))


def _outputs_of_decisive(results: list[CaseResult]) -> list[CaseResult]:
    """Runs reported keep their output only for the test that decided the verdict (a Judge0
    answer shows that run's): a judgement's result holds at most one run's output."""
    keep = decisive(results)
    return [result if result.run is None or index == keep else msgspec.structs.replace(
        result, run=msgspec.structs.replace(result.run, stdout="", stderr=""))
        for index, result in enumerate(results)]


def points_of(case: Case) -> int:
    """A test's points: 1 unless it names them."""
    return 1 if case.points is None else case.points


def _in_order(tests: Sequence[Case], stop_on_first_failure: bool,
              runs: Mapping[str, CaseRun]) -> list[CaseRun]:
    ordered: list[CaseRun] = []
    failed = False
    for case in tests:
        run = CaseRun("skipped") if failed and stop_on_first_failure else runs.get(
            case.name, NOT_RUN)
        failed = failed or run.verdict != "accepted"
        ordered.append(run)
    return ordered


def case_result(case: Case, run: CaseRun, grouped: bool) -> CaseResult:
    """A test's result as the judgement shows it (its live ``test`` event too): a test of a
    group (``grouped``) scores 0 (its points are the group's), ``partial`` points are clamped to
    the test's."""
    return CaseResult(
        name=case.name, verdict=run.verdict, time_ms=run.time_ms, memory_kb=run.memory_kb,
        score=0.0 if grouped else _earned(case, run), checker_message=run.message,
        diff=run.diff, run=run.report)


def _earned(case: Case, run: CaseRun) -> float:
    match run.verdict:
        case "accepted":
            return float(points_of(case))
        case "partial":
            return min(max(run.points or 0.0, 0.0), float(points_of(case)))
        case _:
            return 0.0


def _group_score(group: Group, verdicts: Mapping[str, str]) -> float:
    """All or nothing: a missing test, or a ``partial`` one, counts as failed."""
    passed = all(verdicts.get(name) == "accepted" for name in group.tests)
    return float(group.points) if passed else 0.0
