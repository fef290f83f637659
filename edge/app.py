"""The edge's Starlette application: the browser socket, the HTTP API, metrics and the page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from contracts.api import ApiError, ErrorBody, ExecutionResult, to_json
from contracts.messages import CompletionEvent
from contracts.runtimes import Catalog
from contracts.settings import EdgeSettings
from edge.api import Api, ApiProblem, json_response, problem_response
from edge.api_errors import house_style
from edge.auth import KeyRing
from edge.bus import EdgeBus
from edge.cross_origin import (
    CrossOriginGuard,
    api_refusal,
    cors_options,
    host_allowed,
    origin_allowed,
)
from edge.fair_share import OpenRuns
from edge.judge0 import Judge0
from edge.judge0_http import judge0_route
from edge.judgements import Judgements
from edge.metrics import Metrics, Placement
from edge.nats_connection import SubmitError
from edge.notebook_api import NotebookApi
from edge.openapi import openapi_document
from edge.piston import Piston
from edge.problems import Problems
from edge.session_control import SessionControl
from edge.session_control_api import SessionControlApi
from edge.sessions import SessionTokens
from edge.stats import admin_metrics
from edge.webhooks import Attempt, Callback, WebhookDeliverer
from edge.workspace_api import WorkspaceApi
from edge.workspace_intake import OwnedWorkspaces
from edge.workspace_share import ShareLinks
from edge.workspace_sweep import ContentSweep
from edge.ws import Connection, Handovers

log = logging.getLogger(__name__)
WEBHOOK_BATCH = 16


def route_label(path: str, judge0_prefix: str = "/judge0") -> str:
    """A metric label per route, not per execution id."""
    if path.startswith("/api/v1/executions/") and path != "/api/v1/executions/batch":
        return "/api/v1/executions/{id}"
    if judge0_prefix and path.startswith(judge0_prefix + "/"):
        return judge0_prefix + judge0_route(path[len(judge0_prefix):])
    return path if path.startswith("/api") or path in ("/metrics", "/healthz") else "/static"


class Timing:
    """ASGI middleware: HTTP latency histogram by method, route and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, judge0_prefix: str = "/judge0") -> None:
        self.app = app
        self.metrics = metrics
        self.judge0_prefix = judge0_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            label = route_label(scope["path"], self.judge0_prefix)
            self.metrics.requests.labels(scope["method"], label,
                                         str(status[0])).observe(time.perf_counter() - started)


