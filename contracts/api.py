"""The HTTP API's request and response bodies (``/api/v1``), documented in docs/api.md and in the
OpenAPI document the edge serves at ``/api/v1/openapi.json``, both generated from these types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from contracts.messages import (
    CellCode,
    Id,
    Isolation,
    JobLimits,
    KernelName,
    Limits,
    NotebookId,
    NotebookState,
    Program,
    TableResult,
    Verdict,
    WebhookState,
)
from contracts.workspaces import WorkspaceRef

MAX_BATCH = 20
MAX_CALLBACK_URL = 2048
CallbackUrl = Annotated[str, Meta(min_length=8, max_length=MAX_CALLBACK_URL,
                                   pattern=r"^[^\x00-\x20\x7f]+$")]
"""No space or control character (a NUL or a line break must not reach a request line)."""
ApiStatus = Literal["queued", "running", "completed"]


class ExecutionRequest(Program, frozen=True):
    """``POST /api/v1/executions``: the fields of the socket's ``execute_code``, plus
    ``callbackUrl`` (POST the result there when done) and ``background`` (priority 0)."""

    callback_url: CallbackUrl | None = None
    background: bool = False


class BatchRequest(Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """``POST /api/v1/executions/batch``: up to 20 executions, each accepted or refused alone."""

    executions: Annotated[list[ExecutionRequest], Meta(min_length=1, max_length=MAX_BATCH)]


class ApiError(Struct, frozen=True):
    code: str
    message: str


class ErrorBody(Struct, frozen=True):
    """Every error answer: ``{"error": {"code": …, "message": …}}``."""

    error: ApiError


class Accepted(Struct, frozen=True):
    """An execution in the queue (202)."""

    id: str
    status: ApiStatus = "queued"
    warnings: list[str] = []
    """What looks wrong in the request without being refused (see ``ExecutionResult``)."""


class BatchItem(Struct, frozen=True, omit_defaults=True):
    """One batch entry's outcome: an ``id`` when accepted, an ``error`` when refused."""

    id: str | None = None
    status: ApiStatus | None = None
    error: ApiError | None = None
    warnings: list[str] = []
    """As in ``Accepted``; left out when there are none."""


class BatchAccepted(Struct, frozen=True):
    executions: list[BatchItem]


class ExecutionResult(Struct, frozen=True, rename="camel"):
    """``GET /api/v1/executions/{id}`` and ``?wait=true`` answers, and the webhook's body.

    While queued or running only the first fields are set; once ``completed`` every completion
    field is (see docs/events.md), with the program's ``stdout``, ``stderr`` and SQL ``tables``.
    """

    id: str
    status: ApiStatus
    language: str
    submitted_at: float
    request_id: str | None = None
    verdict: Verdict | None = None
    exit_code: int | None = None
    signal: str | None = None
    wall_ms: int | None = None
    cpu_ms: int | None = None
    memory_kb: int | None = None
    truncated: bool | None = None
    queued_ms: int | None = None
    message: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    tables: list[TableResult] | None = None
    webhook: WebhookState | None = None
    notebook_id: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    """A notebook cell's number in its kernel."""
    outputs: list[dict[str, Any]] | None = None
    """A notebook cell's outputs, nbformat 4 output dicts (MIME bundles in ``data``)."""
    isolation: Isolation | None = None
    """The isolation of the sandbox that ran it (``runc`` or ``gvisor``), once completed."""
    limits: JobLimits | None = None
    """The limits the program ran with, once completed: those the request asked for, the
    runtime's defaults for the rest, clamped to the installation's maxima (absent when no
    program ran: expired, cancelled in the queue, a notebook cell)."""
    warnings: list[str] = []
    """What looks wrong in the request without being refused: a ``mainFile`` whose extension
    is another language's (``language: "python"`` with ``main.c``)."""


class ExecutionList(Struct, frozen=True, rename="camel"):
    """``GET /api/v1/executions``: a page of the key's executions, newest first, each without
    its output (``stdout``, ``stderr``, ``tables`` and ``outputs`` are null; get the execution
    for them). ``nextCursor``, when set, is the ``cursor`` of the next page."""

    executions: list[ExecutionResult]
    next_cursor: str | None = None


