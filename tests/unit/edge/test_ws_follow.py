"""Taking up an execution the socket did not submit, with an in-memory bus: ``attach`` sends a
finished one's stored output and completion; the take-over of a resumed session sends only the
completion; either way a later ``attach`` of it does nothing."""

from __future__ import annotations

import json
from typing import Any

from contracts.messages import CompletionEvent, StoredOutput, encode
from contracts.runtimes import Catalog
from edge.execution_events import EventHandler
from edge.sessions import SessionTokens
from edge.ws import Connection, Execution

SESSION = "0" * 32
TOKENS = SessionTokens("unit-test-secret")


class FakeWatch:
    async def close(self) -> None:
        pass


class FakeBus:
    """The bus's ``events`` and ``records`` parts over one finished execution's store."""

    def __init__(self) -> None:
        self.completions: dict[str, CompletionEvent] = {}
        self.outputs: dict[str, StoredOutput] = {}
        self.watched: list[str] = []
        self.handlers: dict[str, EventHandler] = {}
        self.live_completion_during_output_read = False

    @property
    def events(self) -> FakeBus:
        return self

    @property
    def records(self) -> FakeBus:
        return self

    async def watch(self, execution_id: str, handler: EventHandler) -> FakeWatch:
        self.watched.append(execution_id)
        self.handlers[execution_id] = handler
        return FakeWatch()

    async def completion(self, execution_id: str) -> CompletionEvent | None:
        return self.completions.get(execution_id)

    async def output(self, execution_id: str) -> StoredOutput | None:
        if self.live_completion_during_output_read:  # the watch delivers it meanwhile
            await self.handlers[execution_id](encode(self.completions[execution_id]), True)
        return self.outputs.get(execution_id)


def finished(bus: FakeBus) -> str:
    execution_id = TOKENS.execution_id(SESSION)
    bus.completions[execution_id] = CompletionEvent(execution_id, "ok")
    bus.outputs[execution_id] = StoredOutput(stdout="done\n")
    return execution_id


def connection(bus: FakeBus) -> Connection:
    return Connection(None, bus, Catalog([]), SESSION, "token", TOKENS)  # type: ignore[arg-type]


def sent(conn: Connection) -> list[dict[str, Any]]:
    events = []
    while not conn.outbox.empty():
        events.append(json.loads(conn.outbox.get_nowait() or "{}"))
    return events


async def test_attach_sends_a_finished_runs_output_then_its_completion_once() -> None:
    bus = FakeBus()
    execution_id = finished(bus)
    conn = connection(bus)
    await conn.attach(execution_id)
    assert [(e["type"], e.get("data")) for e in sent(conn)] == [
        ("output", "done\n"), ("completion", None)]
    await conn.attach(execution_id)
    assert sent(conn) == [] and bus.watched == [execution_id]
    assert conn.executions == {}


async def test_a_live_completion_during_attach_is_not_sent_twice() -> None:
    bus = FakeBus()
    bus.live_completion_during_output_read = True
    execution_id = finished(bus)
    conn = connection(bus)
    await conn.attach(execution_id)
    assert [e["type"] for e in sent(conn)] == ["output", "completion"]


async def test_a_take_over_sends_only_the_completion_and_a_later_attach_nothing() -> None:
    bus = FakeBus()
    execution_id = finished(bus)
    conn = connection(bus)
    await conn._take_over({execution_id: Execution(execution_id)})
    assert [e["type"] for e in sent(conn)] == ["completion"]
    await conn.attach(execution_id)  # the IDE attaches what it waited for after a resume
    assert sent(conn) == [] and bus.watched == [execution_id]


async def test_a_take_over_keeps_following_what_still_runs() -> None:
    bus = FakeBus()
    running = Execution(TOKENS.execution_id(SESSION))
    conn = connection(bus)
    await conn._take_over({running.execution_id: running})
    assert sent(conn) == [] and conn.executions == {running.execution_id: running}
    assert running.opened and not running.running, "it waits for the runner's running event"
