"""Judge0 CE 1.13.1's rules as pure functions: every status id from our verdicts, the
trailing-whitespace rule, Ruby's base64, defaults and maxima, fields, language ids, zips."""

from __future__ import annotations

import base64
import io
import stat
import zipfile

import judge0
import msgspec
import pytest
from judge0.data import LANGUAGE_TO_LANGUAGE_ID

from contracts import judge0 as j
from contracts.api import ExecutionResult
from contracts.judging import MAX_EXPECTED_BYTES
from contracts.messages import MAX_FILE_BYTES, Limits
from edge.judge0_files import ZipProblem, extract
from edge.judge0_languages import BY_ID, LAUNCHER, program_files
from edge.judge0_rules import (
    FieldsError,
    decode64,
    encode64,
    judged_by_engine,
    plan,
    render,
    requested_fields,
    seconds,
    status_id,
    strip_output,
)

RUNTIMES = {"bash", "c", "cpp", "go", "java", "javascript", "lua", "perl", "php", "python",
            "ruby", "rust", "typescript", "sql", "sqlite"}


def done(verdict: str, **fields: object) -> ExecutionResult:
    base = ExecutionResult(id="a" * 32, status="completed", language="python",
                           submitted_at=1_700_000_000.0, verdict=verdict,  # type: ignore[arg-type]
                           exit_code=0, wall_ms=12, cpu_ms=7, memory_kb=900, queued_ms=3,
                           stdout="", stderr="")
    return msgspec.structs.replace(base, **fields)


@pytest.mark.parametrize(("result", "expected", "status"), [
    (ExecutionResult("a" * 32, "queued", "python", 0.0), None, 1),
    (ExecutionResult("a" * 32, "running", "python", 0.0), None, 2),
    (done("ok", stdout="x\n"), None, 3),
    (done("ok", stdout="hello  \nworld\n\n\n"), "hello\nworld", 3),
    (done("ok", stdout="hello, world\n"), "hello,  world", 4),
    (done("ok", stdout=" x"), "x", 4),  # leading whitespace counts
    (done("time_limit"), None, 5),
    (done("compile_error", exit_code=1), None, 6),
    (done("runtime_error", signal="SIGSEGV"), None, 7),
    (done("runtime_error", signal="SIGXFSZ"), None, 8),
    (done("output_limit"), None, 8),
    (done("runtime_error", signal="SIGFPE"), None, 9),
    (done("runtime_error", signal="SIGABRT"), None, 10),
    (done("runtime_error", exit_code=1), None, 11),
    (done("runtime_error", signal="SIGUSR1"), None, 12),
    (done("memory_limit"), None, 12),
    (done("internal_error"), None, 13),
    (done("expired"), None, 13),
    (done("cancelled"), None, 13),
    (done("runtime_error", exit_code=126, message="exec /tmp/prog: exec format error"),
     None, 14),
])
def test_every_status_id_comes_from_our_verdicts(result: ExecutionResult,
                                                 expected: str | None, status: int) -> None:
    assert status_id(result, expected) == status


def test_the_trailing_whitespace_rule() -> None:
    assert strip_output("a \t\nb  \n\n") == "a\nb"
    assert strip_output(None) == ""
    assert strip_output("a\n b") != strip_output("a\nb")


def test_base64_is_rubys() -> None:
    text = "x" * 100
    packed = encode64(text)
    assert packed is not None
    assert [len(line) for line in packed.splitlines()] == [60, 60, 16]
    assert packed.endswith("\n")
    assert encode64(None) is None
    assert decode64("aGk=") == b"hi"
    assert decode64("aGk") == b"hi"  # padding optional
    assert decode64("aG\nk=\n") == b"hi"  # line breaks skipped
    assert decode64("a") == b""


def test_seconds_print_as_judge0_prints_decimals() -> None:
    assert [seconds(ms) for ms in (0, 7, 20, 1000, 1234, None)] == [
        "0.0", "0.007", "0.02", "1.0", "1.234", None]


