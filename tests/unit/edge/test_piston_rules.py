"""Piston v2's rules as pure functions: SemVer selectors, request checks with Piston's messages,
and the stages of a run from our verdicts."""

from __future__ import annotations

import base64

import msgspec
import pytest

from contracts import piston as p
from contracts.api import ExecutionResult
from contracts.runtimes import Runtime
from edge.piston_rules import Refused, coerce, run_of, satisfies, split_stages, stages

PYTHON = Runtime(name="python", display_name="Python 3", extension=".py", image="python",
                 run=["python3", "{main}"], aliases=["py", "python3"])
JAVA = Runtime(name="java", display_name="Java", extension=".java", image="java",
               run=["java", "{class}"], compile=["javac", "{sources}"])
SERVED = [(PYTHON, "3.11.2"), (JAVA, "17.0.9")]


@pytest.mark.parametrize(("selector", "matches"), [
    ("*", True), ("3", True), ("3.11", True), ("3.11.2", True), ("3.11.x", True),
    ("3.10", False), ("^3.8", True), ("^3.12", False), ("~3.11.0", True), ("~3.10", False),
    (">=3.8 <4", True), (">= 3.12", False), ("<3.11.2", False), ("<=3.11.2", True),
    ("3.0.0 - 3.11.2", True), ("2.x || 3.x", True), ("2.x || 4.x", False), (">3.11.1", True),
])
def test_version_selectors_are_semver_ranges(selector: str, matches: bool) -> None:
    assert satisfies((3, 11, 2), selector) is matches


def test_caret_keeps_the_left_most_non_zero_part() -> None:
    assert satisfies((0, 2, 9), "^0.2.3") and not satisfies((0, 3, 0), "^0.2.3")
    assert satisfies((0, 0, 3), "^0.0.3") and not satisfies((0, 0, 4), "^0.0.3")


def test_runner_versions_coerce_to_semver() -> None:
    assert coerce("5.2.15(1)-release") == (5, 2, 15)
    assert coerce("17.0.9") == (17, 0, 9)
    assert coerce("1.21") == (1, 21, 0)
    assert coerce("unknown") is None


def request(**fields: object) -> p.ExecuteRequest:
    body = {"language": "python", "version": "*",
            "files": [{"content": "print(1)"}], **fields}
    return msgspec.json.decode(msgspec.json.encode(body), type=p.ExecuteRequest)


def test_a_request_becomes_a_run() -> None:
    run = run_of(request(language="py3", version="3.x", stdin="x", args=["a"],
                         run_timeout=3000, run_cpu_time=2000, run_memory_limit=-1,
                         compile_memory_limit=-1), SERVED)
    assert run.runtime is PYTHON and run.version == "3.11.2"
    assert [(f.name, f.content) for f in run.files] == [("main.py", "print(1)")]
    assert (run.stdin, run.args) == ("x", ["a"])
    assert (run.limits.wall_ms, run.limits.cpu_ms, run.limits.memory_mb) == (3000, 2000, None)
    assert run.limits.compile_process_memory_kb is None


def test_compile_limits_are_the_compile_steps_own() -> None:
    run = run_of(request(language="java", compile_timeout=4000, compile_cpu_time=3000,
                         compile_memory_limit=200_000_000, run_timeout=1000), SERVED)
    limits = run.limits
    assert (limits.compile_wall_ms, limits.compile_cpu_ms, limits.wall_ms) == (4000, 3000, 1000)
    assert limits.compile_process_memory_kb == 195313  # bytes to KB, rounded up


def test_files_are_decoded_and_the_first_is_the_main_one() -> None:
    run = run_of(request(language="java", files=[
        {"content": "class Main {}"},
        {"name": "Util.java", "content": base64.b64encode(b"class Util {}").decode(),
         "encoding": "base64"},
        {"name": "data.txt", "content": b"hi".hex(), "encoding": "hex"},
    ]), SERVED)
    assert [(f.name, f.content) for f in run.files] == [
        ("Main.java", "class Main {}"), ("Util.java", "class Util {}"), ("data.txt", "hi")]


