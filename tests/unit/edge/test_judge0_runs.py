"""Judge0 submissions on the judging engine (edge/judge0_runs.py): the judgement a submission
becomes, and the answer its result gives (isolate_job.rb of Judge0 CE 1.13.1: the runs stop at
the first that is not accepted; time and memory are averages over the runs made)."""

from __future__ import annotations

import msgspec
import pytest

from contracts import judge0 as j
from contracts.api import ExecutionResult
from contracts.judging import (
    MAX_EXPECTED_BYTES,
    AnyOutputChecker,
    CaseResult,
    JudgementResult,
    LinesChecker,
    RunReport,
    TestVerdict,
    judgement_problem,
)
from contracts.program import MAX_STDIN_BYTES
from edge.judge0_rules import NOT_JUDGED, judged_by_engine, plan, render
from edge.judge0_runs import average_seconds, judged_view, judgement_payload, request_of

RUNTIMES = {"python", "c"}
PROGRAM = {"language": "python", "files": [{"name": "script.py", "content": "print(1)"}],
           "mainFile": "script.py"}


def execution() -> ExecutionResult:
    """A judgement's own execution: ``ok`` once judged, its summary as the message."""
    return ExecutionResult(id="a" * 32, status="completed", language="python",
                           submitted_at=1_700_000_000.0, verdict="ok", wall_ms=40, queued_ms=3,
                           message="accepted: 3/3 passed", stdout="", stderr="")


