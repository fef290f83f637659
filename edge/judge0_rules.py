"""Judge0 CE 1.13.1's rules as pure functions: request validation with its defaults, maxima and
error messages, base64 as Ruby writes it, and a submission's status from our verdicts."""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
import shlex
import signal
from dataclasses import dataclass
from typing import Any

import msgspec

from contracts import judge0 as j
from contracts.api import ExecutionResult
from contracts.judge0 import judge0_form
from contracts.judging import MAX_EXPECTED_BYTES, MAX_INLINE_TEST_BYTES
from contracts.messages import Limits
from contracts.program import MAX_STDIN_BYTES
from edge.judge0_languages import BY_ID, MULTI_FILE, REFUSED, Judge0Language

Errors = dict[str, list[str]]
FALSE_WORDS = frozenset({"", "0", "f", "false", "off", "no", "n"})
BASE64_ALPHABET = re.compile(rb"[^A-Za-z0-9+/]")
SIGNAL_STATUS = {"SIGSEGV": 7, "SIGXFSZ": 8, "SIGFPE": 9, "SIGABRT": 10}
EXEC_FORMAT = re.compile(r"exec format error", re.IGNORECASE)
NOT_JUDGED = "the judging engine's result of this submission is missing"
"""The message of a submission the engine ran whose judgement result cannot be read (13)."""


class FieldsError(ValueError):
    """``fields`` names a field Judge0 does not have."""


# --- base64 and text ------------------------------------------------------------------------------


def encode64(text: str | None) -> str | None:
    """Ruby's ``Base64.encode64``: a line break after every 60 characters and at the end."""
    if text is None:
        return None
    packed = base64.b64encode(text.encode()).decode()
    return "".join(packed[i:i + 60] + "\n" for i in range(0, len(packed), 60))


def decode64(text: str) -> bytes:
    """Ruby's ``Base64.decode64``: characters outside the alphabet are skipped, padding is
    optional, a dangling character is dropped."""
    data = BASE64_ALPHABET.sub(b"", text.split("=", 1)[0].encode())
    data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return b""


def strip_output(text: str | None) -> str:
    """Judge0's comparison form (``judge0_form``) of an output that may be null."""
    return judge0_form(text or "")


def seconds(ms: int | None) -> str | None:
    """Milliseconds as Judge0 prints a decimal number of seconds: ``0.02``, ``1.0``."""
    if ms is None:
        return None
    text = f"{ms / 1000:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def decimal(value: float) -> str:
    return seconds(round(value * 1000)) or "0.0"


