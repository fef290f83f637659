"""``DELETE /api/v1/executions/{id}`` (``Api.stop``): a job handed to a runner that starts it
after the answer (``CANCEL_WAIT_S``; a slow sandbox start, a full runner) is still stopped as
it starts. CI once saw the run go on to its time limit: the stop's watch had closed with the
answer, and the runner, which listens from ``running`` on, never heard it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from contracts.messages import StatusEvent, encode
from edge import api
from edge.api import Api

Handler = Any


class Watch:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed = asyncio.Event()

    async def close(self) -> None:
        self.closed.set()


class Bus:
    def __init__(self) -> None:
        self.stops: list[str] = []
        self.watches: list[Watch] = []
        self.events = SimpleNamespace(watch=self.watch)
        self.commands = SimpleNamespace(control=self.control)
        self.records = SimpleNamespace(is_running=self.is_running)

    async def watch(self, execution_id: str, handler: Handler) -> Watch:
        self.watches.append(Watch(handler))
        return self.watches[-1]

    async def control(self, control: Any) -> None:
        self.stops.append(control.action)

    async def is_running(self, execution_id: str) -> bool:
        return False  # handed to a runner, not started yet


def api_on(bus: Bus) -> Api:
    edge = Api.__new__(Api)
    edge.bus = bus  # type: ignore[assignment]
    edge._stops = set()
    return edge


async def test_a_run_that_starts_after_the_answer_is_stopped_as_it_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "CANCEL_WAIT_S", 0.01)
    bus = Bus()
    edge = api_on(bus)
    await edge.stop("e1")  # answered: the run has not ended
    assert bus.stops == ["stop"]
    watch = bus.watches[0]
    assert not watch.closed.is_set(), "the stop still listens for the run's start"
    await watch.handler(encode(StatusEvent("e1", "running")), False)
    assert bus.stops == ["stop", "stop"], "sent again when the runner listens"
    await watch.handler(b"{}", True)  # the completion
    await asyncio.wait_for(watch.closed.wait(), 1.0)
    assert not edge._stops


async def test_a_run_that_ends_in_time_closes_its_watch_at_once() -> None:
    bus = Bus()
    edge = api_on(bus)

    async def complete_soon() -> None:
        while not bus.watches:
            await asyncio.sleep(0)
        await bus.watches[0].handler(b"{}", True)

    completing = asyncio.create_task(complete_soon())
    await edge.stop("e1")
    await completing
    assert bus.watches[0].closed.is_set()
    assert not edge._stops
