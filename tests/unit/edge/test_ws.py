"""The browser socket's protections, with an in-memory socket: a reader that does not keep up
is disconnected instead of growing memory; oversized frames are refused with an error."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from contracts.runtimes import Catalog
from edge.sessions import SessionTokens
from edge.ws import (
    MAX_FRAME_BYTES,
    SEND_QUEUE_LIMIT,
    SLOW_READER_CLOSE,
    Connection,
    Execution,
    Handovers,
)


class FakeSocket:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def connection(ws: FakeSocket) -> Connection:
    bus: Any = None  # never reached by these tests
    return Connection(ws, bus, Catalog([]), "0" * 32, "token",  # type: ignore[arg-type]
                      SessionTokens("unit-test-secret"))


async def test_a_reader_that_falls_behind_is_disconnected() -> None:
    ws = FakeSocket()
    conn = connection(ws)
    for n in range(SEND_QUEUE_LIMIT):
        conn.send(f"frame {n}")
    assert ws.closed is None
    conn.send("one too many")
    assert conn.closing is not None
    await conn.closing
    assert ws.closed == (SLOW_READER_CLOSE, "client reads too slowly")
    assert conn.outbox.qsize() == SEND_QUEUE_LIMIT, "memory stays bounded"


async def test_an_oversized_frame_gets_an_error_not_a_crash() -> None:
    conn = connection(FakeSocket())
    await conn.handle_frame("x" * (MAX_FRAME_BYTES + 1))
    error = json.loads(conn.outbox.get_nowait())
    assert (error["type"], error["code"]) == ("error", "invalid_request")
    await asyncio.sleep(0)


async def test_a_resume_waits_a_moment_for_the_old_socket_to_leave() -> None:
    handovers = Handovers()
    handovers.enter("s")  # the old socket, whose close the edge has not seen yet
    handovers.enter("s")  # the resuming one
    left = {"e1": Execution("e1")}

    async def old_socket_closes() -> None:
        await asyncio.sleep(0.1)
        handovers.leave("s", left, 0.0)

    closing = asyncio.create_task(old_socket_closes())
    taken = await handovers.take("s", 0.0)
    await closing
    assert list(taken) == ["e1"]


async def test_left_executions_expire_after_a_while() -> None:
    handovers = Handovers()
    handovers.enter("s")
    handovers.leave("s", {"e1": Execution("e1")}, now=0.0)
    assert await handovers.take("s", now=Handovers.KEEP_S + 1) == {}


def test_handovers_keep_nothing_for_sessions_that_closed_and_never_resumed() -> None:
    handovers = Handovers()
    for n in range(1000):
        session = f"s{n}"
        handovers.enter(session)
        handovers.leave(session, {}, now=float(n))
    assert handovers._left == {} and handovers._open == {}
    handovers.enter("late")
    handovers.leave("late", {"e": Execution("e")}, now=0.0)
    handovers.enter("later")
    handovers.leave("later", {}, now=Handovers.KEEP_S + 1)
    assert handovers._by_session == {}, "left executions are forgotten after KEEP_S"
