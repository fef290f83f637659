"""The browser socket: one ``Connection`` per WebSocket, speaking docs/protocol.md."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from dataclasses import dataclass

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

from contracts.judging import JudgeFrame
from contracts.language_servers import LspFrame
from contracts.messages import (
    KERNEL_RUNTIME,
    STDIN_WINDOW_BYTES,
    AttachExecution,
    ClientFrame,
    CompletionEvent,
    Control,
    ControlAction,
    ErrorEvent,
    ExecuteCode,
    Id,
    Job,
    NotebookAction,
    NotebookClose,
    NotebookEvent,
    NotebookExecute,
    NotebookInterrupt,
    NotebookOpen,
    NotebookOutputEvent,
    NotebookRestart,
    OutputEvent,
    ServerEvent,
    SessionEvent,
    SourceFile,
    StatusEvent,
    StdinInput,
    StopExecution,
    StoredOutput,
    TableEvent,
    client_frame_decoder,
    encode,
    event_decoder,
    status_for,
)
from contracts.runtimes import Catalog
from contracts.session_control import SessionControlFrame, SessionExecution, SessionStateEvent
from contracts.workspaces import WorkspaceRef
from edge.bus import EdgeBus
from edge.execution_events import Watch
from edge.fair_share import OpenRuns
from edge.intake import FromSocket, NotRunnable, cell_job, judgement_job, program_job
from edge.json_limits import structure_problem
from edge.language_servers import SocketLanguageServers
from edge.nats_connection import SubmitError
from edge.notebooks import kernel_command, new_notebook_id
from edge.runner_versions import RunnerVersions
from edge.session_control import SessionControl
from edge.sessions import SessionTokens
from edge.workspace_intake import Frame, OwnedWorkspaces
from edge.workspaces import NotFound, WorkspaceError

log = logging.getLogger(__name__)
SEND_QUEUE_LIMIT = 4096
MAX_HELD_CONTROLS = 64
"""stdin, eof and stop frames held for an execution that has not started yet."""
DELIVERED_KEPT = 256
MAX_FRAME_BYTES = 6 * 1024 * 1024
SLOW_READER_CLOSE = 1008
STATUS_PREFIX = b'{"type":"status"'


class Execution:
    """An execution this connection submitted.

    Events are held until ``queued`` has been sent. Control messages (stdin, eof, stop) are
    held until the runner reports ``running``: it subscribes to them before it says so, and
    nothing sent earlier would reach it. A stop is also sent at once, for the dispatcher to
    cancel the job while it is still queued. Held input is bounded like the runner's window
    (``STDIN_WINDOW_BYTES``, ``MAX_HELD_CONTROLS`` frames); past it a frame is refused.
    """

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self.watch: Watch | None = None
        self.opened = False
        self.running = False
        self.held: list[str] = []
        self.held_controls: list[Control] = []
        self.held_bytes = 0
        self.flushing = False
        """The held controls are being passed on (the runner said ``running``)."""


class Handovers:
    """The executions of each browser session that had not completed when its socket closed,
    kept on this edge for a while so that a socket resuming the session takes them over: it
    gets their remaining events and may stop them or feed them input."""

    KEEP_S = 600.0
    HANDOVER_WAIT_S = 1.0
    """A browser reconnects at once; the edge may not have seen the old socket close yet."""

    def __init__(self) -> None:
        self._by_session: dict[str, tuple[float, dict[str, Execution]]] = {}
        self._open: dict[str, int] = {}
        self._left: dict[str, asyncio.Event] = {}

    def enter(self, session_id: str) -> None:
        self._open[session_id] = self._open.get(session_id, 0) + 1

    def leave(self, session_id: str, executions: dict[str, Execution], now: float) -> None:
        self._forget_stale(now)
        if executions:
            self._by_session[session_id] = (now, dict(executions))
        self._open[session_id] = self._open.get(session_id, 1) - 1
        if self._open[session_id] <= 0:
            del self._open[session_id]
        left = self._left.pop(session_id, None)  # a resuming socket may wait for this
        if left is not None:
            left.set()

    def _forget_stale(self, now: float) -> None:
        for stale in [s for s, (at, _) in self._by_session.items() if now - at > self.KEEP_S]:
            del self._by_session[stale]

    async def take(self, session_id: str, now: float) -> dict[str, Execution]:
        """What the session's closed sockets left; when another socket of the session is still
        open (its close on its way), wait a moment for it to leave."""
        self._forget_stale(now)
        if session_id not in self._by_session and self._open.get(session_id, 0) > 1:
            left = self._left.setdefault(session_id, asyncio.Event())
            left.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(left.wait(), self.HANDOVER_WAIT_S)
        self._left.pop(session_id, None)
        return self._by_session.pop(session_id, (now, {}))[1]


@dataclass(frozen=True)
class OpenNotebook:
    """A notebook opened on this socket: its kernel, and the workspace whose files its kernel
    starts with (pinned to the revision it had when opened), if it named one."""

    kernel: str
    workspace: WorkspaceRef | None = None


class Connection:
    def __init__(self, ws: WebSocket, bus: EdgeBus, catalog: Catalog, session_id: str,
                 token: str, tokens: SessionTokens, resumed: bool = False,
                 handovers: Handovers | None = None, runs: OpenRuns | None = None,
                 address: str = "", sessions: SessionControl | None = None,
                 workspaces: OwnedWorkspaces | None = None,
                 versions: RunnerVersions | None = None) -> None:
        self.ws = ws
        self.bus = bus
        self.catalog = catalog
        self.session_id = session_id
        self.token = token
        self.resumed = resumed
        self.handovers = handovers or Handovers()
        self.tokens = tokens
        """Signs this session's execution ids, which ``attach`` checks (the edge's secret)."""
        self.runs = runs or OpenRuns(per_session=16, per_address=64)
        """The unfinished runs of every session and client address on this edge."""
        self.address = address
        """The client's address (of the TCP connection)."""
        self.sessions = sessions
        """Stops, resets and shows the session (None: the ``session_control`` frame is refused)."""
        self.workspaces = workspaces
        """The workspaces frames may name (None: none, each is ``not_found``)."""
        self.versions = versions
        """The languages live runners serve: a program of another is ``not_built`` (None: not
        checked)."""
        self.executions: dict[str, Execution] = {}
        self.delivered: collections.deque[str] = collections.deque(maxlen=DELIVERED_KEPT)
        """Executions whose completion this socket sent: ``attach`` ignores them."""
        self.notebooks: dict[str, OpenNotebook] = {}
        """The notebooks opened on this socket, by id."""
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(SEND_QUEUE_LIMIT)
        self.language_servers: SocketLanguageServers | None = None
        """This socket's language servers, from its first ``lsp`` frame on."""
        self.closing: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        await self.ws.accept()
        self.send(encode(SessionEvent(self.session_id, self.token, self.resumed)).decode())
        self.handovers.enter(self.session_id)
        sender = asyncio.create_task(self._send_loop())
        try:
            if self.resumed:
                await self._take_over(await self.handovers.take(self.session_id, time.time()))
            await self._receive_loop()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender  # it may have ended on a closed socket already
            await self._abandon_all()
            if self.language_servers is not None:
                await self.language_servers.close()

    async def _abandon_all(self) -> None:
        """The socket is gone: stop listening, and close the stdin of what still runs so that
        a program waiting for input ends; a job keeps its completion on the stream, and a
        socket resuming the session takes over what has not completed."""
        for execution in list(self.executions.values()):
            if execution.watch:
                await execution.watch.close()
                execution.watch = None
            await self.bus.commands.control(Control(execution.execution_id, "eof"))
        self.handovers.leave(self.session_id, self.executions, time.time())
        self.executions.clear()

    async def _take_over(self, executions: dict[str, Execution]) -> None:
        """Attach this socket to what the session left running, as they were (held input and
        all); what completed meanwhile gets its completion, without output (printed while no
        socket listened, it is not replayed)."""
        for execution in executions.values():
            execution.opened = True
            await self._follow(execution, replay_output=False)

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", errors="replace")
            await self.handle_frame(text or "")

    async def _send_loop(self) -> None:
        while (text := await self.outbox.get()) is not None:
            await self.ws.send_text(text)

    def send(self, text: str) -> None:
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("session %s reads too slowly; disconnecting", self.session_id)
            self.closing = asyncio.create_task(
                self.ws.close(SLOW_READER_CLOSE, "client reads too slowly")
            )

    def error(self, code: str, message: str, request_id: str | None = None,
              execution_id: str | None = None) -> None:
        self.send(encode(ErrorEvent(code, message, request_id, execution_id)).decode())

    async def handle_frame(self, text: str) -> None:
        if len(text) > MAX_FRAME_BYTES:
            self.error("invalid_request", f"frame longer than {MAX_FRAME_BYTES} characters")
            return
        if problem := structure_problem(text):
            self.error("invalid_request", f"the frame is not accepted: {problem}")
            return
        try:
            frame = client_frame_decoder.decode(text)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self.error("invalid_request", str(exc), request_id=_request_id_of(text))
            return
        await self.dispatch(frame)

    async def dispatch(self, frame: ClientFrame) -> None:
        match frame:
            case ExecuteCode():
                await self.execute(frame)
            case StdinInput():
                await self.control(frame.execution_id, "eof" if frame.eof else "stdin", frame.data)
            case StopExecution():
                await self.control(frame.execution_id, "stop", "")
            case AttachExecution():
                await self.attach(frame.execution_id)
            case NotebookOpen() | NotebookExecute():
                await self.notebook_run(frame)
            case NotebookInterrupt() | NotebookRestart() | NotebookClose():
                await self.notebook_command(frame)
            case SessionControlFrame():
                await self.session_command(frame)
            case JudgeFrame():
                await self.judge(frame)
            case LspFrame():
                await self.lsp(frame)

    async def lsp(self, frame: LspFrame) -> None:
        """A message for one of this socket's language servers (docs/language-servers.md),
        queued for the socket's lsp task: a start takes seconds, other frames go on."""
        if self.language_servers is None:
            self.language_servers = SocketLanguageServers(
                self.bus.language_servers, self.owner, self.send,
                lambda code, text: self.error(code, text))
        self.language_servers.submit(frame)

    # --- session control ------------------------------------------------------------------------

    async def session_command(self, frame: SessionControlFrame) -> None:
        if self.sessions is None:
            self.error("not_implemented", "session control is off on this edge", frame.request_id)
            return
        stopped: list[str] = []
        resources = None
        if frame.action in ("stop_all", "reset"):
            stopped = await self.sessions.stop_all(list(self.executions))
        if frame.action == "reset":
            resources = await self.sessions.reset(self.owner)
        elif frame.action == "resources":
            resources = await self.sessions.resources(self.owner)
        running = [SessionExecution(e.execution_id, "running" if e.running else "queued")
                   for e in self.executions.values()]
        self.send(encode(SessionStateEvent(
            running, list(self.delivered), stopped, resources, frame.action,
            frame.request_id)).decode())

    # --- notebooks ------------------------------------------------------------------------------

    @property
    def owner(self) -> str:
        return f"session:{self.session_id}"

    async def notebook_run(self, frame: NotebookOpen | NotebookExecute) -> None:
        if isinstance(frame, NotebookOpen):
            await self.notebook_open(frame)
            return
        notebook = self.notebooks.get(frame.notebook_id)
        if notebook is None:
            self.error("not_found", f"notebook {frame.notebook_id!r} is not open on this "
                       "connection: send notebook_open first", frame.request_id)
            return
        if self.catalog.get(KERNEL_RUNTIME) is None:
            self.error("unknown_language", "this installation has no python runtime for "
                       "notebook kernels", frame.request_id)
            return
        files: list[SourceFile] = []
        if notebook.workspace is not None:
            try:  # read again for each cell: only a starting kernel takes them, and any may
                _, files = await self.workspace_files(notebook.workspace)
            except WorkspaceError as exc:
                self.error(exc.code, str(exc), frame.request_id)
                return
        await self.submit(cell_job(self.owner, frame.notebook_id, frame.cell_id, frame.code,
                                   notebook.kernel,
                                   execution_id=self.tokens.execution_id(self.session_id),
                                   request_id=frame.request_id, limits=frame.limits,
                                   files=files))

    async def notebook_open(self, frame: NotebookOpen) -> None:
        """A notebook naming a workspace is refused here when it cannot have its files; its
        cells then read the revision it had now."""
        workspace = frame.workspace
        if workspace is not None:
            try:
                number, _ = await self.workspace_files(workspace)
            except WorkspaceError as exc:
                self.error(exc.code, str(exc), frame.request_id)
                return
            workspace = WorkspaceRef(workspace.id, number)
        notebook_id = frame.notebook_id or new_notebook_id()
        self.notebooks[notebook_id] = OpenNotebook(frame.kernel, workspace)
        self.send(encode(NotebookEvent(notebook_id, "open", frame.kernel,
                                       request_id=frame.request_id)).decode())

    async def workspace_files(self, reference: WorkspaceRef) -> tuple[int, list[SourceFile]]:
        """The files of a workspace of the socket's owner; raises WorkspaceError."""
        if self.workspaces is None:
            raise NotFound(f"no workspace {reference.id!r} of this session: this edge keeps "
                           "no workspaces for its socket")
        return await self.workspaces.files(reference)

    async def notebook_command(
        self, frame: NotebookInterrupt | NotebookRestart | NotebookClose
    ) -> None:
        action: NotebookAction = (
            "interrupt" if isinstance(frame, NotebookInterrupt) else
            "restart" if isinstance(frame, NotebookRestart) else "close")
        notebook = self.notebooks.get(frame.notebook_id)
        if notebook is None:
            self.error("not_found", f"notebook {frame.notebook_id!r} is not open on this "
                       "connection: send notebook_open first", frame.request_id)
            return
        reply = await kernel_command(self.bus, self.owner, frame.notebook_id, action)
        if action == "close":
            self.notebooks.pop(frame.notebook_id, None)
        self.send(encode(NotebookEvent(frame.notebook_id, reply.state, notebook.kernel,
                                       reply.message, frame.request_id)).decode())

    async def execute(self, frame: ExecuteCode) -> None:
        try:
            program = await self.with_files(frame)
            job = program_job(FromSocket(program, self.owner), self.catalog,
                              self.tokens.execution_id(self.session_id))
        except WorkspaceError as exc:
            self.error(exc.code, str(exc), frame.request_id)
            return
        except NotRunnable as refused:
            self.error(refused.code, refused.message, frame.request_id)
            return
        if self.versions is not None and (why := await self.versions.not_built(job.language)):
            self.error("not_built", why, frame.request_id)
            return
        await self.submit(job)  # its output kept for a client that reconnects elsewhere

    async def judge(self, frame: JudgeFrame) -> None:
        """A judgement: its ``test`` and ``judgement`` events come as any execution's. A
        ``problemId`` names a problem of this session's owner, as the HTTP API's names the
        key's (the socket stores none, so it is ``not_found``)."""
        stored = None
        if frame.problem_id is not None:
            stored = await self.bus.problems.problem(self.owner, frame.problem_id)
        try:
            judged = await self.with_files(frame)
            job = judgement_job(judged, self.owner, self.catalog,
                                self.tokens.execution_id(self.session_id), stored=stored)
        except WorkspaceError as exc:
            self.error(exc.code, str(exc), frame.request_id)
            return
        except NotRunnable as refused:
            self.error(refused.code, refused.message, frame.request_id)
            return
        await self.submit(job)

    async def with_files(self, frame: Frame) -> Frame:
        """``frame`` with the files of the workspace it names, if any (docs/workspaces.md);
        raises WorkspaceError."""
        if frame.workspace is None:
            return frame
        _, files = await self.workspace_files(frame.workspace)
        return msgspec.structs.replace(frame, files=files, workspace=None)

    async def submit(self, job: Job) -> None:
        if refused := self.runs.admit(job.execution_id, self.session_id, self.address):
            self.error("quota_exceeded", refused, job.request_id)
            return
        execution = Execution(job.execution_id)
        self.executions[job.execution_id] = execution
        execution.watch = await self._watch(execution)
        try:
            await self.bus.jobs.submit(job)
        except SubmitError as exc:
            self.runs.done(job.execution_id)
            await self._forget(execution)
            self.error(exc.code, str(exc), job.request_id)
            return
        self.send(encode(status_for(job, "queued")).decode())
        execution.opened = True
        for text in execution.held:
            self.send(text)
        execution.held.clear()

    async def attach(self, execution_id: str) -> None:
        """Listen to an execution of this session again; what completed meanwhile is sent
        from the store: its output, then its completion."""
        if execution_id in self.executions or execution_id in self.delivered:
            return  # followed already, or its completion was sent (after a take-over, say)
        if not self.tokens.owns(self.session_id, execution_id):
            self.error("not_found", f"no execution {execution_id!r} of this session",
                       execution_id=execution_id)
            return
        execution = Execution(execution_id)
        execution.opened = execution.running = True  # it may have started while none listened
        await self._follow(execution, replay_output=True)

    async def _follow(self, execution: Execution, replay_output: bool) -> None:
        """The one way a socket takes up an execution it did not submit (``attach``, or the
        take-over of a resumed session): listen to its events, then look in the store; if it
        completed meanwhile, send its completion (after its stored output, when
        ``replay_output``) and forget it, so that a later ``attach`` of it does nothing."""
        execution_id = execution.execution_id
        self.executions[execution_id] = execution
        execution.watch = await self._watch(execution)
        completion = await self.bus.events.completion(execution_id)
        if completion is None or execution_id not in self.executions:
            return  # it runs on, or its completion came through the watch meanwhile
        await self._forget(execution)  # first: from here the watch drops a live completion
        output = await self.bus.records.output(execution_id) if replay_output else None
        for event in stored_events(execution_id, completion, output):
            self.send(encode(event).decode())

    async def _watch(self, execution: Execution) -> Watch:
        return await self.bus.events.watch(
            execution.execution_id, lambda data, last: self._on_event(execution, data, last)
        )

    async def _on_event(self, execution: Execution, data: bytes, last: bool) -> None:
        if execution.execution_id not in self.executions:
            return  # its completion was sent already (read from the stream on a take-over)
        if not execution.running and not execution.flushing and is_running_event(data):
            execution.flushing = True  # what the client sends meanwhile is held, in order
            while execution.held_controls:
                await self._deliver(execution.held_controls.pop(0))
            execution.running = True
        text = data.decode()
        if execution.opened:
            self.send(text)
        else:
            execution.held.append(text)
        if last:
            await self._forget(execution)

    async def _forget(self, execution: Execution) -> None:
        if self.executions.pop(execution.execution_id, None) is not None:
            self.delivered.append(execution.execution_id)
        if execution.watch:
            await execution.watch.close()

    async def control(self, execution_id: str, action: ControlAction, data: str) -> None:
        execution = self.executions.get(execution_id)
        if execution is None:
            self.error("not_found", f"no execution {execution_id!r} of this session is running",
                       execution_id=execution_id)
            return
        control = Control(execution_id, action, data)
        if execution.running or (action == "stop" and execution.flushing):
            await self._deliver(control)  # a stop never waits behind held input
            return
        size = len(data.encode())
        if len(execution.held_controls) >= MAX_HELD_CONTROLS or (
                execution.held_bytes and execution.held_bytes + size > STDIN_WINDOW_BYTES):
            self.error("stdin_full", f"{action} refused: the execution has not started yet and "
                       f"holds {len(execution.held_controls)} frames, {execution.held_bytes} "
                       f"bytes of input (limits {MAX_HELD_CONTROLS} frames, "
                       f"{STDIN_WINDOW_BYTES} bytes)", execution_id=execution_id)
            return
        execution.held_controls.append(control)
        execution.held_bytes += size
        if action == "stop":
            await self.bus.commands.control(control)  # the dispatcher cancels it if still queued

    async def _deliver(self, control: Control) -> None:
        """Pass a control on to the runner; a refusal (input past the window, an execution
        that ended) becomes an error event for the client."""
        reply = await self.bus.commands.deliver_control(control)
        if not reply.accepted:
            self.error(reply.code, reply.message, execution_id=control.execution_id)


