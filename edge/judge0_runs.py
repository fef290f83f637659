"""Judge0 submissions judged by the judging engine (docs/compat.md, Runs and expected output).

A submission with ``expected_output`` or ``number_of_runs`` > 1 is a ``JudgementJob``: its one
test ``number_of_runs`` times, run one after another in one sandbox, the program compiled once,
stopping at the first run that is not accepted (Judge0's ``isolate_job.rb``: ``break if
submission.status != Status.ac``); checked by the ``lines`` checker (Judge0's rule) or, without
``expected_output``, accepted whatever it prints. Its answer shows the run that decided (the
first failure, else the last): that run's output, exit code, signal, wall time and status, with
``time`` and ``memory`` the average over the runs made, as Judge0 shows them.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from contracts.api import ExecutionResult
from contracts.judging import (
    AnyOutputChecker,
    Checker,
    JudgementRequest,
    JudgementResult,
    LinesChecker,
    RunReport,
    decisive,
)
from contracts.messages import Verdict
from edge.judge0_rules import Judged, seconds

STATUS_OF_CHECK = {"accepted": 3, "wrong_answer": 4, "presentation_error": 4}
"""A run that ended by itself: the engine's verdict is Judge0's status (a layout difference
is Wrong Answer in Judge0)."""
VERDICT_OF_TEST: dict[str, Verdict] = {
    "accepted": "ok", "wrong_answer": "ok", "presentation_error": "ok", "partial": "ok",
    "time_limit": "time_limit", "memory_limit": "memory_limit",
    "output_limit": "output_limit", "runtime_error": "runtime_error",
    "compile_error": "compile_error",
}
"""A test's verdict as the verdict of its run (any other, ``internal_error`` or ``skipped``,
is ``internal_error``)."""


def judgement_payload(program: dict[str, object], runs: int, stdin: str,
                      expected_output: str | None) -> dict[str, object]:
    """The ``JudgementRequest`` (as JSON values) of a submission whose program is
    ``program`` (``language``, ``files``, ``mainFile``, ``limits``, ``callbackUrl``)."""
    checker: Checker = LinesChecker() if expected_output is not None else AnyOutputChecker()
    tests = [{"name": str(number), "stdin": stdin, "expectedOutput": expected_output or ""}
             for number in range(1, runs + 1)]
    return {**program, "tests": tests, "checker": msgspec.to_builtins(checker),
            "stopOnFirstFailure": True}


def request_of(payload: dict[str, object]) -> JudgementRequest:
    """Raises msgspec.ValidationError."""
    return msgspec.convert(payload, JudgementRequest)


def judged_view(result: ExecutionResult, judged: JudgementResult) -> Judged:
    """The answer's parts from the engine's result (``result``: the judgement's execution)."""
    index = decisive(judged.tests)
    if index is None or judged.verdict == "compile_error":
        verdict: Verdict = "compile_error" if index is not None else "internal_error"
        shown = msgspec.structs.replace(
            result, verdict=verdict, stdout="", stderr=judged.message or "", exit_code=None,
            signal=None, message=judged.message)
        return Judged(shown, None, None, None)
    test = judged.tests[index]
    run = test.run or RunReport()
    verdict = VERDICT_OF_TEST.get(test.verdict, "internal_error")
    message = run.error or (test.checker_message or judged.message
                            if verdict == "internal_error" else None)
    shown = msgspec.structs.replace(
        result, verdict=verdict, stdout=run.stdout, stderr=run.stderr,
        exit_code=run.exit_code, signal=run.signal, cpu_ms=run.cpu_ms, wall_ms=test.time_ms,
        memory_kb=test.memory_kb, message=message)
    made = judged.tests[: index + 1]
    cpu = [t.run.cpu_ms for t in made if t.run is not None] or [run.cpu_ms]
    memory = [t.memory_kb for t in made]
    return Judged(shown, STATUS_OF_CHECK.get(test.verdict), average_seconds(cpu),
                  sum(memory) // len(memory))


def average_seconds(ms: list[int]) -> str:
    """Judge0's ``time``: the runs' times added, divided by their number (a Float kept in a
    decimal column: 16 significant digits), as Rails prints a decimal."""
    total = sum(ms)
    if total % len(ms) == 0:
        return seconds(total // len(ms)) or "0.0"
    text = format(Decimal(f"{total / 1000 / len(ms):.16g}"), "f")
    return text if "." in text else text + ".0"
