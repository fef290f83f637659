from __future__ import annotations

import msgspec
import pytest

from contracts.api import ExecutionResult
from contracts.messages import (
    CompletionEvent,
    ExecutionRecord,
    JobLimits,
    StoredOutput,
    TableResult,
    WebhookState,
)
from edge.api import ApiProblem, problem_response, result_of
from edge.app import route_label

RECORD = ExecutionRecord("e1", "key:alice", "python", 1_700_000_000.0, request_id="r1")
COMPLETION = CompletionEvent(
    "e1", "runtime_error", exit_code=1, signal="SIGKILL", wall_ms=120, cpu_ms=80,
    memory_kb=2048, truncated=True, queued_ms=15, language="python", message="killed",
)
COMPLETION_FIELDS = ("verdict", "exit_code", "signal", "wall_ms", "cpu_ms", "memory_kb",
                     "truncated", "queued_ms", "message")
OUTPUT_FIELDS = ("stdout", "stderr", "tables")


def test_a_queued_execution_has_only_its_first_fields() -> None:
    result = result_of(RECORD, None, running=False, output=None, webhook=None)
    assert result == ExecutionResult(id="e1", status="queued", language="python",
                                     submitted_at=1_700_000_000.0, request_id="r1")
    for name in COMPLETION_FIELDS + OUTPUT_FIELDS:
        assert getattr(result, name) is None, name


def test_a_running_execution_says_so() -> None:
    result = result_of(RECORD, None, running=True, output=None, webhook=None)
    assert result.status == "running"
    assert result.verdict is None
    assert result.stdout is None


def test_the_webhook_state_is_shown_at_every_stage() -> None:
    hook = WebhookState("pending")
    assert result_of(RECORD, None, False, None, hook).webhook == hook
    assert result_of(RECORD, COMPLETION, False, None, hook).webhook == hook


def test_a_completed_execution_has_every_completion_field_and_its_output() -> None:
    output = StoredOutput("out\n", "err\n", [TableResult(["n"], [[1]])], truncated=True)
    result = result_of(RECORD, COMPLETION, running=True, output=output, webhook=None)
    assert result.status == "completed"
    for name in COMPLETION_FIELDS:
        assert getattr(result, name) == getattr(COMPLETION, name), name
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.tables == [TableResult(["n"], [[1]])]
    assert (result.id, result.language, result.request_id) == ("e1", "python", "r1")


def test_a_completed_execution_without_kept_output_has_empty_output() -> None:
    result = result_of(RECORD, COMPLETION, running=False, output=None, webhook=None)
    assert result.status == "completed"
    assert result.stdout == ""
    assert result.stderr == ""
    assert result.tables == []


def test_a_completed_execution_serializes_its_completion_fields_in_camel_case() -> None:
    body = msgspec.json.decode(msgspec.json.encode(
        result_of(RECORD, COMPLETION, False, None, None)))
    for key in ("exitCode", "wallMs", "cpuMs", "memoryKb", "queuedMs", "submittedAt"):
        assert key in body, key
    assert body["status"] == "completed"


def test_a_completed_execution_shows_the_limits_it_ran_with_and_the_requests_warnings() -> None:
    limits = JobLimits(wall_ms=5000, cpu_ms=5000, memory_mb=256, output_kb=1024, processes=64)
    warned = msgspec.structs.replace(RECORD, warnings=["mainFile 'main.c' has the extension"])
    completion = msgspec.structs.replace(COMPLETION, limits=limits)
    queued = result_of(warned, None, running=False, output=None, webhook=None)
    assert (queued.limits, queued.warnings) == (None, ["mainFile 'main.c' has the extension"])
    done = result_of(warned, completion, running=False, output=None, webhook=None)
    assert (done.limits, done.warnings) == (limits, ["mainFile 'main.c' has the extension"])
    body = msgspec.json.decode(msgspec.json.encode(done))
    assert body["limits"] == {"wallMs": 5000, "cpuMs": 5000, "memoryMb": 256, "outputKb": 1024,
                              "processes": 64}
    assert body["warnings"] == ["mainFile 'main.c' has the extension"]


# --- problem_response -------------------------------------------------------------------------


def test_a_problem_is_a_json_error_body_with_its_status() -> None:
    response = problem_response(ApiProblem(404, "not_found", "no execution 'x'"))
    assert response.status_code == 404
    assert response.media_type == "application/json"
    assert msgspec.json.decode(response.body) == {
        "error": {"code": "not_found", "message": "no execution 'x'"}
    }
    assert "retry-after" not in response.headers


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(0.0, "1"), (0.2, "1"), (1.0, "1"), (1.2, "2"), (2.5, "3"), (2.6, "3"), (12.0, "12"),
     (59.9, "60")],
)
def test_retry_after_is_rounded_up_to_at_least_a_second(retry_after: float, header: str) -> None:
    response = problem_response(ApiProblem(429, "rate_limited", "slow down", retry_after))
    assert response.status_code == 429
    assert response.headers["retry-after"] == header


# --- route_label ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/api/v1/executions/0123456789abcdef0123456789abcdef", "/api/v1/executions/{id}"),
        ("/api/v1/executions/another-id", "/api/v1/executions/{id}"),
        ("/api/v1/executions/batch", "/api/v1/executions/batch"),
        ("/api/v1/executions", "/api/v1/executions"),
        ("/api/v1/runtimes", "/api/v1/runtimes"),
        ("/api/queue-stats", "/api/queue-stats"),
        ("/metrics", "/metrics"),
        ("/healthz", "/healthz"),
        ("/", "/static"),
        ("/assets/app-1234.js", "/static"),
        ("/favicon.ico", "/static"),
        ("/judge0/submissions/8ff22bf4-0a2f-4ab4-9400-58fea48e6e3c",
         "/judge0/submissions/{token}"),
        ("/judge0/submissions/batch", "/judge0/submissions/batch"),
        ("/judge0/languages/71", "/judge0/languages/{id}"),
        ("/judge0/statuses", "/judge0/statuses"),
        ("/judge0/no/such/path", "/judge0/other"),
    ],
)
def test_routes_are_labelled_without_execution_ids_or_file_names(path: str, label: str) -> None:
    assert route_label(path) == label