class Edge:
    """Everything one edge process holds, created in the app's lifespan."""

    def __init__(self, settings: EdgeSettings, catalog: Catalog, bus: EdgeBus) -> None:
        self.settings = settings
        self.catalog = catalog
        self.bus = bus
        self.keys = KeyRing(settings.api_keys)
        self.api = Api(settings, catalog, bus, self.keys)
        self.judge0 = Judge0(self.api, self.api.versions)
        self.piston = Piston(self.api, self.api.versions)
        self.judgements = Judgements(self.api, bus.problems)
        self.problems = Problems(self.api, bus.problems)
        self.metrics = Metrics()
        self.tokens = SessionTokens(settings.session_secret)
        self.workspaces = self.api.workspaces
        self.share_links = ShareLinks(settings.session_secret)
        self.socket_workspaces = OwnedWorkspaces(
            self.workspaces, self.keys.authenticate(None).owner if self.keys.open else None)
        """The IDE's workspaces, which its socket's frames may name (none with API keys)."""
        self.session_control = SessionControl(bus, self.api.stop)
        self._recent: deque[str] = deque(maxlen=1000)
        self.handovers = Handovers()
        self.runs = OpenRuns(settings.session_max_unfinished, settings.address_max_unfinished)
        self._releases: set[asyncio.Task[None]] = set()
        self.webhooks = WebhookDeliverer(
            settings.webhook_secret or secrets.token_hex(32), self.api.policy,
            settings.webhook_max_attempts, settings.webhook_timeout_s, self.webhook_target,
            bus.records.put_webhook_state,
        )

    async def start(self) -> asyncio.Task[None]:
        await self.bus.events.on_completions(self.completed)
        if self.settings.places_on_seats:
            await self.bus.jobs.placement.start()
        return asyncio.create_task(self.deliver_webhooks())

    def completed(self, completion: CompletionEvent) -> None:
        """Every completion published, duplicates included (core NATS sees re-publications the
        stream drops): count each execution once."""
        self.runs.done(completion.execution_id)
        self.bus.jobs.placement.completed(completion.execution_id)
        if completion.execution_id in self._recent:
            return
        self._recent.append(completion.execution_id)
        if self.api.limits.admitted_here(completion.execution_id):
            task = asyncio.create_task(self.release(completion.execution_id))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)
        self.metrics.completed(completion)

    async def release(self, execution_id: str) -> None:
        try:
            await self.api.limits.release(execution_id)
        except SubmitError as exc:  # its place is freed when the key runs out of room
            log.warning("execution %s left in its key's quota: %s", execution_id, exc)

    async def webhook_target(self, execution_id: str
                             ) -> tuple[str, ExecutionResult | Callback] | None:
        record = await self.bus.records.get(execution_id)
        if record is None or not record.callback_url:
            return None
        if (judge0_body := await self.judge0.callback_body(record)) is not None:
            return record.callback_url, Callback("PUT", judge0_body)
        if (judgement := await self.judgements.callback_body(record)) is not None:
            return record.callback_url, Callback("POST", judgement)
        return record.callback_url, await self.api.result(record)

    async def deliver_webhooks(self) -> None:
        ack_wait = float(self.settings.webhook_timeout_s + 20)
        while True:
            try:
                await self.bus.webhooks.bind(self.settings.webhook_max_attempts, ack_wait)
                break
            except Exception as exc:  # NotReady until a dispatcher made the stream
                log.debug("webhooks not bound yet: %s", exc)
                await asyncio.sleep(1)
        while True:
            try:
                batch = await self.bus.webhooks.batch(WEBHOOK_BATCH)
                for unwanted in (m for m in batch if not m.wanted):
                    await unwanted.ack()  # most completions: no callback, no lookup
                await asyncio.gather(*(
                    self.webhooks.deliver(Attempt(m.execution_id, m.number, m.ack, m.retry))
                    for m in batch if m.wanted
                ))
            except Exception as exc:  # NATS reconnecting, say: the completions wait
                log.warning("webhook delivery loop: %r; retrying", exc)
                await asyncio.sleep(0.5)