def test_a_plan_has_judge0s_defaults_and_our_limits() -> None:
    planned, errors = plan(j.SubmissionRequest(source_code="print(1)", language_id=71),
                           False, RUNTIMES, 5.0)
    assert errors == {} and planned is not None
    stored = planned.stored
    assert (stored.cpu_time_limit, stored.cpu_extra_time, stored.wall_time_limit) == (5, 1, 10)
    assert (stored.memory_limit, stored.stack_limit, stored.max_file_size) == (128000, 64000,
                                                                                 1024)
    assert stored.max_processes_and_or_threads == 60 and stored.number_of_runs == 1
    assert planned.limits == Limits(wall_ms=10000, cpu_ms=5000, memory_mb=125, processes=60,
                                    cpu_extra_ms=1000, stack_kb=64000, file_size_kb=1024,
                                    compile_cpu_ms=15000, compile_wall_ms=20000)
    assert planned.language.runtime == "python" and planned.language.source_file == "script.py"


def test_per_process_memory_is_the_address_space_and_zero_limits_leave_the_sandboxs() -> None:
    planned, errors = plan(j.SubmissionRequest(
        source_code="print(1)", language_id=71, memory_limit=65536, stack_limit=0,
        max_file_size=0, cpu_extra_time=0, enable_per_process_and_thread_memory_limit=True),
        False, RUNTIMES, 5.0)
    assert errors == {} and planned is not None
    assert planned.limits == Limits(wall_ms=10000, cpu_ms=5000, memory_mb=64, processes=60,
                                    process_memory_kb=65536, compile_cpu_ms=15000,
                                    compile_wall_ms=20000)


def test_a_plan_decodes_base64_and_splits_arguments_without_a_shell() -> None:
    request = j.SubmissionRequest(
        source_code=base64.b64encode(b"print(1)").decode(), language_id="71",
        stdin="aGk=", command_line_arguments="a 'b c' $(reboot)", memory_limit=2048,
        cpu_time_limit=0)
    planned, errors = plan(request, True, RUNTIMES, 5.0)
    assert errors == {} and planned is not None
    assert planned.stored.source_code == "print(1)" and planned.stored.stdin == "hi"
    assert planned.args == ["a", "b c", "$(reboot)"]
    assert planned.limits.memory_mb == 16 and planned.limits.cpu_ms is None


def test_allowed_compiler_options_pass() -> None:
    planned, errors = plan(j.SubmissionRequest(source_code="int main(){}", language_id=54,
                                               compiler_options="-O0 -std=c++20 -Wall"),
                           False, RUNTIMES, 5.0)
    assert errors == {} and planned is not None


def test_fields() -> None:
    assert requested_fields(None) == j.DEFAULT_FIELDS
    assert requested_fields("*") == j.FIELDS
    assert requested_fields("stdout,status") == ("stdout", "status")
    with pytest.raises(FieldsError, match=r"invalid fields: \[a, b\]"):
        requested_fields("stdout,a,b")


def test_every_field_of_a_rendered_submission() -> None:
    """A program run once and compared at the edge: an expected_output past a judgement
    test's bound (a smaller one is the engine's, test_judge0_runs.py)."""
    expected = "1" + "\n" * MAX_EXPECTED_BYTES  # Judge0's rule: "1"
    planned, _ = plan(j.SubmissionRequest(source_code="print(1)", language_id=71,
                                          expected_output=expected,
                                          redirect_stderr_to_stdout=True),
                      False, RUNTIMES, 1_700_000_000.0)
    assert planned is not None and not judged_by_engine(planned.stored)
    result = done("ok", stdout="1\n", stderr="warn\n", exit_code=0)
    shown = msgspec.to_builtins(render("t", planned.stored, result, "Python (3.11)", False))
    assert tuple(shown) == j.FIELDS
    assert shown["stdout"] == "1\nwarn\n" and shown["stderr"] is None  # redirected
    assert shown["status"] == {"id": 4, "description": "Wrong Answer"}
    assert shown["time"] == "0.007" and shown["wall_time"] == "0.012"
    assert shown["memory"] == 900 and shown["exit_code"] == 0 and shown["exit_signal"] is None
    assert shown["created_at"] == "2023-11-14T22:13:20.000Z"
    assert shown["finished_at"] == "2023-11-14T22:13:20.015Z"
    assert shown["language"] == {"id": 71, "name": "Python (3.11)"}
    assert shown["cpu_time_limit"] == "5.0" and shown["memory_limit"] == 128000
    encoded = msgspec.to_builtins(render("t", planned.stored, result, "P", True))
    assert encoded["stdout"] == "MQp3YXJuCg==\n" and encoded["source_code"] == "cHJpbnQoMSk=\n"


