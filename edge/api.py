"""The HTTP API (docs/api.md): executions, batches, idempotency, cancel, runtimes and stats."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.api import (
    Accepted,
    ApiError,
    BatchAccepted,
    BatchItem,
    ErrorBody,
    ExecutionRequest,
    ExecutionResult,
    RuntimeInfo,
    batch_request_decoder,
    execution_request_decoder,
    to_json,
)
from contracts.messages import (
    CompletionEvent,
    Control,
    ExecutionRecord,
    Job,
    WebhookState,
)
from contracts.runtimes import Catalog, build_command
from contracts.settings import EdgeSettings
from edge.api_errors import decode_problem, house_style
from edge.auth import AuthError, Forbidden, KeyRing, Principal
from edge.bus import EdgeBus
from edge.execution_events import Watch
from edge.execution_list import QueryProblem, list_query, page_of
from edge.intake import FromApi, NotRunnable, program_job
from edge.json_limits import structure_problem
from edge.limits import ApiKeyLimits
from edge.nats_connection import QueueFull, SubmitError
from edge.request_warnings import request_warnings
from edge.runner_versions import RunnerVersions
from edge.stats import admin_metrics
from edge.webhooks import Policy
from edge.workspace_intake import with_workspace_files
from edge.workspaces import WorkspaceError, Workspaces
from edge.ws import is_running_event

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_IDEMPOTENCY_KEY = 255
CANCEL_WAIT_S = 5.0
STOP_FOLLOW_S = 900.0
"""How long a stop whose run has not ended within ``CANCEL_WAIT_S`` goes on (``Api.stop``):
longer than the longest wall limit, so that a run that starts late is still stopped."""
EXECUTION_ID = re.compile(r"[0-9a-f]{32}")


class ApiProblem(Exception):
    """An error answer: ``{"error": {"code": …, "message": …}}`` with ``status``; the message
    in the API's one style (``house_style``)."""

    def __init__(self, status: int, code: str, message: str,
                 retry_after: float | None = None) -> None:
        message = house_style(message)
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    return Response(to_json(value), status, headers, media_type="application/json")


def problem_response(problem: ApiProblem) -> Response:
    headers = {}
    if problem.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(problem.retry_after)))
    return json_response(ErrorBody(ApiError(problem.code, problem.message)), problem.status,
                         headers)


def result_of(record: ExecutionRecord, completion: CompletionEvent | None, running: bool,
              output: Any, webhook: WebhookState | None) -> ExecutionResult:
    base = ExecutionResult(
        id=record.execution_id, status="queued", language=record.language,
        submitted_at=record.submitted_at, request_id=record.request_id, webhook=webhook,
        notebook_id=record.notebook_id, cell_id=record.cell_id, warnings=record.warnings,
    )
    if completion is None:
        return msgspec.structs.replace(base, status="running") if running else base
    return msgspec.structs.replace(
        base, status="completed", verdict=completion.verdict, exit_code=completion.exit_code,
        signal=completion.signal, wall_ms=completion.wall_ms, cpu_ms=completion.cpu_ms,
        memory_kb=completion.memory_kb,
        truncated=completion.truncated or bool(output and output.truncated),
        queued_ms=completion.queued_ms, message=completion.message,
        stdout=output.stdout if output else "", stderr=output.stderr if output else "",
        tables=output.tables if output else [],
        execution_count=completion.execution_count, isolation=completion.isolation,
        outputs=output.outputs if output and record.notebook_id else None,
        limits=completion.limits,
    )


def runtime_infos(catalog: Catalog, versions: dict[str, str]) -> list[RuntimeInfo]:
    """The catalog's languages: those a live runner serves (``versions``), with their image's
    version, first; then those no runner serves (not built): ``built: false``, no version."""
    listed = sorted(catalog.runtimes, key=lambda r: r.name not in versions)
    return [RuntimeInfo(r.name, r.display_name, versions.get(r.name, ""), r.aliases, r.extension,
                        r.compile is not None, r.template, built=r.name in versions,
                        build_command="" if r.name in versions else build_command(r.name))
            for r in listed]