def test_average_seconds_as_rails_prints_a_float_kept_in_a_decimal_column() -> None:
    assert average_seconds([12]) == "0.012"
    assert average_seconds([1000, 1000]) == "1.0"
    assert average_seconds([1, 2, 2]) == "0.001666666666666667"
    assert average_seconds([0, 1]) == "0.0005"
    assert average_seconds([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) == \
        "0.00005"


def test_expected_output_or_runs_go_to_the_engine() -> None:
    def stored(**fields: object) -> j.StoredSubmission:
        planned, errors = plan(j.SubmissionRequest(source_code="print(1)", language_id=71,
                                                   **fields),  # type: ignore[arg-type]
                               False, RUNTIMES, 0.0)
        assert planned is not None, errors
        return planned.stored
    assert not judged_by_engine(stored())
    assert judged_by_engine(stored(expected_output="1"))
    assert judged_by_engine(stored(expected_output=""))
    assert judged_by_engine(stored(number_of_runs=3))
    assert stored(number_of_runs="20").number_of_runs == 20
    assert judged_by_engine(stored(expected_output="y" * MAX_EXPECTED_BYTES))


def test_one_run_past_the_engines_bounds_is_run_and_compared_as_before() -> None:
    """A single run whose expected_output (or stdin) a judgement's test cannot hold is run as
    a program and compared at the edge by Judge0's rule, as before the engine: accepted (not
    a 422), and its status is the edge's comparison of the program's stdout."""
    big = "ok" + "\n" * MAX_EXPECTED_BYTES  # Judge0's rule strips the trailing lines
    planned, errors = plan(j.SubmissionRequest(source_code="print('ok')", language_id=71,
                                               expected_output=big), False, RUNTIMES, 0.0)
    assert planned is not None and errors == {}, errors
    assert not judged_by_engine(planned.stored)
    assert not judged_by_engine(msgspec.structs.replace(
        planned.stored, expected_output="ok", stdin="x" * (MAX_STDIN_BYTES + 1)))
    program = ExecutionResult(id="a" * 32, status="completed", language="python",
                              submitted_at=1_700_000_000.0, verdict="ok", exit_code=0,
                              stdout="ok\n", stderr="", cpu_ms=12, wall_ms=30, memory_kb=9000)
    shown = render("t", planned.stored, program, "Python", False)
    assert (shown.status.id, shown.stdout, shown.time) == (3, "ok\n", "0.012")
    wrong = msgspec.structs.replace(program, stdout="no\n")
    assert render("t", planned.stored, wrong, "Python", False).status.id == 4


def test_a_judged_submission_without_its_judgement_result_is_an_internal_error() -> None:
    """The execution completed but its judgement's result is missing (or still the pending
    mark): Internal Error with a message, never the edge comparing expected_output with the
    judgement execution's empty stdout (Wrong Answer)."""
    for fields in ({"expected_output": "1"}, {"number_of_runs": 2}):
        planned, errors = plan(j.SubmissionRequest(source_code="print(1)", language_id=71,
                                                   **fields),  # type: ignore[arg-type]
                               False, RUNTIMES, 1_700_000_000.0)
        assert planned is not None, errors
        shown = render("t", planned.stored, execution(), "Python", False, None)
        assert (shown.status.id, shown.message, shown.stdout) == (13, NOT_JUDGED, None)
        assert (shown.exit_code, shown.time, shown.memory) == (None, None, None)
    running = msgspec.structs.replace(execution(), status="running", verdict=None)
    assert render("t", planned.stored, running, "Python", False).status.id == 2


@pytest.mark.parametrize(("fields", "errors"), [
    ({"number_of_runs": 21}, ["must be less than or equal to 20"]),
    ({"number_of_runs": 0}, ["must be greater than 0"]),
    ({"number_of_runs": 20, "stdin": "x" * 200_000, "expected_output": "y" * 20_000},
     ["times the length of stdin and expected_output (4400000) must be at most 4194304 "
      "here"]),
    ({"number_of_runs": 2, "expected_output": "y" * (MAX_EXPECTED_BYTES + 1)},
     [f"above 1 needs an expected_output of at most {MAX_EXPECTED_BYTES} characters here "
      f"(it has {MAX_EXPECTED_BYTES + 1})"]),
])
def test_runs_are_bounded(fields: dict[str, object], errors: list[str]) -> None:
    planned, found = plan(j.SubmissionRequest(source_code="print(1)", language_id=71,
                                              **fields),  # type: ignore[arg-type]
                          False, RUNTIMES, 0.0)
    assert planned is None and found == {"number_of_runs": errors}


def test_a_submission_is_its_one_test_run_again_and_again() -> None:
    request = request_of(judgement_payload(PROGRAM, 3, "in", "out"))
    assert [(t.name, t.stdin, t.expected_output) for t in request.tests] == [
        ("1", "in", "out"), ("2", "in", "out"), ("3", "in", "out")]
    assert request.checker == LinesChecker() and request.stop_on_first_failure
    assert judgement_problem(request) is None
    anything = request_of(judgement_payload(PROGRAM, 2, "", None))
    assert anything.checker == AnyOutputChecker()


def run(verdict: str, cpu_ms: int, memory_kb: int, wall_ms: int = 10,
        **report: object) -> CaseResult:
    return CaseResult(name="?", verdict=verdict, time_ms=wall_ms,  # type: ignore[arg-type]
                      memory_kb=memory_kb,
                      run=RunReport(cpu_ms=cpu_ms, **report))  # type: ignore[arg-type]


def judged(*tests: CaseResult, message: str | None = None) -> JudgementResult:
    named = [msgspec.structs.replace(t, name=str(n)) for n, t in enumerate(tests, 1)]
    verdict: TestVerdict = next((t.verdict for t in named if t.verdict != "accepted"),
                                "accepted")
    return JudgementResult(id="a" * 32, verdict=verdict, passed=0, total=len(named),
                           score=0.0, max_score=0.0, tests=named, message=message)


def answer(result: JudgementResult, **fields: object) -> dict[str, object]:
    planned, errors = plan(j.SubmissionRequest(source_code="print(1)", language_id=71,
                                               **fields),  # type: ignore[arg-type]
                           False, RUNTIMES, 1_700_000_000.0)
    assert planned is not None, errors
    view = judged_view(execution(), result)
    shown: dict[str, object] = msgspec.to_builtins(
        render("t", planned.stored, execution(), "Python", False, view))
    return shown


def test_every_run_accepted_shows_the_last_with_the_averages() -> None:
    shown = answer(judged(run("accepted", 4, 1000, exit_code=0),
                          run("accepted", 6, 1001, exit_code=0),
                          run("accepted", 6, 1003, 12, exit_code=0, stdout="3\n")),
                   number_of_runs=3, expected_output="3")
    assert shown["status"] == {"id": 3, "description": "Accepted"}
    assert (shown["time"], shown["memory"], shown["wall_time"]) == ("0.005333333333333333",
                                                                     1001, "0.012")
    assert (shown["stdout"], shown["exit_code"], shown["number_of_runs"]) == ("3\n", 0, 3)
    assert shown["finished_at"] == "2023-11-14T22:13:20.043Z"  # the judgement's own end


def test_a_wrong_answer_is_the_engines_verdict_on_the_first_run() -> None:
    shown = answer(judged(run("wrong_answer", 5, 900, exit_code=0, stdout="2\n"),
                          CaseResult("2", "skipped"), CaseResult("3", "skipped")),
                   number_of_runs=3, expected_output="3")
    assert shown["status"] == {"id": 4, "description": "Wrong Answer"}
    assert (shown["stdout"], shown["time"], shown["memory"]) == ("2\n", "0.005", 900)
    layout = answer(judged(run("presentation_error", 5, 900, exit_code=0, stdout="1  2\n")),
                    expected_output="1 2")
    assert layout["status"] == {"id": 4, "description": "Wrong Answer"}


def test_the_status_is_the_engines_verdict_not_the_edges_own_comparison() -> None:
    checked = answer(judged(run("accepted", 1, 1, exit_code=0, stdout="as the checker saw")),
                     expected_output="3")
    assert checked["status"] == {"id": 3, "description": "Accepted"}


def test_a_time_limit_on_the_second_run_ends_the_runs_there() -> None:
    shown = answer(judged(run("accepted", 900, 2000, exit_code=0),
                          run("time_limit", 1100, 2000, 1500, signal="SIGKILL"),
                          CaseResult("3", "skipped")),
                   number_of_runs=3, cpu_time_limit=1)
    assert shown["status"] == {"id": 5, "description": "Time Limit Exceeded"}
    assert (shown["time"], shown["wall_time"], shown["message"]) == (
        "1.0", "1.5", "Time limit exceeded")


def test_a_signal_and_an_exit_code_are_the_runs() -> None:
    segv = answer(judged(run("runtime_error", 3, 700, signal="SIGSEGV", stderr="boom\n")),
                  number_of_runs=2)
    assert segv["status"] == {"id": 7, "description": "Runtime Error (SIGSEGV)"}
    assert (segv["exit_signal"], segv["exit_code"], segv["stderr"]) == (11, 0, "boom\n")
    nzec = answer(judged(run("runtime_error", 3, 700, exit_code=4)), number_of_runs=2)
    assert (nzec["status"], nzec["exit_code"], nzec["message"]) == (
        {"id": 11, "description": "Runtime Error (NZEC)"}, 4, "Exited with error status 4")


def test_a_compile_error_shows_the_compilers_output_and_no_measures() -> None:
    shown = answer(judged(CaseResult("1", "compile_error"), CaseResult("2", "compile_error"),
                          message="script.py: error"), number_of_runs=2)
    assert shown["status"] == {"id": 6, "description": "Compilation Error"}
    assert (shown["compile_output"], shown["stdout"], shown["time"], shown["memory"]) == (
        "script.py: error", None, None, None)


def test_a_lost_run_is_an_internal_error_with_the_reason() -> None:
    lost = CaseResult("1", "internal_error", checker_message="the platform lost this run")
    shown = answer(judged(lost), number_of_runs=2)
    assert shown["status"] == {"id": 13, "description": "Internal Error"}
    assert shown["message"] == "the platform lost this run" and shown["exit_code"] is None


def test_with_stderr_redirected_the_shown_run_is_compared_with_both_streams() -> None:
    both = run("wrong_answer", 1, 1, exit_code=0, stdout="a\n", stderr="b\n")
    shown = answer(judged(both), expected_output="a\nb", redirect_stderr_to_stdout=True)
    assert shown["status"] == {"id": 3, "description": "Accepted"}
    assert (shown["stdout"], shown["stderr"]) == ("a\nb\n", None)