def rails_time(unix: float | None) -> str | None:
    if unix is None:
        return None
    moment = datetime.datetime.fromtimestamp(unix, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def requested_fields(param: str | None) -> tuple[str, ...]:
    """The fields an answer keeps: ``fields=a,b``, ``*`` for all, else the 8 defaults."""
    asked = [name for name in (param or "").split(",") if name]
    invalid = [name for name in asked if name != "*" and name not in j.FIELDS]
    if invalid:
        raise FieldsError(f"invalid fields: [{', '.join(invalid)}]")
    if "*" in asked:
        return j.FIELDS
    return tuple(asked) or j.DEFAULT_FIELDS


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A valid submission: what to store and what to run."""

    stored: j.StoredSubmission
    language: Judge0Language
    args: list[str]
    limits: Limits
    compile_options: list[str]
    """Allow-listed words for the compile step."""


def flag(value: bool | str | None, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return value.strip().lower() not in FALSE_WORDS


def _count(bound: float) -> str:
    return str(bound) if isinstance(bound, float) else str(int(bound))


def number(errors: Errors, name: str, value: float | str | None, default: float,
           low: float, high: float, low_open: bool = False) -> float:
    """Rails' numericality check: the value (or its default), or the default after adding the
    field's error."""
    if value is None or value == "":
        return default
    try:
        found = float(value)
    except ValueError:
        found = math.nan
    if not math.isfinite(found):
        errors.setdefault(name, []).append("is not a number")
        return default
    if low_open and found <= low:
        errors.setdefault(name, []).append(f"must be greater than {_count(low)}")
    elif not low_open and found < low:
        errors.setdefault(name, []).append(f"must be greater than or equal to {_count(low)}")
    if found > high:
        errors.setdefault(name, []).append(f"must be less than or equal to {_count(high)}")
    return found


def decoded(errors: Errors, name: str, value: str | None, base64_encoded: bool) -> str | None:
    if value is None or not base64_encoded:
        return value
    try:
        return decode64(value).decode()
    except UnicodeDecodeError:
        errors.setdefault(name, []).append("is not UTF-8 text once base64 decoded")
        return None


def language_of(errors: Errors, value: float | str | None,
                runtimes: set[str]) -> Judge0Language | None:
    if value is None or value == "":
        errors["language_id"] = ["can't be blank"]
        return None
    try:
        number = int(float(value))
    except (ValueError, OverflowError):  # "abc", "nan", 1e400
        number = None
    found = BY_ID.get(number) if number is not None else None
    if found is None or found.runtime not in runtimes:
        shown = int(value) if isinstance(value, float) and value.is_integer() else value
        reason = REFUSED.get(number) if number is not None else None
        errors["language_id"] = [f"language with id {shown} doesn't exist"
                                 + (f" here: {reason}" if reason else "")]
        return None
    return found


def options_problem(language: Judge0Language | None, options: str) -> str | None:
    """Why ``compiler_options`` cannot be used, or None: only whole words of the language's
    allow-list are taken (no shell, no file names, no plugins)."""
    if language is None:
        return None
    if language.compile_cmd is None:
        return "setting compiler options is only allowed for compiled languages"
    unknown = [word for word in options.split() if word not in language.compiler_options]
    if unknown:
        allowed = " ".join(sorted(language.compiler_options)) or "none"
        return f"option {unknown[0]!r} is not allowed for this language (allowed: {allowed})"
    return None


def arguments(errors: Errors, text: str | None) -> list[str]:
    """``command_line_arguments`` split as a shell splits words, never run by one."""
    if not text or not text.strip():
        return []
    try:
        return shlex.split(text)
    except ValueError as exc:
        errors.setdefault("command_line_arguments", []).append(f"cannot be split: {exc}")
        return []


def length(errors: Errors, name: str, value: str | None) -> None:
    if value is not None and len(value) > j.MAX_OPTIONS_LENGTH:
        errors.setdefault(name, []).append(
            f"is too long (maximum is {j.MAX_OPTIONS_LENGTH} characters)")


def plan(request: j.SubmissionRequest, base64_encoded: bool, runtimes: set[str],
         now: float) -> tuple[Plan | None, Errors]:
    """Validate a submission as Judge0 does, with Judge0's defaults; refuse what this platform
    does not do (docs/compat.md). Returns the plan, or None and the errors by field."""
    errors: Errors = {}
    language = language_of(errors, request.language_id, runtimes)
    source = decoded(errors, "source_code", request.source_code, base64_encoded)
    project = language is not None and language.id == MULTI_FILE
    if project and not request.additional_files:
        errors.setdefault("additional_files", []).append("can't be blank")
    if not source and not project:  # a multi-file program's code is the zip's
        errors.setdefault("source_code", []).append("can't be blank")
    stdin = decoded(errors, "stdin", request.stdin, base64_encoded)
    expected = decoded(errors, "expected_output", request.expected_output, base64_encoded)
    runs = int(number(errors, "number_of_runs", request.number_of_runs, j.NUMBER_OF_RUNS, 0,
                      j.MAX_NUMBER_OF_RUNS, low_open=True))
    if "number_of_runs" not in errors:
        runs_problem(errors, runs, stdin, expected)
    cpu = number(errors, "cpu_time_limit", request.cpu_time_limit, j.CPU_TIME_LIMIT, 0,
                 j.MAX_CPU_TIME_LIMIT)
    extra = number(errors, "cpu_extra_time", request.cpu_extra_time, j.CPU_EXTRA_TIME, 0,
                   j.MAX_CPU_EXTRA_TIME)
    wall = number(errors, "wall_time_limit", request.wall_time_limit, j.WALL_TIME_LIMIT, 1,
                  j.MAX_WALL_TIME_LIMIT)
    memory = int(number(errors, "memory_limit", request.memory_limit, j.MEMORY_LIMIT,
                        j.MIN_MEMORY_LIMIT, j.MAX_MEMORY_LIMIT))
    stack = int(number(errors, "stack_limit", request.stack_limit, j.STACK_LIMIT, 0,
                       j.MAX_STACK_LIMIT))
    processes = int(number(errors, "max_processes_and_or_threads",
                           request.max_processes_and_or_threads,
                           j.MAX_PROCESSES_AND_OR_THREADS, 0,
                           j.MAX_MAX_PROCESSES_AND_OR_THREADS, low_open=True))
    file_size = int(number(errors, "max_file_size", request.max_file_size, j.MAX_FILE_SIZE, 0,
                           j.MAX_MAX_FILE_SIZE))
    length(errors, "compiler_options", request.compiler_options)
    length(errors, "command_line_arguments", request.command_line_arguments)
    options = (request.compiler_options or "").strip()
    if options and (problem := options_problem(language, options)):
        errors.setdefault("compiler_options", []).append(problem)
    args = arguments(errors, request.command_line_arguments)
    if flag(request.enable_network):
        errors["enable_network"] = ["enabling network is not allowed"]
    if errors or language is None:
        return None, errors
    stored = j.StoredSubmission(
        language_id=language.id, source_code=source or "", created_at=now, stdin=stdin,
        expected_output=expected, number_of_runs=max(1, runs), cpu_time_limit=cpu,
        cpu_extra_time=extra,
        wall_time_limit=wall, memory_limit=memory, stack_limit=stack,
        max_processes_and_or_threads=processes,
        enable_per_process_and_thread_time_limit=flag(
            request.enable_per_process_and_thread_time_limit),
        enable_per_process_and_thread_memory_limit=flag(
            request.enable_per_process_and_thread_memory_limit),
        max_file_size=file_size, compiler_options=request.compiler_options,
        command_line_arguments=request.command_line_arguments,
        redirect_stderr_to_stdout=flag(request.redirect_stderr_to_stdout),
        callback_url=request.callback_url or None,
    )
    return Plan(stored, language, args, limits_of(stored), options.split()), errors


def runs_problem(errors: Errors, runs: int, stdin: str | None, expected: str | None) -> None:
    """Each run is a test of its judgement, input and answer copied: together they are
    bounded as a judgement's inline tests are."""
    if runs <= 1:
        return  # one run that does not fit the engine is run as a program (judged_by_engine)
    if len(expected or "") > MAX_EXPECTED_BYTES:
        errors.setdefault("number_of_runs", []).append(
            f"above 1 needs an expected_output of at most {MAX_EXPECTED_BYTES} characters "
            f"here (it has {len(expected or '')})")
    total = runs * (len(stdin or "") + len(expected or ""))
    if total > MAX_INLINE_TEST_BYTES:
        errors.setdefault("number_of_runs", []).append(
            f"times the length of stdin and expected_output ({total}) must be at most "
            f"{MAX_INLINE_TEST_BYTES} here")


def judged_by_engine(stored: j.StoredSubmission) -> bool:
    """Run by the judging engine (edge/judge0_runs.py) rather than as one program: several
    runs, or ``expected_output`` when it fits a judgement's test (``MAX_EXPECTED_BYTES``; a
    larger one is compared at the edge, as before the engine: ``status_id``; so is one with a
    ``stdin`` past a test's bound, which today is an execution's too: 422 either way)."""
    if stored.number_of_runs > 1:
        return True
    return (stored.expected_output is not None
            and len(stored.expected_output) <= MAX_EXPECTED_BYTES
            and len(stored.stdin or "") <= MAX_STDIN_BYTES)


def limits_of(stored: j.StoredSubmission) -> Limits:
    """Judge0's limits as ours (the server's maxima still cap them), docs/compat.md: CPU and
    wall seconds to ms (a CPU limit of 0, no limit in Judge0, leaves ours), memory KB to MB
    (at least 16); stack and file size in KB as isolate's ``-k`` and ``-f`` (0, unlimited in
    isolate, leaves the sandbox's own); with the per-process memory flag, ``memory_limit`` is
    also each process's address space, as isolate's ``-m``."""
    per_process_memory = stored.enable_per_process_and_thread_memory_limit
    return Limits(
        wall_ms=max(1, round(stored.wall_time_limit * 1000)),
        cpu_ms=round(stored.cpu_time_limit * 1000) or None,
        memory_mb=max(16, math.ceil(stored.memory_limit / 1024)),
        processes=stored.max_processes_and_or_threads,
        cpu_extra_ms=round(stored.cpu_extra_time * 1000) or None,
        stack_kb=stored.stack_limit or None,
        file_size_kb=stored.max_file_size or None,
        process_memory_kb=stored.memory_limit if per_process_memory else None,
        # Judge0 compiles under its maxima, whatever the submission's limits (isolate_job.rb).
        compile_cpu_ms=round(j.MAX_CPU_TIME_LIMIT * 1000),
        compile_wall_ms=round(j.MAX_WALL_TIME_LIMIT * 1000),
    )


# --- results --------------------------------------------------------------------------------------


def signal_number(name: str | None) -> int | None:
    if not name:
        return None
    try:
        return int(signal.Signals[name])
    except KeyError:
        return None


def status_id(result: ExecutionResult, expected_output: str | None) -> int:
    """Judge0's status for our result (docs/compat.md has the table)."""
    if result.status != "completed":
        return 2 if result.status == "running" else 1
    match result.verdict:
        case "ok":
            if expected_output is None:
                return 3
            return 3 if strip_output(expected_output) == strip_output(result.stdout) else 4
        case "time_limit":
            return 5
        case "compile_error":
            return 6
        case "output_limit":
            return 8
        case "memory_limit":
            return 12
        case "runtime_error":
            return runtime_error_status(result)
        case _:  # internal_error, expired, cancelled
            return 13


def runtime_error_status(result: ExecutionResult) -> int:
    """7 to 10 by signal, 12 for any other signal, 11 for a non-zero exit, 14 when the program
    could not be executed at all."""
    if EXEC_FORMAT.search(result.message or ""):
        return 14
    if result.signal:
        return SIGNAL_STATUS.get(result.signal, 12)
    return 11


def exit_signal(result: ExecutionResult, status: int) -> int | None:
    if status == 12 and result.verdict == "memory_limit":
        return int(signal.SIGKILL)  # isolate's view of the cgroup's OOM kill
    if status == 8 and result.verdict == "output_limit":
        return int(signal.SIGXFSZ)
    return signal_number(result.signal)


def message(result: ExecutionResult, status: int) -> str | None:
    """isolate's words where Judge0 has them, ours where it has none."""
    if status in (1, 2, 3, 4, 6):
        return None
    match result.verdict:
        case "time_limit":
            return "Time limit exceeded"
        case "memory_limit":
            return "Memory limit exceeded"
        case "output_limit":
            return "Output limit exceeded"
        case "runtime_error" if result.signal:
            return f"Caught fatal signal {signal_number(result.signal)}"
        case "runtime_error":
            return result.message or f"Exited with error status {result.exit_code}"
        case verdict:
            return result.message or str(verdict)


def exit_code(result: ExecutionResult, status: int) -> int | None:
    if status in (1, 2, 6, 13):
        return None
    return result.exit_code if result.exit_code is not None else 0


def finished_at(result: ExecutionResult) -> float | None:
    if result.status != "completed":
        return None
    return result.submitted_at + ((result.queued_ms or 0) + (result.wall_ms or 0)) / 1000


def streams(result: ExecutionResult, status: int) -> tuple[str | None, str | None, str | None]:
    """stdout, stderr and compile_output; empty ones are null, as Judge0 stores them."""
    out, err = result.stdout or "", result.stderr or ""
    if status == 6:
        return None, None, (out + err) or None
    return out or None, err or None, None


@dataclass(frozen=True)
class Judged:
    """A submission the judging engine ran (edge/judge0_runs.py): the run its answer shows, as
    an execution's result; the status the engine's verdict gives (None: from the run's
    verdict); ``time`` and ``memory`` averaged over the runs made, as Judge0 shows them."""

    shown: ExecutionResult
    status: int | None
    time: str | None
    memory: int | None


def render(token: str, stored: j.StoredSubmission, result: ExecutionResult, language_name: str,
           base64_encoded: bool, judged: Judged | None = None) -> j.Submission:
    """The submission; ``result`` is its execution's, ``judged`` the engine's view of it."""
    if judged is None and judged_by_engine(stored) and result.status == "completed" \
            and result.verdict == "ok":  # judged, yet its judgement's result is not there
        result = msgspec.structs.replace(
            result, verdict="internal_error", stdout="", stderr="", exit_code=None,
            signal=None, cpu_ms=None, memory_kb=None, message=NOT_JUDGED)
    execution, result = result, judged.shown if judged else result
    if stored.redirect_stderr_to_stdout:  # as isolate's --stderr-to-stdout, before judging
        result = msgspec.structs.replace(
            result, stdout=(result.stdout or "") + (result.stderr or ""), stderr="")
    status = status_id(result, stored.expected_output)
    if judged and judged.status and not stored.redirect_stderr_to_stdout:
        status = judged.status  # the engine's checker (with the redirect, stdout was alone)
    out, err, compiled = streams(result, status)
    done = result.status == "completed"
    text = encode64 if base64_encoded else _same
    measured = done and status != 6
    return j.Submission(
        source_code=text(stored.source_code), language_id=stored.language_id,
        stdin=text(stored.stdin), expected_output=text(stored.expected_output),
        stdout=text(out), status_id=status, created_at=rails_time(stored.created_at) or "",
        finished_at=rails_time(finished_at(execution)),
        time=(judged.time if judged else seconds(result.cpu_ms)) if measured else None,
        memory=(judged.memory if judged else result.memory_kb) if measured else None,
        stderr=text(err), token=token, number_of_runs=stored.number_of_runs,
        cpu_time_limit=decimal(stored.cpu_time_limit),
        cpu_extra_time=decimal(stored.cpu_extra_time),
        wall_time_limit=decimal(stored.wall_time_limit), memory_limit=stored.memory_limit,
        stack_limit=stored.stack_limit,
        max_processes_and_or_threads=stored.max_processes_and_or_threads,
        enable_per_process_and_thread_time_limit=stored.enable_per_process_and_thread_time_limit,
        enable_per_process_and_thread_memory_limit=(
            stored.enable_per_process_and_thread_memory_limit),
        max_file_size=stored.max_file_size, compile_output=text(compiled),
        exit_code=exit_code(result, status), exit_signal=exit_signal(result, status)
        if done else None,
        message=(encode64 if base64_encoded else _same)(message(result, status)),
        wall_time=seconds(result.wall_ms) if measured else None,
        compiler_options=stored.compiler_options,
        command_line_arguments=stored.command_line_arguments,
        redirect_stderr_to_stdout=stored.redirect_stderr_to_stdout,
        callback_url=stored.callback_url, additional_files=None,
        enable_network=stored.enable_network,
        status=j.Status(status, j.STATUSES[status]),
        language=j.LanguageRef(stored.language_id, language_name),
    )


def _same(text: str | None) -> str | None:
    return text


def token_of(execution_id: str) -> str:
    """Judge0's tokens are UUIDs; ours are their 32 hex digits."""
    e = execution_id
    return f"{e[:8]}-{e[8:12]}-{e[12:16]}-{e[16:20]}-{e[20:]}"


def execution_id_of(token: str) -> str:
    return token.replace("-", "").lower()


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)