def create_app(settings: EdgeSettings, catalog: Catalog) -> Starlette:
    bus = EdgeBus(settings.nats_url, settings.nats, settings.problems_max_bytes)
    edge = Edge(settings, catalog, bus)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await edge.bus.connect()
        webhooks = await edge.start()
        try:
            yield
        finally:
            webhooks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await webhooks
            await edge.webhooks.close()
            await edge.bus.close()

    async def websocket(ws: WebSocket) -> None:
        origin, host = ws.headers.get("origin"), ws.headers.get("host", "")
        if not (origin_allowed(origin, host, settings.allowed_origins)
                and host_allowed(host, not settings.api_keys, settings.allowed_origins)):
            # A page from another site must not drive a visitor's session (CSWSH), also
            # under a name of its own re-pointed at the edge (DNS rebinding).
            await ws.close(code=1008, reason="origin not allowed")
            return
        now = time.time()
        token = ws.query_params.get("token")
        session_id = edge.tokens.verify(token, now) if token else None
        resumed = session_id is not None
        if session_id is None:
            session_id, token = edge.tokens.new(now)
        token = edge.tokens.issue(session_id, now)  # a resumed session's token is renewed
        edge.metrics.sockets.inc()
        try:
            await Connection(ws, edge.bus, catalog, session_id, token, edge.tokens, resumed,
                             edge.handovers, edge.runs,
                             ws.client.host if ws.client else "",
                             edge.session_control, edge.socket_workspaces,
                             edge.api.versions).serve()
        finally:
            edge.metrics.sockets.dec()

    async def health(request: Request) -> JSONResponse:
        """200 once jobs can be queued (a dispatcher has made the streams), else 503."""
        if await edge.bus.jobs.ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document())

    async def prometheus(request: Request) -> Response:
        await edge.api.caller(request, admin=True)
        queue = await edge.bus.jobs.stats()
        runners = await edge.bus.runners.alive()
        seats = edge.bus.jobs.placement
        placement = Placement(seats.map.may_place(time.monotonic()), seats.placed, seats.refused)
        body = edge.metrics.render(queue, admin_metrics(runners, queue), placement)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    # /api is a router of its own, so that a wrong method there is a 405 with its Allow header
    # and an unknown path a 404, never a fall-through to the static page.
    api = Mount("/api", routes=[Route("/v1/openapi.json", openapi), *edge.api.routes(),
                                    *edge.judgements.routes(), *edge.problems.routes(),
                                    *NotebookApi(edge.api).routes(), *edge.piston.routes(),
                                    *WorkspaceApi(edge.api, edge.workspaces,
                                                  edge.share_links,
                                                  ContentSweep(bus.workspaces)).routes(),
                                    *SessionControlApi(edge.api,
                                                       edge.session_control).routes()])
    routes: list[Route | WebSocketRoute | Mount] = [
        WebSocketRoute("/ws", websocket),
        Route("/healthz", health),
        Route("/metrics", prometheus),
        api,
    ]
    routes.extend(compatible_apis(settings, edge))
    if Path(settings.web_dir).is_dir():
        routes.append(Mount("/", StaticFiles(directory=settings.web_dir, html=True)))
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        ApiProblem: api_problem, SubmitError: submit_problem, HTTPException: http_problem,
        Exception: server_problem,
    })
    app.add_middleware(CrossOriginGuard, allowed=settings.allowed_origins,
                       local=not settings.api_keys, body=refusal_body(settings.judge0_prefix))
    app.add_middleware(CORSMiddleware, **cors_options(settings.allowed_origins))
    app.add_middleware(Timing, metrics=edge.metrics, judge0_prefix=settings.judge0_prefix)
    return app


def refusal_body(judge0_prefix: str) -> Callable[[str, str, str], bytes]:
    """The guard's refusals in the shape of the API asked: Piston's ``{"message"}``, Judge0's
    ``{"error"}``, else ours."""
    def body(path: str, code: str, message: str) -> bytes:
        if path.startswith("/api/v2/"):
            return to_json({"message": message})
        if judge0_prefix and path.startswith(judge0_prefix + "/"):
            return to_json({"error": message})
        return api_refusal(path, code, message)
    return body


def compatible_apis(settings: EdgeSettings, edge: Edge) -> list[Mount]:
    """Judge0 CE at its prefix (docs/compat.md), unless the prefix is empty."""
    return [Mount(settings.judge0_prefix, routes=edge.judge0.routes())] \
        if settings.judge0_prefix else []


async def api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc)


async def submit_problem(request: Request, exc: Exception) -> Response:
    """The queue's stores are not there yet (no dispatcher has started) or NATS failed."""
    assert isinstance(exc, SubmitError)
    return problem_response(ApiProblem(503, exc.code, str(exc), retry_after=1))


async def http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = {404: f"there is nothing at {request.url.path}",
               405: f"{request.method} is not allowed here; the Allow header lists what is"
               }.get(exc.status_code, str(exc.detail))
    return json_response(ErrorBody(ApiError(code, house_style(message))), exc.status_code,
                         dict(exc.headers or {}))


async def server_problem(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response(ErrorBody(ApiError("internal_error", "the server failed; see its log")),
                         500)
