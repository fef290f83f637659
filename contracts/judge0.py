"""Judge0 CE 1.13.1's wire types, served by the edge under ``JUDGE0_PREFIX`` (docs/compat.md).

Requests are decoded loosely (Judge0, a Rails app, takes ``"5"`` for ``5``) and validated by
``edge/judge0_rules.py``, which answers every invalid field at once, in Judge0's 422 shape
``{"field": ["message", …]}``. Responses are ``Submission``s filtered by ``fields``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct

VERSION = "1.13.1"

STATUSES: dict[int, str] = {
    1: "In Queue",
    2: "Processing",
    3: "Accepted",
    4: "Wrong Answer",
    5: "Time Limit Exceeded",
    6: "Compilation Error",
    7: "Runtime Error (SIGSEGV)",
    8: "Runtime Error (SIGXFSZ)",
    9: "Runtime Error (SIGFPE)",
    10: "Runtime Error (SIGABRT)",
    11: "Runtime Error (NZEC)",
    12: "Runtime Error (Other)",
    13: "Internal Error",
    14: "Exec Format Error",
}

# Judge0's defaults and maxima (app/helpers/config.rb of v1.13.1).
CPU_TIME_LIMIT, MAX_CPU_TIME_LIMIT = 5.0, 15.0
CPU_EXTRA_TIME, MAX_CPU_EXTRA_TIME = 1.0, 5.0
WALL_TIME_LIMIT, MAX_WALL_TIME_LIMIT = 10.0, 20.0
MEMORY_LIMIT, MIN_MEMORY_LIMIT, MAX_MEMORY_LIMIT = 128_000, 2048, 512_000
STACK_LIMIT, MAX_STACK_LIMIT = 64_000, 128_000
MAX_PROCESSES_AND_OR_THREADS, MAX_MAX_PROCESSES_AND_OR_THREADS = 60, 120
MAX_FILE_SIZE, MAX_MAX_FILE_SIZE = 1024, 4096
NUMBER_OF_RUNS, MAX_NUMBER_OF_RUNS = 1, 20
MAX_OPTIONS_LENGTH = 512
MAX_EXTRACT_SIZE_KB = 10_240
MAX_BATCH = 20
PER_PAGE = 20

Number = float | str | None
Flag = bool | str | None


def judge0_form(text: str) -> str:
    """Judge0's comparison form of an output: trailing whitespace off each line (Python's
    ``rstrip``), then off the whole. The Judge0 layer compares ``expected_output`` with it and
    the ``lines`` checker of judging is this rule."""
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


class SubmissionRequest(Struct, frozen=True):
    """``POST /submissions`` (and each entry of a batch). Unknown fields are ignored, as Rails'
    ``permit`` drops them."""

    source_code: str | None = None
    language_id: Number = None
    compiler_options: str | None = None
    command_line_arguments: str | None = None
    stdin: str | None = None
    expected_output: str | None = None
    cpu_time_limit: Number = None
    cpu_extra_time: Number = None
    wall_time_limit: Number = None
    memory_limit: Number = None
    stack_limit: Number = None
    max_processes_and_or_threads: Number = None
    enable_per_process_and_thread_time_limit: Flag = None
    enable_per_process_and_thread_memory_limit: Flag = None
    max_file_size: Number = None
    redirect_stderr_to_stdout: Flag = None
    enable_network: Flag = None
    number_of_runs: Number = None
    additional_files: str | None = None
    callback_url: str | None = None


class BatchRequest(Struct, frozen=True):
    """``POST /submissions/batch``."""

    submissions: list[SubmissionRequest] | None = None


class StoredSubmission(Struct, frozen=True, omit_defaults=True):
    """What a Judge0 submission asked for, kept by the edge beside the execution's record (its
    text decoded; ``additional_files`` only counted, never kept)."""

    language_id: int
    source_code: str
    created_at: float
    stdin: str | None = None
    expected_output: str | None = None
    number_of_runs: int = NUMBER_OF_RUNS
    cpu_time_limit: float = CPU_TIME_LIMIT
    cpu_extra_time: float = CPU_EXTRA_TIME
    wall_time_limit: float = WALL_TIME_LIMIT
    memory_limit: int = MEMORY_LIMIT
    stack_limit: int = STACK_LIMIT
    max_processes_and_or_threads: int = MAX_PROCESSES_AND_OR_THREADS
    enable_per_process_and_thread_time_limit: bool = False
    enable_per_process_and_thread_memory_limit: bool = False
    max_file_size: int = MAX_FILE_SIZE
    compiler_options: str | None = None
    command_line_arguments: str | None = None
    redirect_stderr_to_stdout: bool = False
    callback_url: str | None = None
    enable_network: bool = False
    additional_files: int = 0
    """How many files the submission's zip held."""


class Owned(Struct, frozen=True):
    """An API key's Judge0 tokens, newest first (``GET /submissions``)."""

    tokens: list[str] = []


class Status(Struct, frozen=True):
    id: int
    description: str


class LanguageRef(Struct, frozen=True):
    id: int
    name: str


class ListedLanguage(Struct, frozen=True):
    """``GET /languages/all``."""

    id: int
    name: str
    is_archived: bool


class Language(Struct, frozen=True):
    """``GET /languages/{id}``."""

    id: int
    name: str
    is_archived: bool
    source_file: str | None
    compile_cmd: str | None
    run_cmd: str | None


class Submission(Struct, frozen=True):
    """Every field of a submission, in Judge0's order; answers keep the ``fields`` asked for
    (8 by default, all with ``fields=*``). Times are seconds as strings, memory KB."""

    source_code: str | None
    language_id: int
    stdin: str | None
    expected_output: str | None
    stdout: str | None
    status_id: int
    created_at: str
    finished_at: str | None
    time: str | None
    memory: int | None
    stderr: str | None
    token: str
    number_of_runs: int
    cpu_time_limit: str
    cpu_extra_time: str
    wall_time_limit: str
    memory_limit: int
    stack_limit: int
    max_processes_and_or_threads: int
    enable_per_process_and_thread_time_limit: bool
    enable_per_process_and_thread_memory_limit: bool
    max_file_size: int
    compile_output: str | None
    exit_code: int | None
    exit_signal: int | None
    message: str | None
    wall_time: str | None
    compiler_options: str | None
    command_line_arguments: str | None
    redirect_stderr_to_stdout: bool
    callback_url: str | None
    additional_files: str | None
    enable_network: bool
    status: Status
    language: LanguageRef


FIELDS: tuple[str, ...] = Submission.__struct_fields__
DEFAULT_FIELDS: tuple[str, ...] = (
    "token", "time", "memory", "stdout", "stderr", "compile_output", "message", "status",
)

submission_request_decoder = msgspec.json.Decoder(SubmissionRequest)
batch_request_decoder = msgspec.json.Decoder(BatchRequest)
stored_decoder = msgspec.json.Decoder(StoredSubmission)
owned_decoder = msgspec.json.Decoder(Owned)


def select(submission: Submission, fields: tuple[str, ...]) -> dict[str, Any]:
    """The submission as JSON-ready values, only ``fields`` (in Judge0's order)."""
    values: dict[str, Any] = msgspec.to_builtins(submission)
    return {name: values[name] for name in FIELDS if name in fields}