class NotebookRequest(Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """``POST /api/v1/notebooks``: a notebook of this key; its kernel starts with the first
    cell (with the files of ``workspace``, one of the key's, in its working directory). The
    server makes the id when none is given."""

    notebook_id: NotebookId | None = None
    kernel: KernelName = "python"
    workspace: WorkspaceRef | None = None


class NotebookInfo(Struct, frozen=True, rename="camel", omit_defaults=True):
    notebook_id: str
    state: NotebookState
    kernel: str | None = None
    message: str | None = None


class CellRequest(Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """``POST /api/v1/notebooks/{id}/cells``: run code in the notebook's kernel, after the
    notebook's earlier cells (priority 0). The answer is an execution, as for programs."""

    code: CellCode
    cell_id: NotebookId | None = None
    request_id: Id | None = None
    limits: Limits | None = None


class RuntimeInfo(Struct, frozen=True, rename="camel"):
    """``GET /api/v1/runtimes``: a language of the catalog, and whether a live runner serves it."""

    name: str
    display_name: str
    version: str
    """The version read from its image; empty when it is not built."""
    aliases: list[str]
    extension: str
    compiled: bool
    template: str
    built: bool = True
    """A live runner serves it (its image is built). False: the catalog has it but no runner
    serves it yet; ``build_command`` builds it, and runners serve it within seconds of that."""
    build_command: str = ""
    """For a language not built: the command that builds it (``coderunner images build
    --language <name>``); empty for one that is built."""


class QueueView(Struct, frozen=True, rename="camel"):
    waiting: dict[str, int]
    """Priority ("2" WebSocket, "1" API, "0" background) → jobs waiting."""
    depth: int
    running: int
    capacity: int
    max_concurrent: int


class TaskTimes(Struct, frozen=True, rename="camel"):
    """Over the latest completions (up to 500)."""

    count: int
    wall_ms_p50: float
    wall_ms_p95: float
    queued_ms_p50: float
    queued_ms_p95: float


class QueueStatsView(Struct, frozen=True, rename="camel"):
    """``GET /api/queue-stats``. Counts are since the oldest answering dispatcher started:
    ``completed`` is verdict ok, ``failed`` every other verdict but expired and cancelled."""

    queue: QueueView
    completed: int
    failed: int
    expired: int
    cancelled: int
    verdicts: dict[str, int]
    recent_task_times: TaskTimes
    dispatchers: int


class PoolView(Struct, frozen=True, rename="camel"):
    warm: int
    target: int
    created: int
    create_ms_p50: float


class RunnerView(Struct, frozen=True, rename="camel"):
    runner_id: str
    active: int
    capacity: int
    kept: int
    jobs: int
    reused: int
    sessions: int
    pools: dict[str, PoolView]
    last_heartbeat: float
    kernels: int = 0
    """Notebook kernels running on this runner."""
    taken_away: int = 0
    """Sandboxes this runner froze and removed since it started: their agent did not end a run
    (or its reset) in time (docs/reliability.md, the hard end)."""
    package_layers: int = 0
    package_bytes: int = 0
    """Package layers on this runner's Docker engine and their files' size (docs/packages.md):
    runners sharing an engine report the same layers."""


class AdminMetrics(Struct, frozen=True, rename="camel"):
    """``GET /api/admin/metrics`` (admin key): the whole installation."""

    runners: list[RunnerView]
    pools: dict[str, PoolView]
    """Per language, summed over runners (``createMsP50``: the slowest runner's)."""
    containers_warm: int
    containers_kept: int
    sessions: int
    """Session networks (each with its sandboxes and maybe a database)."""
    active: int
    jobs: int
    reused: int
    reuse_rate: float
    """Share of jobs that ran in a container kept from the same owner's previous run."""
    queue: QueueStatsView | None
    kernels: int = 0
    """Notebook kernels (each a container with a live Jupyter kernel and its state)."""
    taken_away: int = 0
    """Sandboxes frozen and removed by the runners' hard end, summed over live runners."""


execution_request_decoder = msgspec.json.Decoder(ExecutionRequest)
batch_request_decoder = msgspec.json.Decoder(BatchRequest)
notebook_request_decoder = msgspec.json.Decoder(NotebookRequest)
cell_request_decoder = msgspec.json.Decoder(CellRequest)


def to_json(value: Any) -> bytes:
    return msgspec.json.encode(value)
