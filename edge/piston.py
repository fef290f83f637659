"""Piston v2's API (docs/compat.md) under ``/api/v2``: runtimes, execute and the WebSocket.

An execute is an execution of the HTTP API (``Api.accept``: same keys, rate limits, quota,
priority-1 queue, records and results), awaited as ``?wait=true`` is; only the shapes are
Piston's. Errors are 400 ``{"message": …}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from contracts import piston as p
from contracts.api import ExecutionRequest, ExecutionResult
from contracts.messages import (
    CompletionEvent,
    Control,
    OutputEvent,
    StatusEvent,
    event_decoder,
)
from contracts.runtimes import Runtime
from edge.api import Api, ApiProblem, read_body
from edge.auth import AuthError, Principal
from edge.execution_events import Watch
from edge.nats_connection import SubmitError
from edge.piston_rules import Refused, Run, coerce, names, run_of, shown, split_stages, stages
from edge.runner_versions import RunnerVersions

INIT_TIMEOUT_S = 1.0
SPLIT_WAIT_S = 2.0
"""How long an execute waits for the completion on its event watch once the result is stored
(the watch then knows the compile step's share of the output)."""


class PistonError(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def caller_header(headers: Any) -> str | None:
    """``Authorization: Bearer <key>``, or the bare key as Piston clients send it."""
    header: str | None = headers.get("authorization")
    if header and " " not in header.strip():
        return f"Bearer {header.strip()}"
    return header


class Piston:
    def __init__(self, api: Api, versions: RunnerVersions) -> None:
        self.api = api
        self.bus = api.bus
        self.versions = versions

    def routes(self) -> list[Route | WebSocketRoute]:
        """Paths under ``/api`` (the app mounts them there)."""
        return [
            Route("/v2/runtimes", self.runtimes, methods=["GET"]),
            Route("/v2/execute", self.execute, methods=["POST"]),
            WebSocketRoute("/v2/connect", self.connect),
        ]

    async def caller(self, headers: Any) -> Principal:
        try:
            principal = self.api.keys.authenticate(caller_header(headers))
        except AuthError as exc:
            raise PistonError(exc.status, str(exc)) from None
        try:
            await self.api.charge(principal, 1)
        except ApiProblem as exc:
            raise PistonError(exc.status, exc.message, exc.retry_after) from None
        return principal

    async def served(self, every: bool = False) -> list[tuple[Runtime, str]]:
        """Our runtimes that a live runner serves, with the version it reports; with
        ``every``, also the others as version 0.0.0 (a job for them waits in the queue for a
        runner, as an API execution does: only ``*`` selects them)."""
        versions = await self.versions.get()
        return [(r, versions.get(r.name, "0.0.0")) for r in self.api.catalog.runtimes
                if every or r.name in versions]

    async def runtimes(self, request: Request) -> Response:
        entries = []
        for runtime, version in await self.served():
            semver = coerce(version)
            entries.append(p.RuntimeEntry(runtime.name, shown(semver) if semver else version,
                                          names(runtime)[1:]))
        return JSONResponse(msgspec.to_builtins(entries))

    async def execute(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            return JSONResponse({"message": "requests must be of type application/json"}, 415)
        try:
            principal = await self.caller(request.headers)
            body = p.execute_request_decoder.decode(await read_body(request))
            run = run_of(body, await self.served(every=True))
            result, split = await self.run_and_wait(principal, run)
        except (Refused, msgspec.DecodeError) as exc:
            return JSONResponse({"message": str(exc)}, 400)
        except PistonError as exc:
            return problem(exc)
        except ApiProblem as exc:
            return problem(PistonError(exc.status, exc.message, exc.retry_after))
        except SubmitError as exc:
            return problem(PistonError(503, str(exc), 1))
        if result.status != "completed":
            return JSONResponse({"message": "the execution did not finish within "
                                 f"{self.api.settings.wait_max_s} s"}, 500)
        return JSONResponse(msgspec.to_builtins(answer(run, result, split)))

    async def run_and_wait(self, principal: Principal, run: Run
                           ) -> tuple[ExecutionResult, StepSplit | None]:
        """Queue the run and wait for its result; for a compiled language, also where its
        output turned from the compile step's to the program's (None if that is unknown)."""
        execution_id = uuid.uuid4().hex
        split = StepSplit() if run.runtime.compile is not None else None
        watch = await self.bus.events.watch(execution_id, split.on_event) if split else None
        try:
            await self.submit(principal, run, execution_id)
            record = await self.bus.records.get(execution_id)
            if record is None:
                raise PistonError(500, "the execution was accepted but cannot be read yet")
            result = await self.api.wait_for(record, float(self.api.settings.wait_max_s))
            if split is not None and result.status == "completed":
                with contextlib.suppress(TimeoutError):  # its events come on their own
                    await asyncio.wait_for(split.ended.wait(), SPLIT_WAIT_S)
        finally:
            if watch is not None:
                await watch.close()
        return result, split if split is not None and split.ended.is_set() else None

    async def submit(self, principal: Principal, run: Run, execution_id: str | None = None,
                     interactive: bool = False) -> str:
        """Queue the run as an API execution (``Api.accept``); its execution id."""
        payload = {
            "language": run.runtime.name,
            "files": msgspec.to_builtins(run.files),
            "mainFile": run.files[0].name,
            "stdin": run.stdin,
            "args": run.args,
            "limits": msgspec.to_builtins(run.limits),
        }
        try:
            spec = msgspec.convert(payload, ExecutionRequest)
        except msgspec.ValidationError as exc:
            raise Refused(str(exc)) from None
        execution_id = execution_id or uuid.uuid4().hex
        try:
            await self.api.accept(principal, spec, execution_id, interactive=interactive)
        except ApiProblem as exc:
            if exc.status == 400:
                raise Refused(exc.message) from None
            raise
        return execution_id

    async def connect(self, ws: WebSocket) -> None:
        await ws.accept()
        await Session(self, ws).serve()


class StepSplit:
    """Follows a compiled run's events: how much stdout and stderr (characters) the compile
    step wrote before the run step started (``at``; None: it never started)."""

    def __init__(self) -> None:
        self.out = self.err = 0
        self.at: tuple[int, int] | None = None
        self.ended = asyncio.Event()

    async def on_event(self, data: bytes, last: bool) -> None:
        try:
            event = event_decoder.decode(data)
        except msgspec.DecodeError:
            return
        match event:
            case OutputEvent(stream="stdout", data=text):
                self.out += len(text)
            case OutputEvent(data=text):
                self.err += len(text)
            case StatusEvent(status="running", phase="run"):
                self.at = (self.out, self.err)
            case CompletionEvent():
                self.ended.set()


def answer(run: Run, result: ExecutionResult, split: StepSplit | None = None
           ) -> p.ExecuteResult:
    compiled: p.Stage | None
    if split is not None:
        compiled, ran = split_stages(result, split.at)
    else:
        compiled, ran = stages(result, run.runtime.compile is not None)
    return p.ExecuteResult(run.runtime.name, run.version, ran, compiled)


def problem(exc: PistonError) -> Response:
    headers = {"Retry-After": str(max(1, round(exc.retry_after)))} \
        if exc.retry_after is not None else {}
    return JSONResponse({"message": exc.message}, exc.status, headers)


class Closed(Exception):
    """The socket is to be closed with ``code`` and ``reason`` (Piston's 4000 to 4005)."""

    def __init__(self, code: int, reason: str, message: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.message = message


class Session:
    """One ``/api/v2/connect`` socket: one run, its stdin and signals, its events."""

    def __init__(self, piston: Piston, ws: WebSocket) -> None:
        self.piston = piston
        self.ws = ws
        self.execution_id: str | None = None
        self.stage: p.StageName = "run"
        """The stage running: ``compile`` from a compiled program's start until its run."""
        self.done = asyncio.Event()
        self.running = asyncio.Event()
        self.introduced = asyncio.Event()
        """Set once the ``runtime`` frame is sent: Piston's first frame, before any stage."""
        self.watch: Watch | None = None

    async def serve(self) -> None:
        try:
            await self.frames()
        except Closed as exc:
            if exc.message is not None:
                with contextlib.suppress(Exception):
                    await self.send({"type": "error", "message": exc.message})
            await self.close(exc.code, exc.reason)
            await self.stop()
        except WebSocketDisconnect:
            await self.stop()
        finally:
            if self.watch is not None:
                await self.watch.close()

    async def frames(self) -> None:
        try:
            raw = await asyncio.wait_for(self.text(), INIT_TIMEOUT_S)
        except TimeoutError:
            raise Closed(4001, "Initialization Timeout") from None
        await self.handle(raw)
        receiving = asyncio.ensure_future(self.text())
        finished = asyncio.ensure_future(self.done.wait())
        try:
            while True:
                await asyncio.wait({receiving, finished}, return_when=asyncio.FIRST_COMPLETED)
                if finished.done():
                    await self.close(4999, "Job Completed")
                    return
                await self.handle(receiving.result())
                receiving = asyncio.ensure_future(self.text())
        finally:
            receiving.cancel()
            finished.cancel()

    async def text(self) -> str | None:
        """The next frame's text; None for a binary frame."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text: str | None = message.get("text")
        return text

    async def handle(self, raw: str | None) -> None:
        if not isinstance(raw, str):
            raise Closed(4002, "Notified Error", "frames must be JSON text")
        try:
            frame = p.frame_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise Closed(4002, "Notified Error", str(exc)) from None
        match frame.type:
            case "init":
                await self.init(raw)
            case "data" if self.execution_id is None:
                raise Closed(4003, "Not yet initialized")
            case "data" if frame.stream != "stdin":
                raise Closed(4004, "Can only write to stdin")
            case "data":
                await self.control("stdin", str(frame.data or ""))
            case "signal" if self.execution_id is None:
                raise Closed(4003, "Not yet initialized")
            case "signal" if frame.signal not in p.SIGNALS:
                raise Closed(4005, "Invalid signal")
            case "signal":
                await self.control("stop")
            case _:
                pass  # Piston ignores other frames

    async def init(self, raw: str) -> None:
        if self.execution_id is not None:
            raise Closed(4000, "Already Initialized")
        try:
            principal = await self.piston.caller(self.ws.headers)
            run = run_of(p.execute_request_decoder.decode(raw),
                         await self.piston.served(every=True))
            self.execution_id = await self.submit(principal, run)
        except (Refused, PistonError, ApiProblem, SubmitError, msgspec.DecodeError) as exc:
            raise Closed(4002, "Notified Error", getattr(exc, "message", str(exc))) from None
        await self.send({"type": "runtime", "language": run.runtime.name,
                         "version": run.version})
        self.introduced.set()

    async def submit(self, principal: Principal, run: Run) -> str:
        """Listen to the execution's events, then queue it (none is missed)."""
        execution_id = uuid.uuid4().hex
        self.watch = await self.piston.bus.events.watch(execution_id, self.on_event)
        try:
            return await self.piston.submit(principal, run, execution_id, interactive=True)
        except BaseException:
            await self.watch.close()
            self.watch = None
            raise

    async def on_event(self, data: bytes, last: bool) -> None:
        try:
            event = event_decoder.decode(data)
        except msgspec.DecodeError:
            return
        await self.introduced.wait()  # events can come before submit returns
        with contextlib.suppress(Exception):  # the client went away: its run is stopped
            await self.relay(event)

    async def relay(self, event: object) -> None:
        match event:
            case StatusEvent(status="running", phase="compile"):
                self.stage = "compile"
                await self.send({"type": "stage", "stage": "compile"})
            case StatusEvent(status="running", phase="run") if (
                    self.stage == "compile" or not self.running.is_set()):
                if self.stage == "compile":  # (a compile event missed: the run starts anyway)
                    # Piston's compile stage ends with its own exit before the run's stage.
                    await self.send({"type": "exit", "stage": "compile", "code": 0,
                                     "signal": None})
                await self.start_run()
            case StatusEvent(status="running", phase=None):
                await self.start_run()
            case OutputEvent(stream=stream, data=data):
                await self.send({"type": "data", "stream": stream, "data": data})
            case CompletionEvent() as completion:
                signal = completion.signal or ("SIGKILL" if completion.verdict in (
                    "time_limit", "output_limit", "memory_limit") else None)
                await self.send({"type": "exit", "stage": self.stage,
                                 "code": None if signal else completion.exit_code,
                                 "signal": signal})
                self.done.set()
                self.running.set()

    async def start_run(self) -> None:
        self.stage = "run"
        self.running.set()
        await self.send({"type": "stage", "stage": "run"})

    async def control(self, action: str, data: str = "") -> None:
        """Input or stop for the run; input waits until it runs (a runner listens from then
        on), a stop goes at once (the dispatcher cancels a queued job)."""
        assert self.execution_id is not None
        if action == "stdin":
            await self.running.wait()
            if self.done.is_set():
                return
        reply = await self.piston.bus.commands.deliver_control(
            Control(self.execution_id, action, data))  # type: ignore[arg-type]
        if not reply.accepted and action == "stdin":
            await self.send({"type": "error", "message": reply.message})

    async def stop(self) -> None:
        if self.execution_id is not None and not self.done.is_set():
            with contextlib.suppress(Exception):
                await self.piston.bus.commands.control(Control(self.execution_id, "stop"))

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_text(msgspec.json.encode(frame).decode())

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, reason=reason)
