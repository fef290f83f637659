"""Every payload that crosses NATS or the WebSocket.

Wire rules (msgspec): messages are frozen ``Struct``s; tagged unions use the ``type`` field;
field names are camelCase on the wire. Schema evolution: new fields need defaults, a field's
type never changes, a tag is never reused.

Rolling upgrades (one version of skew): what components send each other ignores unknown fields,
so a newer edge's job with a new field runs on an older dispatcher and runner; only client
frames (``_Wire``) refuse them. A job that cannot be decoded at all (a kind of work this version
does not know) ends with an ``internal_error`` completion saying so (``undecodable_job``).

The events a runner publishes (``status``, ``output``, ``table``, ``completion``) are encoded
once and forwarded verbatim to WebSocket clients, so NATS subscribers and browsers see the same
JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, assert_never

import msgspec
from msgspec import Meta, Struct

from contracts.judging import (
    Case,
    Checker,
    Group,
    JudgeFrame,
    JudgementEvent,
    LinesChecker,
    StoredCase,
    TestResultEvent,
)
from contracts.language_servers import LspEvent, LspFrame, LspStateEvent
from contracts.program import (
    MAX_ARGS,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_LIMIT,
    MAX_STDIN_BYTES,
    MAX_TOTAL_BYTES,
    MIN_MEMORY_MB,
    NO_CONTROL,
    NO_NUL,
    STDIN_WINDOW_BYTES,
    Arg,
    CellCode,
    FileContent,
    FileName,
    Id,
    JobFile,
    JobLimits,
    Language,
    Limits,
    NotebookId,
    SourceFile,
    StdinData,
    file_name_problem,
    program_problem,
)
from contracts.session_control import SessionControlFrame, SessionStateEvent
from contracts.workspaces import WorkspaceRef, files_or_workspace

__all__ = [  # what other modules import from here that lives in contracts/program.py
    "MAX_ARGS",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_LIMIT",
    "MAX_STDIN_BYTES",
    "MAX_TOTAL_BYTES",
    "MIN_MEMORY_MB",
    "NO_CONTROL",
    "NO_NUL",
    "STDIN_WINDOW_BYTES",
    "Arg",
    "CellCode",
    "FileContent",
    "FileName",
    "Id",
    "JobFile",
    "JobLimits",
    "Language",
    "Limits",
    "NotebookId",
    "SourceFile",
    "StdinData",
    "file_name_problem",
    "program_problem",
]

Verdict = Literal[
    "ok",
    "compile_error",
    "runtime_error",
    "time_limit",
    "memory_limit",
    "output_limit",
    "cancelled",
    "expired",
    "internal_error",
]
Stream = Literal["stdout", "stderr"]
Status = Literal["queued", "running"]
StepPhase = Literal["compile", "run"]
ControlAction = Literal["stdin", "eof", "stop"]
KernelName = Literal["python", "bash"]
NotebookState = Literal["open", "interrupted", "restarted", "closed", "dead", "none"]
NotebookAction = Literal["interrupt", "restart", "close"]
Isolation = Literal["runc", "gvisor"]
"""What separates a sandbox from the host kernel: ``runc`` (namespaces, seccomp, dropped
capabilities; the host kernel serves every system call) or ``gvisor`` (runsc, a kernel in user
space between the program and the host). See docs/reliability.md."""


class _Wire(Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    """Base of client-to-server messages: unknown fields are an error."""


class _Carried(Struct, frozen=True, rename="camel"):
    """Base of what components pass each other: unknown fields (a newer version's) are ignored."""


class _Event(Struct, frozen=True, rename="camel", omit_defaults=True, tag_field="type"):
    """Base of server-to-client events."""


# --- client to server (WebSocket) -------------------------------------------------------------


class Program(_Wire, frozen=True):
    """What every way of running code asks for: ``files`` written to the workspace,
    ``mainFile`` started with ``args`` and ``stdin``, within ``limits``."""

    language: Language
    files: Annotated[list[SourceFile], Meta(min_length=1, max_length=MAX_FILES)]
    main_file: FileName
    request_id: Id | None = None
    stdin: StdinData = ""
    args: Annotated[list[Arg], Meta(max_length=MAX_ARGS)] = []
    limits: Limits | None = None


class ExecuteCode(Program, frozen=True, kw_only=True, tag="execute_code", tag_field="type"):
    """Run a program from the browser socket: its ``files``, or those of a ``workspace`` of
    the socket's owner (the edge puts them in ``files`` before anything else reads the
    frame: docs/workspaces.md#running-a-workspace)."""

    files: Annotated[list[SourceFile], Meta(max_length=MAX_FILES)] = []
    network: bool | None = None
    """Run on the session's private network (to reach another console tab's server, or the
    session's MySQL at host ``mysql``); by default the edge decides from the source."""
    workspace: WorkspaceRef | None = None

    def __post_init__(self) -> None:
        files_or_workspace(self.files, self.workspace)


class StdinInput(_Wire, frozen=True, tag="stdin", tag_field="type"):
    """Bytes for a running program's standard input, or ``eof`` to close it."""

    execution_id: Id
    data: StdinData = ""
    eof: bool = False


class StopExecution(_Wire, frozen=True, tag="stop", tag_field="type"):
    """End a queued or running execution with verdict ``cancelled``."""

    execution_id: Id


class AttachExecution(_Wire, frozen=True, tag="attach", tag_field="type"):
    """Listen again to an execution this session started, from any edge (after a reconnect
    to another edge, or to a restarted one): a completed one's stored output and completion
    are sent at once; a running one's events follow as they come."""

    execution_id: Id


class NotebookOpen(_Wire, frozen=True, tag="notebook_open", tag_field="type"):
    """Open a notebook of this session (its kernel starts with the first cell); the server
    makes a ``notebookId`` when none is given. With a ``workspace`` (of the socket's owner)
    the kernel starts with that revision's files in its working directory."""

    notebook_id: NotebookId | None = None
    kernel: KernelName = "python"
    request_id: Id | None = None
    workspace: WorkspaceRef | None = None


class NotebookExecute(_Wire, frozen=True, tag="notebook_execute", tag_field="type"):
    """Run one cell in the notebook's kernel: queued at priority 0, after the notebook's
    earlier cells."""

    notebook_id: NotebookId
    cell_id: NotebookId
    code: CellCode
    request_id: Id | None = None
    limits: Limits | None = None


class NotebookInterrupt(_Wire, frozen=True, tag="notebook_interrupt", tag_field="type"):
    """SIGINT to the kernel: the running cell ends ``cancelled``, the state stays."""

    notebook_id: NotebookId
    request_id: Id | None = None


class NotebookRestart(_Wire, frozen=True, tag="notebook_restart", tag_field="type"):
    """A fresh kernel: every variable is gone."""

    notebook_id: NotebookId
    request_id: Id | None = None


class NotebookClose(_Wire, frozen=True, tag="notebook_close", tag_field="type"):
    """Stop the kernel and remove its container."""

    notebook_id: NotebookId
    request_id: Id | None = None


ClientFrame = (
    ExecuteCode | StdinInput | StopExecution | AttachExecution | NotebookOpen | NotebookExecute
    | NotebookInterrupt | NotebookRestart | NotebookClose | JudgeFrame | SessionControlFrame
    | LspFrame
)


# --- server to client (WebSocket, and NATS events) ---------------------------------------------


class StatusEvent(_Event, frozen=True, tag="status"):
    execution_id: str
    status: Status
    request_id: str | None = None
    notebook_id: str | None = None
    cell_id: str | None = None
    phase: StepPhase | None = None
    """A compiled program's step while ``running``: ``compile`` first, then a second
    ``running`` event with ``run`` once the compile step succeeded (absent otherwise)."""


class OutputEvent(_Event, frozen=True, tag="output"):
    execution_id: str
    stream: Stream
    data: str


class TableEvent(_Event, frozen=True, tag="table"):
    """One SQL result set, in statement order."""

    execution_id: str
    columns: list[str]
    rows: list[list[Any]]


class NotebookOutputEvent(_Event, frozen=True, tag="notebook_output"):
    """One output of a notebook cell, as the kernel emitted it: an nbformat 4 output dict
    (``output_type`` stream, execute_result, display_data or error; snake_case keys, MIME
    bundles in ``data``), ready to be stored in a ``.ipynb`` file."""

    execution_id: str
    notebook_id: str
    cell_id: str
    output: dict[str, Any]


class CompletionEvent(_Event, frozen=True, tag="completion"):
    """The last event of an execution; also published on ``exec.completed.<executionId>``."""

    execution_id: str
    verdict: Verdict
    exit_code: int | None = None
    signal: str | None = None
    wall_ms: int = 0
    cpu_ms: int = 0
    memory_kb: int = 0
    truncated: bool = False
    queued_ms: int = 0
    language: str = ""
    message: str | None = None
    request_id: str | None = None
    claimed_at: float = 0.0
    """When a runner claimed the job (Unix seconds); left out when no runner did."""
    webhook: bool = False
    """The result is also POSTed to the execution's ``callbackUrl`` (HTTP API)."""
    notebook_id: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    """A notebook cell's number in its kernel (``In [n]``)."""
    isolation: Isolation | None = None
    """The isolation of the sandbox that ran it; left out when no runner took the job."""
    limits: JobLimits | None = None
    """The limits the program ran with: what its request asked for, the runtime's defaults for
    the rest, clamped to the server's maxima; left out when no program ran."""


class ErrorEvent(_Event, frozen=True, tag="error"):
    """A request that could not be accepted; the connection stays usable."""

    code: str
    message: str
    request_id: str | None = None
    execution_id: str | None = None


class NotebookEvent(_Event, frozen=True, tag="notebook"):
    """A notebook's kernel changed state: the answer to open, interrupt, restart and close, or
    ``dead`` when the kernel's container was gone when asked (its state is lost). A kernel that
    dies during a cell ends that cell ``runtime_error`` and starts again, empty."""

    notebook_id: str
    state: NotebookState
    kernel: str | None = None
    message: str | None = None
    request_id: str | None = None


class SessionEvent(_Event, frozen=True, tag="session"):
    """The first frame on a socket: its session, and the token that resumes it on reconnect
    (``/ws?token=…``)."""

    session_id: str
    token: str
    resumed: bool = False


ServerEvent = (
    StatusEvent | OutputEvent | TableEvent | CompletionEvent | ErrorEvent | SessionEvent
    | NotebookOutputEvent | NotebookEvent | TestResultEvent | JudgementEvent | SessionStateEvent
    | LspEvent | LspStateEvent
)
ExecutionEvent = (
    StatusEvent | OutputEvent | TableEvent | NotebookOutputEvent | CompletionEvent
    | TestResultEvent | JudgementEvent
)


# --- between components (NATS only) --------------------------------------------------------------


KERNEL_RUNTIME = "python"
"""The runtime whose image runs every notebook kernel (python and bash): it has Jupyter."""


class _Job(Struct, frozen=True, rename="camel", omit_defaults=True, kw_only=True,
           tag_field="kind"):
    """What every job carries, whatever its kind of work (``ProgramJob``, ``CellJob``).

    ``owner`` is the trust scope (``session:<id>``, ``key:<id>`` or ``anon:<executionId>``): a
    container that ran one owner's code is never used for another.
    """

    execution_id: str
    owner: str
    priority: int
    submitted_at: float
    request_id: str | None = None
    limits: JobLimits | None = None
    keep_output: bool = False
    """Store stdout, stderr and tables in the ``executions`` bucket for the HTTP API to read."""
    webhook: bool = False
    """A callback URL waits for this job's result: its completion says so (``webhook``)."""
    isolation: Isolation = "runc"
    """The least isolation the caller asks for (its API key's); the runner runs the job under
    the strongest of this, the runtime's and its own default (``gvisor`` over ``runc``)."""


class ProgramJob(_Job, frozen=True, kw_only=True, tag="program"):
    """A program: ``files`` written to a sandbox's workspace, ``mainFile`` compiled and run.

    ``reuseKey`` names the owner's container to reuse (an IDE console tab); without it the
    container is single-use. ``interactive`` jobs (the IDE) keep stdin open for live input
    unless ``stdin`` is given, and may run up to the server's maximum wall time by default.
    """

    language: str
    files: Sequence[JobFile]
    main_file: str
    reuse_key: str | None = None
    interactive: bool = False
    stdin: str = ""
    args: list[str] = []
    network: bool = False
    """Run on the owner's private session network (internal bridge), reachable by the owner's
    other networked sandboxes under the main file's stem, with the session's MySQL at
    ``mysql``. Otherwise the sandbox has no network at all."""
    compile_options: list[str] = []
    """Words appended to the compile step's argv (Judge0's ``compiler_options``), each one of
    the language's allow-list checked by the edge; never passed through a shell."""

    @property
    def runtime(self) -> str:
        """The runtime (image) that runs the job."""
        return self.language


class CellJob(_Job, frozen=True, kw_only=True, tag="cell"):
    """A notebook cell: ``code`` run in the owner's kernel of ``notebookId`` (started as
    ``kernel`` when it is not running yet), one cell of a notebook at a time."""

    notebook_id: str
    cell_id: str
    code: str
    kernel: str = "python"
    files: Sequence[JobFile] = []
    """Written to the kernel's working directory when the kernel starts (the notebook's
    workspace, bounded as a program's files); a running kernel ignores them."""

    @property
    def runtime(self) -> str:
        """The runtime (image) that runs the job: every kernel's."""
        return KERNEL_RUNTIME


class JudgementJob(_Job, frozen=True, kw_only=True, tag="judgement"):
    """A submission judged against ``tests`` (contracts/judging.py, docs/judging.md): compiled
    once, run once per test in sandboxes of the owner's (``reuseKey``: the slot its runs use),
    each output judged by ``checker``; the tests of a stored problem are filled in by the edge.
    Each test's result is a ``test`` event, the whole a ``judgement`` event, then the
    completion (``ok`` once judged, whatever the verdicts)."""

    language: str
    files: Sequence[JobFile]
    main_file: str
    tests: list[Case | StoredCase]
    """The tests inline, or a stored problem's (fetched by the runner)."""
    checker: Checker = LinesChecker()
    stop_on_first_failure: bool = False
    groups: list[Group] = []
    reuse_key: str | None = None
    args: list[str] = []
    """The program's arguments in every test (Judge0's ``command_line_arguments``)."""
    compile_options: list[str] = []
    """As a ``ProgramJob``'s (Judge0's ``compiler_options``), for the submission's compile."""
    report_runs: bool = False
    """Judge0's ``number_of_runs``: the tests are runs of one program, one after another in
    order in one sandbox (compiled once), and each test's result keeps its run
    (``CaseResult.run``; the output only of the ``decisive`` test)."""

    @property
    def runtime(self) -> str:
        """The runtime (image) that runs the submission."""
        return self.language


Job = ProgramJob | CellJob | JudgementJob
"""An accepted execution on its way from the edge through the dispatcher to a runner, tagged
by its kind of work (``kind``); a component that treats kinds differently ``match``es on it."""


def cell_ids(job: Job) -> tuple[str | None, str | None]:
    """A cell's notebook and cell ids, which its events and completion carry; a program's none."""
    match job:
        case CellJob():
            return job.notebook_id, job.cell_id
        case ProgramJob() | JudgementJob():
            return None, None
        case _:
            assert_never(job)


def status_for(job: Job, status: Status, phase: StepPhase | None = None) -> StatusEvent:
    """The ``status`` event of ``job`` (queued by the edge, running by the runner)."""
    notebook_id, cell_id = cell_ids(job)
    return StatusEvent(job.execution_id, status, request_id=job.request_id,
                       notebook_id=notebook_id, cell_id=cell_id, phase=phase)


def completion_for(job: Job, verdict: Verdict, message: str | None = None, *,
                   queued_ms: int = 0, wall_ms: int = 0, exit_code: int | None = None,
                   signal: str | None = None, cpu_ms: int = 0, memory_kb: int = 0,
                   truncated: bool = False, execution_count: int | None = None,
                   limits: JobLimits | None = None) -> CompletionEvent:
    """The completion of ``job``: what every completion copies from its job (ids, runtime,
    webhook, a cell's notebook and cell ids) filled in once, here, for every component."""
    notebook_id, cell_id = cell_ids(job)
    return CompletionEvent(
        execution_id=job.execution_id, verdict=verdict, exit_code=exit_code, signal=signal,
        wall_ms=wall_ms, cpu_ms=cpu_ms, memory_kb=memory_kb, truncated=truncated,
        queued_ms=queued_ms, language=job.runtime, message=message, request_id=job.request_id,
        webhook=job.webhook, notebook_id=notebook_id, cell_id=cell_id,
        execution_count=execution_count, limits=limits,
    )


class _JobEnvelope(_Carried, frozen=True):
    """What any job, of any kind and version, is known to carry."""

    execution_id: Id
    request_id: str | None = None
    webhook: bool = False
    kind: str = ""


def undecodable_job(data: bytes, problem: str) -> CompletionEvent | None:
    """The ``internal_error`` completion of a job this version cannot decode (a newer kind of
    work, say), so that its caller learns why instead of waiting; None when even its execution
    id cannot be read (nobody waits for it then)."""
    try:
        envelope = msgspec.json.decode(data, type=_JobEnvelope)
    except msgspec.DecodeError:  # or its subclass ValidationError
        return None
    kind = f" of kind {envelope.kind!r}" if envelope.kind else ""
    return CompletionEvent(
        execution_id=envelope.execution_id, verdict="internal_error",
        message=f"this installation cannot read the job{kind} (a newer or older version sent "
                f"it during an upgrade?): {problem}",
        request_id=envelope.request_id, webhook=envelope.webhook)


class Control(Struct, frozen=True, rename="camel", omit_defaults=True):
    """Edge to runner, on ``exec.control.<executionId>``: stdin bytes, end of input, or stop."""

    execution_id: str
    action: ControlAction
    data: str = ""


class DrainReply(Struct, frozen=True, rename="camel"):
    """A runner's answer to ``coderunner runner drain``: it takes no more jobs, and this many
    still run."""

    running: int


class ControlReply(Struct, frozen=True, rename="camel", omit_defaults=True):
    """Runner to edge, the answer to a ``Control`` request: taken (``accepted``), or refused
    with an error code and message for the client (``stdin_full``, ``not_found``)."""

    accepted: bool = True
    code: str = ""
    message: str = ""


class NotebookCommand(Struct, frozen=True, rename="camel"):
    """Edge to the runner holding a kernel, request-reply on ``notebook.control.<key>``."""

    action: NotebookAction


class NotebookReply(Struct, frozen=True, rename="camel", omit_defaults=True):
    state: NotebookState
    message: str | None = None


class NotebookRecord(Struct, frozen=True, rename="camel", omit_defaults=True):
    """A notebook opened with the HTTP API, under ``notebook.<key>`` in ``executions``."""

    notebook_id: str
    owner: str
    kernel: str
    created_at: float
    workspace: WorkspaceRef | None = None
    """The workspace whose files its kernel starts with, pinned to the revision it had when
    the notebook was opened."""


class PoolInfo(Struct, frozen=True, rename="camel"):
    """One language's warm pool on one runner."""

    warm: int = 0
    target: int = 0
    created: int = 0
    create_ms_p50: float = 0.0


class RunnerInfo(Struct, frozen=True, rename="camel"):
    """A runner's heartbeat in the ``runners`` KV bucket."""

    runner_id: str
    versions: dict[str, str]
    """Language name → version read from its image."""
    active: int = 0
    capacity: int = 0
    at: float = 0.0
    pools: dict[str, PoolInfo] = {}
    kept: int = 0
    """Idle containers parked for an owner's next run."""
    jobs: int = 0
    reused: int = 0
    """Jobs run so far, and how many of them in a container kept from the owner's last run."""
    sessions: int = 0
    """Session networks this runner holds."""
    kernels: int = 0
    """Notebook kernels running on this runner."""
    taken_away: int = 0
    """Sandboxes removed because their agent did not end a run (or reset) in time: frozen,
    then removed, by the runner's hard end (docs/reliability.md)."""
    discarded: int = 0
    """Used sandboxes destroyed instead of reused because their reset's check found them not
    like a fresh one (a leftover process, file, IPC object, or a changed limit)."""
    package_layers: int = 0
    package_bytes: int = 0
    """Package layers on this runner's Docker engine (docs/packages.md), and their files' size."""
    images: dict[str, str] = {}
    """Language → the inputs hash of its image here (label ``coderunner.inputs``): dispatchers
    send a language's jobs only to runners with the fleet's usual image of it (drift check)."""
    seats: bool = False
    """It takes jobs from its seats in ``SEATS`` (``contracts.subjects.seat``), one per seat
    (and from ``RUN`` too); an older runner does not say so and is given jobs on ``RUN``."""


class TableResult(Struct, frozen=True, rename="camel"):
    columns: list[str]
    rows: list[list[Any]]


class StoredOutput(Struct, frozen=True, rename="camel", omit_defaults=True):
    """What a ``keepOutput`` job printed, put by the runner in the ``executions`` bucket under
    ``<executionId>.out`` before it publishes the completion."""

    stdout: str = ""
    stderr: str = ""
    tables: list[TableResult] = []
    truncated: bool = False
    outputs: list[dict[str, Any]] = []
    """A notebook cell's nbformat outputs."""
    execution_count: int | None = None


class ExecutionRecord(Struct, frozen=True, rename="camel", omit_defaults=True):
    """An execution accepted by the HTTP API, put by the edge under ``<executionId>``."""

    execution_id: str
    owner: str
    language: str
    submitted_at: float
    request_id: str | None = None
    callback_url: str | None = None
    notebook_id: str | None = None
    cell_id: str | None = None
    warnings: list[str] = []
    """What the edge noticed about the request without refusing it (a main file whose
    extension is another language's)."""


WebhookStatus = Literal["pending", "retrying", "delivered", "failed"]


class WebhookState(Struct, frozen=True, rename="camel", omit_defaults=True):
    """Delivery of a completion to its ``callbackUrl``, under ``<executionId>.hook``."""

    status: WebhookStatus
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: float | None = None
    next_attempt_at: float | None = None


class QueueStats(Struct, frozen=True, rename="camel"):
    """A dispatcher's answer on ``stats.queue``: its queue, and counts since it started."""

    waiting: dict[str, int]
    """Priority (as a string) → jobs waiting, held by this dispatcher or not fetched yet."""
    running: int
    capacity: int
    max_concurrent: int
    verdicts: dict[str, int]
    wall_ms_p50: float = 0.0
    wall_ms_p95: float = 0.0
    queued_ms_p50: float = 0.0
    queued_ms_p95: float = 0.0
    recent: int = 0
    """How many recent completions the percentiles are over."""
    started_at: float = 0.0
    on_runners: int = 0
    """Jobs on runners as this dispatcher counts them: those it released, those it heard a
    dispatcher or an edge put on a seat, and the rest its runners' heartbeats count; an edge
    takes the largest answer for ``running`` when it is above the released jobs' sum (jobs an
    edge placed are released by no dispatcher)."""


class PlacementState(Struct, frozen=True, rename="camel"):
    """What a dispatcher tells the edges (``contracts.subjects.PLACEMENT_STATE``): whether they
    may put jobs straight on free seats, and the images runners must have."""

    dispatcher_id: str
    waiting: int
    """Jobs in its queue that could not go to a runner at its last look: while any dispatcher
    has one, edges leave every job to the queue (its priorities and fair share apply)."""
    capped: bool
    """``MAX_CONCURRENT_SESSIONS`` is set: a job needs a slot, which only a dispatcher takes."""
    usual_images: dict[str, str] = {}
    """Language → the inputs hash of the image most runners have (``Fleet.usual_image``): a
    runner whose image of a language differs takes none of its jobs."""


client_frame_decoder = msgspec.json.Decoder(ClientFrame)
runner_info_decoder = msgspec.json.Decoder(RunnerInfo)
job_decoder = msgspec.json.Decoder(Job)
control_decoder = msgspec.json.Decoder(Control)
event_decoder = msgspec.json.Decoder(ExecutionEvent)
completion_decoder = msgspec.json.Decoder(CompletionEvent)
stored_output_decoder = msgspec.json.Decoder(StoredOutput)
record_decoder = msgspec.json.Decoder(ExecutionRecord)
webhook_state_decoder = msgspec.json.Decoder(WebhookState)
queue_stats_decoder = msgspec.json.Decoder(QueueStats)
placement_state_decoder = msgspec.json.Decoder(PlacementState)
notebook_command_decoder = msgspec.json.Decoder(NotebookCommand)
notebook_reply_decoder = msgspec.json.Decoder(NotebookReply)
notebook_record_decoder = msgspec.json.Decoder(NotebookRecord)
drain_reply_decoder = msgspec.json.Decoder(DrainReply)
encode = msgspec.json.Encoder().encode
