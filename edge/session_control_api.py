"""The HTTP API's session control (docs/workspaces.md#session-control): an API key's session is
what the platform keeps for it (its kept sandboxes, one per language); with keys configured,
its unfinished executions are those its quota counts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.session_control import SessionExecution, SessionState
from contracts.subjects import quota_key
from edge.api import Api, json_response
from edge.auth import Principal, Unfinished
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
        limits = self.api.limits
        counted = await limits.store.read_limit(quota_key(principal.name), Unfinished)
        gone = await limits.gone(principal.name)
        return sorted(set(counted.since if counted else ()) - gone)

    async def show(self, request: Request) -> Response:
        principal = await self.api.caller(request)
        running = [SessionExecution(i, "running" if await self.api.bus.records.is_running(i)
                                    else "queued") for i in await self.unfinished(principal)]
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
