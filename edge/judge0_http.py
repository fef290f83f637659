"""Judge0's HTTP plumbing: its error shapes, query parameters and configuration answer, and
metric labels for its paths (edge/judge0.py serves the routes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts import judge0 as j
from edge.api import ApiProblem
from edge.judge0_languages import BY_ID
from edge.judge0_rules import FieldsError, requested_fields
from edge.nats_connection import SubmitError

Handler = Callable[[Request], Awaitable[Response]]


class Judge0Error(Exception):
    """An answer in Judge0's shape: ``{"error": …}`` or, for 422, the errors by field."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def error(status: int, message: str) -> Judge0Error:
    return Judge0Error(status, {"error": message})


def guarded(handler: Handler) -> Handler:
    """Our errors (auth, rate limit, quota, NATS) in Judge0's ``{"error": …}`` shape."""
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Judge0Error as exc:
            return JSONResponse(exc.body, exc.status, exc.headers)
        except ApiProblem as exc:
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))} \
                if exc.retry_after is not None else {}
            return JSONResponse({"error": exc.message}, exc.status, headers)
        except SubmitError as exc:
            return JSONResponse({"error": str(exc)}, 503, {"Retry-After": "1"})
    return run


def config_info(wait: bool, callback_tries: int, callback_timeout: float) -> dict[str, Any]:
    """``GET /config_info``: Judge0's keys, with the values this platform applies."""
    return {
        "maintenance_mode": False, "enable_wait_result": wait,
        "enable_compiler_options": True, "allowed_languages_for_compile_options": [
            language.name(None).split(" (")[0] for language in BY_ID.values()
            if language.compiler_options],
        "enable_command_line_arguments": True, "enable_submission_delete": True,
        "enable_callbacks": True, "callbacks_max_tries": callback_tries,
        "callbacks_timeout": callback_timeout, "enable_additional_files": True,
        "max_queue_size": 0, "cpu_time_limit": j.CPU_TIME_LIMIT,
        "max_cpu_time_limit": j.MAX_CPU_TIME_LIMIT, "cpu_extra_time": j.CPU_EXTRA_TIME,
        "max_cpu_extra_time": j.MAX_CPU_EXTRA_TIME, "wall_time_limit": j.WALL_TIME_LIMIT,
        "max_wall_time_limit": j.MAX_WALL_TIME_LIMIT, "memory_limit": j.MEMORY_LIMIT,
        "max_memory_limit": j.MAX_MEMORY_LIMIT, "stack_limit": j.STACK_LIMIT,
        "max_stack_limit": j.MAX_STACK_LIMIT,
        "max_processes_and_or_threads": j.MAX_PROCESSES_AND_OR_THREADS,
        "max_max_processes_and_or_threads": j.MAX_MAX_PROCESSES_AND_OR_THREADS,
        "enable_per_process_and_thread_time_limit": False,
        "allow_enable_per_process_and_thread_time_limit": True,
        "enable_per_process_and_thread_memory_limit": False,
        "allow_enable_per_process_and_thread_memory_limit": True,
        "max_file_size": j.MAX_FILE_SIZE, "max_max_file_size": j.MAX_MAX_FILE_SIZE,
        "number_of_runs": j.NUMBER_OF_RUNS, "max_number_of_runs": j.MAX_NUMBER_OF_RUNS,
        "redirect_stderr_to_stdout": False, "max_extract_size": j.MAX_EXTRACT_SIZE_KB,
        "enable_batched_submissions": True, "max_submission_batch_size": j.MAX_BATCH,
        "submission_cache_duration": 0.0, "use_docs_as_homepage": False,
        "allow_enable_network": False, "enable_network": False,
    }


FIXED_ROUTES = frozenset({
    "/submissions", "/submissions/batch", "/languages", "/languages/all", "/statuses", "/about",
    "/version", "/config_info", "/workers",
})


def judge0_route(path: str) -> str:
    """A metric label for a path under the prefix: no tokens or ids, no unknown paths."""
    if path in FIXED_ROUTES:
        return path
    if path.startswith("/submissions/") and path.count("/") == 2:
        return "/submissions/{token}"
    if path.startswith("/languages/") and path.count("/") == 2:
        return "/languages/{id}"
    return "/other"


def fields_of(request: Request) -> tuple[str, ...]:
    try:
        return requested_fields(request.query_params.get("fields"))
    except FieldsError as exc:
        raise error(400, str(exc)) from None


def count_problem(count: int) -> None:
    if count > j.MAX_BATCH:
        raise error(400, "number of submissions in a batch should be less than or equal to "
                    f"{j.MAX_BATCH}")
    if count == 0:
        raise error(400, "there should be at least one submission in a batch")


def integer(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return 0


def field_of(text: str) -> str:
    """The Judge0 field an error of ours is about."""
    for word, field in (("callback", "callback_url"), ("expectedoutput", "expected_output"),
                        ("stdin", "stdin"),
                        ("args", "command_line_arguments"), ("files", "additional_files"),
                        ("limits", "memory_limit")):
        if word in text.lower():
            return field
    return "source_code"