@pytest.mark.parametrize(("fields", "message"), [
    ({"language": None}, "language is required as a string"),
    ({"version": 3}, "version is required as a string"),
    ({"files": "x"}, "files is required as an array"),
    ({"files": [{"content": 1}]}, "files[0].content is required as a string"),
    ({"files": [{"content": None, "extra": 1}]}, "files[0].content is required as a string"),
    ({"files": ["x"]}, "files[0].content is required as a string"),
    ({"files": [{"content": "aGk=", "encoding": "base64"}]},
     "files must include at least one utf8 encoded file"),
    ({"language": "cobol"}, "cobol-* runtime is unknown"),
    ({"version": "2.x"}, "python-2.x runtime is unknown"),
    ({"run_timeout": "9"}, "If specified, run_timeout must be a number"),
    ({"run_timeout": 10001}, "run_timeout cannot exceed the configured limit of 10000"),
    ({"compile_cpu_time": -5}, "compile_cpu_time must be non-negative"),
])
def test_invalid_requests_get_pistons_messages(fields: dict[str, object], message: str) -> None:
    with pytest.raises(Refused) as refused:
        run_of(request(**fields), SERVED)
    assert str(refused.value) == message


def done(verdict: str, **fields: object) -> ExecutionResult:
    base = ExecutionResult(id="a" * 32, status="completed", language="java", submitted_at=0.0,
                           verdict=verdict, exit_code=0, wall_ms=5,  # type: ignore[arg-type]
                           cpu_ms=4, memory_kb=10, stdout="o", stderr="e")
    return msgspec.structs.replace(base, **fields)


@pytest.mark.parametrize(("result", "status", "signal", "code"), [
    (done("ok"), None, None, 0),
    (done("runtime_error", exit_code=3), "RE", None, 3),
    (done("runtime_error", exit_code=None, signal="SIGSEGV"), "SG", "SIGSEGV", None),
    (done("time_limit", exit_code=None), "TO", "SIGKILL", None),
    (done("output_limit", exit_code=None), "OL", "SIGKILL", None),
    (done("memory_limit", exit_code=None), "SG", "SIGKILL", None),
    (done("internal_error", exit_code=None), "XX", None, None),
])
def test_a_run_stage_from_each_verdict(result: ExecutionResult, status: str | None,
                                       signal: str | None, code: int | None) -> None:
    _, run = stages(result, compiled=False)
    assert (run.status, run.signal, run.code) == (status, signal, code)
    assert run.output == "oe" and run.memory == 10 * 1024 and run.wall_time == 5


def test_a_failed_compile_is_copied_into_run() -> None:
    compiled, run = stages(done("compile_error", exit_code=1), compiled=True)
    assert compiled == run and run.status == "RE" and run.code == 1
    compiled, run = stages(done("ok"), compiled=True)
    assert compiled is not None and compiled.code == 0 and compiled.output == ""
    assert run.stdout == "o"
    assert stages(done("ok"), compiled=False)[0] is None


def test_a_compiled_run_is_split_where_its_run_step_started() -> None:
    result = msgspec.structs.replace(done("ok"), stdout="<x>\n", stderr="warning: w\nrun err\n")
    compiled, ran = split_stages(result, (0, len("warning: w\n")))
    assert (compiled.stderr, compiled.code, compiled.status) == ("warning: w\n", 0, None)
    assert (ran.stdout, ran.stderr, ran.output) == ("<x>\n", "run err\n", "<x>\nrun err\n")
    killed = msgspec.structs.replace(done("time_limit", exit_code=None), stderr="slow")
    compiled, ran = split_stages(killed, None)  # the run step never started
    assert compiled == ran and compiled.status == "TO"
