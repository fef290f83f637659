"""stdin, eof and stop on the socket: held (bounded) until the run starts, then handed to the
runner in order; a stop never waits behind held input; a refusal is an error for the client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from contracts.messages import (
    STDIN_WINDOW_BYTES,
    Control,
    ControlReply,
    StatusEvent,
    encode,
)
from contracts.runtimes import Catalog
from edge.sessions import SessionTokens
from edge.ws import MAX_HELD_CONTROLS, Connection, Execution


class FakeBus:
    def __init__(self, reply: ControlReply | None = None) -> None:
        self.published: list[Control] = []
        self.delivered: list[Control] = []
        self.reply = reply or ControlReply()
        self.gate: asyncio.Event | None = None

    @property
    def commands(self) -> FakeBus:
        """The bus's part that reaches runners (``edge.runner_commands``): this fake."""
        return self

    async def control(self, control: Control) -> None:
        self.published.append(control)

    async def deliver_control(self, control: Control) -> ControlReply:
        self.delivered.append(control)
        if self.gate is not None:
            await self.gate.wait()
        return self.reply


def connection(bus: FakeBus) -> tuple[Connection, Execution]:
    conn = Connection(None, bus, Catalog([]), "0" * 32, "token",  # type: ignore[arg-type]
                      SessionTokens("unit-test-secret"))
    execution = Execution("e1")
    conn.executions["e1"] = execution
    return conn, execution


def errors(conn: Connection) -> list[dict[str, Any]]:
    found = []
    while not conn.outbox.empty():
        event = json.loads(conn.outbox.get_nowait() or "{}")
        if event.get("type") == "error":
            found.append(event)
    return found


RUNNING = encode(StatusEvent("e1", "running"))


async def test_input_held_for_a_queued_run_is_bounded() -> None:
    conn, execution = connection(FakeBus())
    chunk = "x" * (STDIN_WINDOW_BYTES // 2)
    for _ in range(3):
        await conn.control("e1", "stdin", chunk)
    assert len(execution.held_controls) == 2
    [refused] = errors(conn)
    assert refused["code"] == "stdin_full" and str(STDIN_WINDOW_BYTES) in refused["message"]
    conn2, execution2 = connection(FakeBus())
    for _ in range(MAX_HELD_CONTROLS + 1):
        await conn2.control("e1", "eof", "")
    assert len(execution2.held_controls) == MAX_HELD_CONTROLS
    assert [e["code"] for e in errors(conn2)] == ["stdin_full"]


async def test_held_controls_go_to_the_runner_in_order_once_it_runs() -> None:
    bus = FakeBus()
    conn, execution = connection(bus)
    await conn.control("e1", "stdin", "a")
    await conn.control("e1", "stop", "")
    assert [c.action for c in bus.published] == ["stop"]  # for the dispatcher, while queued
    await conn._on_event(execution, RUNNING, last=False)
    await conn.control("e1", "stdin", "b")
    assert [(c.action, c.data) for c in bus.delivered] == [
        ("stdin", "a"), ("stop", ""), ("stdin", "b")]


async def test_a_stop_overtakes_input_still_being_handed_over() -> None:
    bus = FakeBus()
    bus.gate = asyncio.Event()
    conn, execution = connection(bus)
    await conn.control("e1", "stdin", "a")
    flushing = asyncio.create_task(conn._on_event(execution, RUNNING, last=False))
    await asyncio.sleep(0)
    await conn.control("e1", "stdin", "b")  # held behind "a"
    stop = asyncio.create_task(conn.control("e1", "stop", ""))
    await asyncio.sleep(0)
    assert [c.action for c in bus.delivered] == ["stdin", "stop"]
    bus.gate.set()
    await asyncio.gather(flushing, stop)
    assert [c.data for c in bus.delivered if c.action == "stdin"] == ["a", "b"]


async def test_a_refused_control_becomes_an_error_for_the_client() -> None:
    bus = FakeBus(ControlReply(False, "stdin_full", "stdin refused: 4194304 bytes"))
    conn, execution = connection(bus)
    execution.running = True
    await conn.control("e1", "stdin", "x")
    [error] = errors(conn)
    assert (error["code"], error["executionId"]) == ("stdin_full", "e1")