def stored_events(execution_id: str, completion: CompletionEvent,
                  output: StoredOutput | None) -> list[ServerEvent]:
    """A completed execution's events, rebuilt from what the runner stored: stdout, stderr,
    tables and notebook outputs (each stream in one piece), then the completion."""
    events: list[ServerEvent] = []
    if output is not None:
        if output.stdout:
            events.append(OutputEvent(execution_id, "stdout", output.stdout))
        if output.stderr:
            events.append(OutputEvent(execution_id, "stderr", output.stderr))
        events += [TableEvent(execution_id, t.columns, t.rows) for t in output.tables]
        if completion.notebook_id and completion.cell_id:
            events += [NotebookOutputEvent(execution_id, completion.notebook_id,
                                           completion.cell_id, o) for o in output.outputs]
    return [*events, completion]


def is_running_event(data: bytes) -> bool:
    """Whether an event's JSON is the runner's ``status: running`` (it listens from then on)."""
    if not data.startswith(STATUS_PREFIX):
        return False
    event = event_decoder.decode(data)
    return isinstance(event, StatusEvent) and event.status == "running"


class _RequestIdOnly(msgspec.Struct, rename="camel"):
    request_id: Id | None = None


def _request_id_of(text: str) -> str | None:
    """Best effort: the requestId of a frame that failed validation, to correlate the error
    (read only when it is a valid id; the frame's nesting was checked before)."""
    try:
        return msgspec.json.decode(text, type=_RequestIdOnly).request_id
    except msgspec.DecodeError:  # also a requestId that is no valid id
        return None
