"""The edge's Starlette application: the browser socket, the HTTP API and the web page."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from contracts.runtimes import Catalog
from contracts.settings import EdgeSettings
from edge.bus import EdgeBus
from edge.ws import Connection


def origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin on a WebSocket handshake: allow the edge's own pages and the
    configured origins. Clients that are not browsers send none and are allowed."""
    if origin is None:
        return True
    origin = origin.rstrip("/")
    return origin in allowed or origin.split("://", 1)[-1] == host


def create_app(settings: EdgeSettings, catalog: Catalog, bus: EdgeBus | None = None) -> Starlette:
    """The app; connects its own bus at start-up unless one is given."""
    state: dict[str, EdgeBus] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["bus"] = bus or await EdgeBus.connect(settings.nats_url)
        try:
            yield
        finally:
            if bus is None:
                await state["bus"].close()

    async def websocket(ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if not origin_allowed(origin, ws.headers.get("host", ""), settings.allowed_origins):
            # A page from another site must not drive a visitor's session (CSWSH).
            await ws.close(code=1008, reason="origin not allowed")
            return
        await Connection(ws, state["bus"], catalog).serve()

    async def runtimes(request: Request) -> JSONResponse:
        """The catalog's languages that a live runner serves, with their image's version."""
        versions: dict[str, str] = {}
        for runner in await state["bus"].runners():
            versions.update(runner.versions)
        return JSONResponse([
            {
                "name": r.name,
                "displayName": r.display_name,
                "version": versions[r.name],
                "aliases": r.aliases,
                "extension": r.extension,
                "compiled": r.compile is not None,
                "template": r.template,
            }
            for r in catalog.runtimes
            if r.name in versions
        ])

    async def health(request: Request) -> JSONResponse:
        """200 once jobs can be queued (a dispatcher has made the streams), else 503."""
        if await state["bus"].queue_ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    routes: list[Route | WebSocketRoute | Mount] = [
        WebSocketRoute("/ws", websocket),
        Route("/api/v1/runtimes", runtimes),
        Route("/healthz", health),
    ]
    if Path(settings.web_dir).is_dir():
        routes.append(Mount("/", StaticFiles(directory=settings.web_dir, html=True)))
    return Starlette(routes=routes, lifespan=lifespan)