def test_the_ce_language_ids_are_the_official_clients() -> None:
    official = LANGUAGE_TO_LANGUAGE_ID["1.13.1"]
    for alias, runtime in ((judge0.PYTHON, "python"), (judge0.C, "c"), (judge0.CPP, "cpp"),
                           (judge0.JAVA, "java"), (judge0.JAVASCRIPT, "javascript"),
                           (judge0.GO, "go"), (judge0.RUST, "rust"),
                           (judge0.TYPESCRIPT, "typescript"), (judge0.BASH, "bash"),
                           (judge0.RUBY, "ruby"), (judge0.PHP, "php"), (judge0.PERL, "perl"),
                           (judge0.LUA, "lua"), (judge0.SQLITE, "sqlite")):
        assert BY_ID[official[alias]].runtime == runtime, alias


def zipped(*members: tuple[str, bytes], mode: int = stat.S_IFREG | 0o644) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return base64.b64encode(buffer.getvalue()).decode()


def test_additional_files_are_read_in_memory_with_limits() -> None:
    files = extract(zipped(("lib/util.py", b"X = 1\n"), ("main.py", b"shadow")), {"main.py"})
    assert [(f.name, f.content) for f in files] == [("lib/util.py", "X = 1\n")]
    for bad, why in (
        (zipped(("../escape.py", b"x")), "'..'"),
        (zipped(("/abs.py", b"x")), "relative"),
        (zipped(("link", b"/etc/passwd"), mode=stat.S_IFLNK | 0o777), "not a regular file"),
        (zipped(("big.txt", b"0" * (MAX_FILE_BYTES + 1))), "larger than"),
        (zipped(("bin.dat", b"\xff\xfe\x00")), "not UTF-8"),
        (base64.b64encode(b"not a zip").decode(), "not a zip"),
    ):
        with pytest.raises(ZipProblem, match=why):
            extract(bad, {"main.py"})


@pytest.mark.parametrize("language_id", ["abc", "nan", "1e400", 1e400, -1, 70, 45])
def test_language_ids_that_are_not_ours_are_field_errors(language_id: float | str) -> None:
    planned, errors = plan(j.SubmissionRequest(source_code="x", language_id=language_id),
                           False, RUNTIMES, 5.0)
    assert planned is None and list(errors) == ["language_id"]


@pytest.mark.parametrize(("language_id", "why"), [
    (44, "an a.out cannot"), (70, "no longer in Debian")])
def test_ids_we_know_and_refuse_say_why(language_id: int, why: str) -> None:
    _, errors = plan(j.SubmissionRequest(source_code="x", language_id=language_id),
                     False, RUNTIMES, 5.0)
    [message] = errors["language_id"]
    assert message.startswith(f"language with id {language_id} doesn't exist here: ")
    assert why in message


def test_plain_text_is_the_source_beside_a_launcher_that_prints_it() -> None:
    planned, errors = plan(j.SubmissionRequest(source_code="hello\n", language_id=43),
                           False, RUNTIMES, 5.0)
    assert errors == {} and planned is not None and planned.language.runtime == "bash"
    launcher, text = program_files(planned.language, planned.stored.source_code)
    assert (launcher.name, text.name, text.content) == (LAUNCHER, "text.txt", "hello\n")
    assert launcher.content == "exec cat text.txt\n"


def test_a_multi_file_program_needs_its_zip_not_source_code() -> None:
    _, errors = plan(j.SubmissionRequest(language_id=89), False, RUNTIMES, 5.0)
    assert errors == {"additional_files": ["can't be blank"]}
    planned, errors = plan(j.SubmissionRequest(language_id=89, additional_files="UEsFBg=="),
                           False, RUNTIMES, 5.0)
    assert errors == {} and planned is not None
    [launcher] = program_files(planned.language, planned.stored.source_code)
    assert launcher.name == LAUNCHER and "exec bash run" in launcher.content
