"""Session control (docs/workspaces.md#session-control): stop everything a session runs, reset
it (its kept sandboxes replaced, its network made anew, its database emptied) and show what
it holds. Its callers know the session's executions (the socket its own, the API the key's);
what the runners hold, every runner answers for itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from contracts.session_control import SessionCommand, SessionResources
from edge.bus import EdgeBus

RESOURCES_WAIT_S = 2.0
RESET_WAIT_S = 20.0
"""A reset removes containers and a network on each runner: seconds, not milliseconds."""

Stop = Callable[[str], Awaitable[None]]
"""Stop one execution and wait (a bounded while) for its completion."""


class SessionControl:
    def __init__(self, bus: EdgeBus, stop: Stop) -> None:
        self.bus = bus
        self.stop = stop

    async def stop_all(self, execution_ids: Iterable[str]) -> list[str]:
        stopped = list(execution_ids)
        await asyncio.gather(*(self.stop(execution_id) for execution_id in stopped))
        return stopped

    async def resources(self, owner: str) -> list[SessionResources]:
        return await self._ask(SessionCommand(owner, "resources"), RESOURCES_WAIT_S)

    async def reset(self, owner: str) -> list[SessionResources]:
        """Every runner removes what it holds for ``owner`` (stop its executions first: a
        sandbox still running keeps the network up)."""
        return await self._ask(SessionCommand(owner, "reset"), RESET_WAIT_S)

    async def _ask(self, command: SessionCommand, wait_s: float) -> list[SessionResources]:
        runners = len(await self.bus.runners.alive())
        answers = await self.bus.sessions.ask(command, runners, wait_s)
        return sorted(answers, key=lambda answer: answer.runner_id)