class Api:
    def __init__(self, settings: EdgeSettings, catalog: Catalog, bus: EdgeBus,
                 keys: KeyRing) -> None:
        self.settings = settings
        self.catalog = catalog
        self.bus = bus
        self.keys = keys
        self.limits = ApiKeyLimits(bus.limits, bus.events.completion, bus.records.get,
                             settings.rate_per_minute, settings.key_max_concurrent)
        self.policy = Policy(settings.callback_allow_private, settings.callback_allow_link_local)
        self.workspaces = Workspaces(bus.workspaces)
        self.versions = RunnerVersions(bus)
        """The live runners' language versions, read at most every few seconds."""
        self._stops: set[asyncio.Task[None]] = set()
        """Stops still watching for their run's start or end (``stop``)."""

    def routes(self) -> list[Route]:
        """Paths under ``/api`` (the app mounts them there)."""
        return [
            Route("/v1/executions", self.executions, methods=["GET", "POST"]),
            Route("/v1/executions/batch", self.batch, methods=["POST"]),
            Route("/v1/executions/{id}", self.one, methods=["GET", "DELETE"]),
            Route("/v1/runtimes", self.runtimes, methods=["GET"]),
            Route("/queue-stats", self.queue_stats, methods=["GET"]),
            Route("/admin/metrics", self.admin, methods=["GET"]),
        ]

    # --- callers --------------------------------------------------------------------------------

    async def caller(self, request: Request, admin: bool = False) -> Principal:
        """The authenticated caller, charged one request; raises ApiProblem."""
        principal = self.authenticate(request, admin)
        await self.charge(principal, 1)
        return principal

    def authenticate(self, request: Request, admin: bool = False) -> Principal:
        try:
            principal = self.keys.authenticate(request.headers.get("authorization"))
            if admin and not principal.admin:
                raise Forbidden(Forbidden.__doc__)
        except AuthError as exc:
            raise ApiProblem(exc.status, exc.code, str(exc)) from None
        return principal

    async def charge(self, principal: Principal, cost: int) -> None:
        """Spend the caller's rate limit, shared by every edge (NotReady, a 503, when its store
        does not answer: refusing beats serving without limits)."""
        if self.keys.open or cost <= 0:
            return
        wait_s = await self.limits.take(principal.name, cost)
        if wait_s:
            raise ApiProblem(429, "rate_limited", f"more than {self.settings.rate_per_minute} "
                             "requests a minute with this key", retry_after=wait_s)

    async def owned(self, principal: Principal, execution_id: str) -> ExecutionRecord:
        valid = EXECUTION_ID.fullmatch(execution_id) is not None
        record = await self.bus.records.get(execution_id) if valid else None
        if record is None or record.owner != principal.owner:
            raise ApiProblem(404, "not_found", f"no execution {execution_id!r} for this caller")
        return record

    # --- executions -----------------------------------------------------------------------------

    async def executions(self, request: Request) -> Response:
        """One route for both methods, so that a 405 lists them both in Allow."""
        return await (self.create(request) if request.method == "POST" else self.listing(request))

    async def listing(self, request: Request) -> Response:
        """A page of the caller's executions, newest first (``execution_list``)."""
        principal = await self.caller(request)
        try:
            query = list_query(request.query_params, self.catalog)
        except QueryProblem as exc:
            raise ApiProblem(400, exc.code, exc.message) from None
        records = await self.bus.records.owned(principal.owner)
        return json_response(await page_of(records, query, self.summary))

    async def summary(self, record: ExecutionRecord) -> ExecutionResult:
        return await self.result(record, with_output=False)

    async def create(self, request: Request) -> Response:
        principal = await self.caller(request)
        body = await read_body(request)
        spec = decode(execution_request_decoder, await self.with_workspace(principal, body))
        key = request.headers.get("idempotency-key")
        if key is None:
            accepted = await self.accept(principal, spec, uuid.uuid4().hex)
            return await self.answer(request, accepted.id, warnings=accepted.warnings)
        return await self.create_once(request, principal, spec, key, body)

    async def with_workspace(self, principal: Principal, body: bytes) -> bytes:
        """The body with the files of the workspace it names, if any (docs/workspaces.md)."""
        try:
            return await with_workspace_files(body, principal.owner, self.workspaces)
        except WorkspaceError as exc:
            raise ApiProblem(exc.status, exc.code, str(exc)) from None

    async def create_once(self, request: Request, principal: Principal, spec: ExecutionRequest,
                          key: str, body: bytes) -> Response:
        """The same key and body within a day answer with the first execution."""
        if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
            raise ApiProblem(400, "invalid_request",
                             f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        digest = hashlib.sha256(f"{principal.owner}\0{key}".encode()).hexdigest()
        body_hash = hashlib.sha256(body).hexdigest()
        execution_id = uuid.uuid4().hex
        taken = await self.bus.idempotency.claim(
            digest, to_json({"id": execution_id, "body": body_hash}))
        if taken is not None:
            first = msgspec.json.decode(taken)
            if first.get("body") != body_hash:
                raise ApiProblem(422, "idempotency_key_reused",
                                 "this Idempotency-Key was used with a different body")
            return await self.answer(request, str(first.get("id")), replayed=True)
        try:
            accepted = await self.accept(principal, spec, execution_id)
        except (ApiProblem, SubmitError):
            await self.bus.idempotency.release(digest)
            raise
        return await self.answer(request, execution_id, warnings=accepted.warnings)

    async def accept(self, principal: Principal, spec: ExecutionRequest,
                     execution_id: str, interactive: bool = False,
                     compile_options: tuple[str, ...] = ()) -> Accepted:
        """Queue ``spec`` (``interactive``: stdin stays open for live input, as Piston's
        WebSocket sends it; ``compile_options``: allow-listed words, Judge0's); raises
        ApiProblem."""
        try:
            job = program_job(FromApi(spec, principal.owner, principal.isolation, interactive,
                                      compile_options), self.catalog, execution_id)
        except NotRunnable as refused:
            raise ApiProblem(400, refused.code, refused.message) from None
        if why := await self.versions.not_built(job.language):
            raise ApiProblem(400, "not_built", why)
        if spec.callback_url and (problem := self.policy.url_problem(spec.callback_url)):
            raise ApiProblem(400, "invalid_callback_url", problem)
        warnings = request_warnings(self.catalog, spec.language, spec.main_file)
        record = ExecutionRecord(execution_id, principal.owner, job.language, job.submitted_at,
                                 spec.request_id, spec.callback_url, warnings=warnings)
        await self.submit(principal, record, job)
        return Accepted(execution_id, warnings=warnings)

    async def submit(self, principal: Principal, record: ExecutionRecord, job: Job) -> None:
        """Count the job against the caller's quota (shared by every edge), store its record
        and queue it; raises ApiProblem, leaving nothing counted or stored."""
        execution_id = job.execution_id
        try:
            admitted = self.keys.open or await self.limits.admit(principal.name, execution_id)
        except SubmitError as exc:
            raise ApiProblem(503, exc.code, str(exc), retry_after=1) from None
        if not admitted:
            raise ApiProblem(429, "quota_exceeded", f"this key has {self.limits.max_unfinished} "
                             "executions unfinished; wait for one to complete", retry_after=1)
        try:
            await self.bus.records.put(record)
            await self.bus.jobs.submit(job)
        except Exception as exc:
            # Best effort: a place left counted is freed when the key runs out of room.
            with contextlib.suppress(Exception):
                await self.bus.records.delete(record)
            with contextlib.suppress(Exception):
                await self.limits.release(execution_id)
            if isinstance(exc, QueueFull):
                raise ApiProblem(429, exc.code, str(exc), retry_after=1) from None
            if isinstance(exc, SubmitError):
                raise ApiProblem(503, exc.code, str(exc), retry_after=1) from None
            raise

    async def answer(self, request: Request, execution_id: str, replayed: bool = False,
                     warnings: list[str] | None = None) -> Response:
        """202 with the id, or with ``?wait=true`` 200 and the result once it completes (202
        with the status if it takes longer than the wait)."""
        headers = {"Location": f"/api/v1/executions/{execution_id}"}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        wait_s = self.wait_of(request)
        if wait_s is None and not replayed:
            return json_response(Accepted(execution_id, warnings=warnings or []), 202, headers)
        record = await self.bus.records.get(execution_id)
        if record is None:
            raise ApiProblem(409, "in_progress", "the first request with this Idempotency-Key "
                             "is still being accepted; retry", retry_after=1)
        if wait_s is None:
            status = (await self.result(record, with_output=False)).status
            return json_response(Accepted(execution_id, status, record.warnings), 202, headers)
        result = await self.wait_for(record, wait_s)
        return json_response(result, 200 if result.status == "completed" else 202, headers)

    def wait_of(self, request: Request) -> float | None:
        if request.query_params.get("wait", "false").lower() not in ("1", "true", "yes"):
            return None
        raw = request.query_params.get("timeout")
        try:
            asked = float(raw) if raw else float(self.settings.wait_max_s)
        except ValueError:
            asked = math.nan
        if not math.isfinite(asked):
            raise ApiProblem(400, "invalid_request", "timeout must be a number of seconds")
        return min(max(asked, 0.0), float(self.settings.wait_max_s))

    async def wait_for(self, record: ExecutionRecord, wait_s: float) -> ExecutionResult:
        completion = await self.bus.events.completion_within(record.execution_id, wait_s)
        return await self.result(record, completion)

    async def result(self, record: ExecutionRecord, completion: CompletionEvent | None = None,
                     with_output: bool = True) -> ExecutionResult:
        """``with_output=False``: a summary (``stdout`` and the rest of the output null)."""
        execution_id = record.execution_id
        completion = completion or await self.bus.events.completion(execution_id)
        running = completion is None and await self.bus.records.is_running(execution_id)
        output = (await self.bus.records.output(execution_id)
                  if completion and with_output else None)
        webhook = None
        if record.callback_url:  # no attempt yet: pending
            webhook = await self.bus.records.webhook_state(execution_id) or WebhookState("pending")
        result = result_of(record, completion, running, output, webhook)
        if with_output:
            return result
        return msgspec.structs.replace(result, stdout=None, stderr=None, tables=None,
                                       outputs=None)

    async def batch(self, request: Request) -> Response:
        principal = self.authenticate(request)
        spec = decode(batch_request_decoder, await read_body(request))
        await self.charge(principal, len(spec.executions))
        items = []
        for entry in spec.executions:
            try:
                accepted = await self.accept(principal, entry, uuid.uuid4().hex)
                items.append(BatchItem(id=accepted.id, status="queued",
                                       warnings=accepted.warnings))
            except ApiProblem as exc:
                items.append(BatchItem(error=ApiError(exc.code, exc.message)))
        return json_response(BatchAccepted(items), 202)

    async def one(self, request: Request) -> Response:
        """One route for both methods, so that a 405 lists them both in Allow."""
        return await (self.cancel(request) if request.method == "DELETE" else self.get(request))

    async def get(self, request: Request) -> Response:
        principal = await self.caller(request)
        record = await self.owned(principal, request.path_params["id"])
        wait_s = self.wait_of(request)
        result = await (self.wait_for(record, wait_s) if wait_s else self.result(record))
        return json_response(result)

    async def cancel(self, request: Request) -> Response:
        """Stop a queued or running execution; 200 with its result once it ended (within a few
        seconds), else 202. 409 when it had completed already."""
        principal = await self.caller(request)
        record = await self.owned(principal, request.path_params["id"])
        if await self.bus.events.completion(record.execution_id) is not None:
            raise ApiProblem(409, "already_completed", "the execution has completed already")
        await self.stop(record.execution_id)
        result = await self.result(record)
        return json_response(result, 200 if result.status == "completed" else 202)

    async def stop(self, execution_id: str) -> None:
        """Send stop now (the dispatcher cancels a queued job) and again when the runner says
        it runs (it listens only from then on); wait up to ``CANCEL_WAIT_S`` for the
        completion. A job handed to a runner that has not started it by then (a slow sandbox
        start, a full runner) is still stopped as it starts: the watch goes on in the
        background until the completion, ``STOP_FOLLOW_S`` at most."""
        done = asyncio.Event()
        stop = Control(execution_id, "stop")

        async def on_event(data: bytes, last: bool) -> None:
            if last:
                done.set()
            elif is_running_event(data):
                await self.bus.commands.control(stop)

        watch = await self.bus.events.watch(execution_id, on_event)
        following = False
        try:
            await self.bus.commands.control(stop)
            if await self.bus.records.is_running(execution_id):
                await self.bus.commands.control(stop)
            await asyncio.wait_for(done.wait(), CANCEL_WAIT_S)
        except TimeoutError:
            following = True
            self._follow_stop(watch, done)
        finally:
            if not following:
                await watch.close()

    def _follow_stop(self, watch: Watch, done: asyncio.Event) -> None:
        async def follow() -> None:
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), STOP_FOLLOW_S)
            finally:
                with contextlib.suppress(Exception):  # NATS gone: nothing is left to stop
                    await watch.close()

        task = asyncio.create_task(follow(), name="stop-follow")
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    # --- catalog and stats ----------------------------------------------------------------------

    async def runtimes(self, request: Request) -> Response:
        """The catalog's languages, built or not (``runtime_infos``)."""
        return json_response(runtime_infos(self.catalog, await self.versions.get()))

    async def queue_stats(self, request: Request) -> Response:
        await self.caller(request)
        view = await self.bus.jobs.stats()
        if view is None:
            raise ApiProblem(503, "not_ready", "no dispatcher answered", retry_after=1)
        return json_response(view)

    async def admin(self, request: Request) -> Response:
        await self.caller(request, admin=True)
        queue = await self.bus.jobs.stats()
        return json_response(admin_metrics(await self.bus.runners.alive(), queue))


async def read_raw(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """A body of bytes (a file, a zip), refused past ``limit`` without reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiProblem(413, "too_large", f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiProblem(413, "too_large", f"the body is larger than {limit} bytes")
    return bytes(body)


async def read_body(request: Request) -> bytes:
    body = await read_raw(request)
    # Every route's body, whichever decoder reads it next: msgspec recurses into nesting.
    if problem := structure_problem(body):
        raise ApiProblem(400, "invalid_request", f"the body is not accepted: {problem}")
    return body


def decode(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    """``body`` as ``decoder``'s type (``read_body`` checked its nesting); raises ApiProblem."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ApiProblem(400, "invalid_request", decode_problem(body, exc)) from None
