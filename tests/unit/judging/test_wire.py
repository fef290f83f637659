"""The judgement's wire types: what decodes, what is refused, and why."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from contracts.judging import (
    MAX_EXPECTED_BYTES,
    MAX_INLINE_TEST_BYTES,
    MAX_TESTS,
    Case,
    CaseResult,
    CustomChecker,
    Diff,
    FloatChecker,
    Group,
    GroupResult,
    Interactor,
    JudgementRequest,
    JudgementResult,
    LinesChecker,
    TokensChecker,
    judgement_problem,
    judgement_request_decoder,
    judgement_result_decoder,
)
from contracts.messages import Limits, SourceFile

PROGRAM = {"language": "cpp", "files": [{"name": "a.cpp", "content": "int main(){}"}],
           "mainFile": "a.cpp"}


def body(**extra: Any) -> bytes:
    fields: dict[str, Any] = {**PROGRAM, "tests": [{"name": "1", "expectedOutput": "3\n"}]}
    return msgspec.json.encode(fields | extra)


def decoded(**extra: Any) -> JudgementRequest:
    return judgement_request_decoder.decode(body(**extra))


def test_a_minimal_request_decodes_with_the_lines_checker_by_default() -> None:
    request = decoded()
    assert request.tests == [Case(name="1", expected_output="3\n")]
    assert request.checker == LinesChecker()
    assert request.stop_on_first_failure is False
    assert request.groups == []
    assert judgement_problem(request) is None


def test_every_field_decodes_in_camel_case() -> None:
    request = decoded(
        tests=[{"name": "a", "stdin": "1 2\n", "expectedOutput": "3\n", "points": 5,
                "limits": {"wallMs": 500}}],
        checker={"type": "float", "absolute": 1e-4, "relative": 0},
        stopOnFirstFailure=True, limits={"cpuMs": 1000}, requestId="r1")
    assert request.tests == [Case("a", "3\n", "1 2\n", 5, Limits(wall_ms=500))]
    assert request.checker == FloatChecker(absolute=1e-4, relative=0.0)
    assert request.stop_on_first_failure is True
    assert request.limits == Limits(cpu_ms=1000)
    assert request.request_id == "r1"


def test_checkers_are_a_tagged_union() -> None:
    program = {"language": "python", "files": [{"name": "c.py", "content": "x"}],
               "mainFile": "c.py"}
    assert decoded(checker={"type": "tokens", "ignoreCase": True}).checker == TokensChecker(
        ignore_case=True)
    custom = decoded(checker={"type": "custom", **program}).checker
    interactive = decoded(checker={"type": "interactive", **program}).checker
    assert custom == CustomChecker("python", [SourceFile("c.py", "x")], "c.py")
    assert interactive == Interactor("python", [SourceFile("c.py", "x")], "c.py")


@pytest.mark.parametrize("checker", [
    {"type": "diff"},
    {"type": "tokens", "ignoreCase": True, "extra": 1},
    {"type": "float", "absolute": -1},
    {"type": "float", "relative": 2},
    {"type": "custom", "language": "python"},
])
def test_an_unknown_or_malformed_checker_is_refused(checker: dict[str, Any]) -> None:
    with pytest.raises(msgspec.ValidationError):
        decoded(checker=checker)


@pytest.mark.parametrize(("extra", "where"), [
    ({"tests": [{"name": "1", "expectedOutput": "", "points": -1}]}, "points"),
    ({"tests": [{"name": "", "expectedOutput": ""}]}, "name"),
    ({"tests": [{"name": "a\nb", "expectedOutput": ""}]}, "name"),
    ({"tests": [{"name": "x" * 65, "expectedOutput": ""}]}, "name"),
    ({"tests": [{"name": "1"}]}, "expectedOutput"),
    ({"tests": [{"name": "1", "expectedOutput": "x" * (MAX_EXPECTED_BYTES + 1)}]},
     "expectedOutput"),
    ({"tests": [{"name": str(n), "expectedOutput": ""} for n in range(MAX_TESTS + 1)]}, "tests"),
    ({"stopOnFirstFailure": True, "stop_on_first_failure": True}, "unknown field"),
])
def test_a_malformed_request_is_refused_naming_the_field(extra: dict[str, Any],
                                                         where: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=where):
        decoded(**extra)


def test_the_largest_test_count_decodes() -> None:
    tests = [{"name": str(n), "expectedOutput": ""} for n in range(MAX_TESTS)]
    assert judgement_problem(decoded(tests=tests)) is None


@pytest.mark.parametrize(("extra", "problem"), [
    ({"tests": []}, "tests must hold at least one test"),
    ({"problemId": "p1"}, "give tests or a problemId, not both"),
    ({"tests": [{"name": "1", "expectedOutput": ""}, {"name": "1", "expectedOutput": ""}]},
     "test name '1' appears twice"),
    ({"mainFile": "b.cpp"}, "mainFile 'b.cpp' is not among the files"),
    ({"checker": {"type": "custom", "language": "python", "mainFile": "c.py",
                  "files": [{"name": "../c.py", "content": ""}]}}, "checker: file name"),
    ({"groups": [{"name": "g", "tests": ["2"], "points": 1}]},
     "group 'g' names test '2', which is not among the tests"),
    ({"groups": [{"name": "g", "tests": ["1"], "points": 1},
                 {"name": "g", "tests": ["1"], "points": 1}]}, "group name 'g' appears twice"),
    ({"groups": [{"name": "g", "tests": ["1"], "points": 1},
                 {"name": "h", "tests": ["1"], "points": 1}]},
     "test '1' is in groups 'g' and 'h'"),
    ({"tests": [{"name": "1", "expectedOutput": "", "points": 3}],
      "groups": [{"name": "g", "tests": ["1"], "points": 1}]},
     "test '1' is in group 'g': it scores through the group"),
])
def test_a_request_that_cannot_be_judged_says_why(extra: dict[str, Any], problem: str) -> None:
    assert (judgement_problem(decoded(**extra)) or "").startswith(problem)


def test_a_stored_problem_is_named_instead_of_tests() -> None:
    fields = {**PROGRAM, "problemId": "sums-1", "groups": [{"name": "g", "tests": ["x"],
                                                           "points": 2}]}
    request = judgement_request_decoder.decode(msgspec.json.encode(fields))
    assert request.problem_id == "sums-1"
    assert judgement_problem(request) is None


def test_inline_tests_over_the_total_are_refused() -> None:
    size = MAX_EXPECTED_BYTES
    count = MAX_INLINE_TEST_BYTES // size + 1
    tests = [{"name": str(n), "expectedOutput": "x" * size} for n in range(count)]
    assert (judgement_problem(decoded(tests=tests)) or "").startswith(
        f"tests hold {count * size} bytes")


def test_a_result_encodes_in_camel_case_and_decodes_back() -> None:
    result = JudgementResult(
        id="j1", verdict="wrong_answer", passed=1, total=2, score=1.0, max_score=3.0,
        tests=[CaseResult("1", "accepted", time_ms=4, memory_kb=900, score=1.0),
               CaseResult("2", "wrong_answer", checker_message="token 1 differs",
                          diff=Diff(1, 1, "3", "4"))],
        groups=[GroupResult("g", 0.0, 2.0)])
    data = msgspec.json.encode(result)
    assert b'"maxScore":3.0' in data and b'"checkerMessage":"token 1 differs"' in data
    assert b'"timeMs":4' in data and b'"memoryKb":900' in data
    assert judgement_result_decoder.decode(data) == result


def test_groups_decode() -> None:
    request = decoded(groups=[{"name": "small", "tests": ["1"], "points": 30}])
    assert request.groups == [Group("small", ["1"], 30)]


def test_the_checker_union_has_a_json_schema_discriminated_by_type() -> None:
    schema = msgspec.json.schema(JudgementRequest)
    checker = schema["$defs"]["JudgementRequest"]["properties"]["checker"]
    assert sorted(checker["discriminator"]["mapping"]) == [
        "any", "custom", "exact", "float", "interactive", "line_tokens", "lines", "tokens",
        "unordered"]
    assert msgspec.json.schema(JudgementResult)["$ref"] == "#/$defs/JudgementResult"
