"""The HTTP API's session control (docs/workspaces.md#session-control): an API key's session is
what the platform keeps for it (its kept sandboxes, one per language); with keys configured,
its unfinished executions are those its quota counts."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.session_control import SessionExecution, SessionState
from edge.api import Api, json_response
from edge.auth import Principal
from edge.session_control import SessionControl


class SessionControlApi:
    def __init__(self, api: Api, sessions: SessionControl) -> None:
        self.api = api
        self.sessions = sessions

    def routes(self) -> list[Route]:
        """Paths under ``/api``."""
        return [
            Route("/v1/session", self.show, methods=["GET"]),
            Route("/v1/session/stop", self.stop, methods=["POST"]),
            Route("/v1/session/reset", self.reset, methods=["POST"]),
        ]

    async def unfinished(self, principal: Principal) -> list[str]:
        """The key's executions its quota counts that have not completed (none without keys:
        nothing is counted then)."""
        if self.api.keys.open:
            return []
        return await self.api.limits.unfinished(principal.name)

    async def show(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        ids = await self.unfinished(principal)
        states = await asyncio.gather(*(self.api.bus.records.is_running(i) for i in ids))
        running = [SessionExecution(i, "running" if is_running else "queued")
                   for i, is_running in zip(ids, states, strict=True)]
        return json_response(SessionState(
            running, resources=await self.sessions.resources(principal.owner)))

    async def stop(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        stopped = await self.sessions.stop_all(await self.unfinished(principal))
        return json_response(SessionState(stopped=stopped))

    async def reset(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        stopped = await self.sessions.stop_all(await self.unfinished(principal))
        resources = await self.sessions.reset(principal.owner)
        return json_response(SessionState(stopped=stopped, resources=resources))
