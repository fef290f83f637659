"""``dispatcher/long_poll.py`` over a fake connection: jobs are handed over as they arrive, a
request that ended (its batch brought, a status, NATS reconnected) is followed by another at
once, an error status is raised, and jobs not taken are returned by ``close``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from dispatcher import long_poll as long_poll_module
from dispatcher.long_poll import LongPoll, PollError

INBOX = "_INBOX.poll"
EXPIRES_S = 30.0
"""Far longer than any test waits: a take that waits for its request to expire fails."""


class Msg:
    def __init__(self, data: bytes = b"", reply: str = "", status: str | None = None,
                 description: str = "") -> None:
        self.data = data
        self.reply = reply
        self.headers = {"Status": status, "Description": description} if status else None


def job(name: str) -> Msg:
    return Msg(name.encode(), reply=f"$JS.ACK.JOBS.{name}")


class Sub:
    def __init__(self) -> None:
        self.drained = False

    async def drain(self) -> None:
        self.drained = True


class Connection:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.deliver: Callable[[Msg], Awaitable[None]] | None = None
        self.sub = Sub()

    def new_inbox(self) -> str:
        return INBOX

    async def subscribe(self, subject: str, cb: Callable[[Msg], Awaitable[None]]) -> Sub:
        assert subject == INBOX
        self.deliver = cb
        return self.sub

    async def publish(self, subject: str, payload: bytes, reply: str) -> None:
        assert subject == "$JS.API.CONSUMER.MSG.NEXT.JOBS.dispatcher-p2" and reply == INBOX
        self.requests.append(json.loads(payload))

    async def send(self, *msgs: Msg) -> None:
        assert self.deliver is not None
        for msg in msgs:
            await self.deliver(msg)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def poll(batch: int = 64) -> tuple[LongPoll, Connection]:
    nc = Connection()
    return await LongPoll(cast(Any, nc), "JOBS", "dispatcher-p2", batch, EXPIRES_S).start(), nc


async def test_a_job_is_handed_over_as_it_arrives_not_when_the_batch_is_full() -> None:
    long_poll, nc = await poll()
    taking = asyncio.create_task(long_poll.take())
    await settle()
    assert nc.requests == [{"batch": 64, "expires": int(EXPIRES_S * 1e9), "no_wait": True}]
    await nc.send(job("e1"))
    assert [m.data for m in await asyncio.wait_for(taking, 1)] == [b"e1"]
    await nc.send(job("e2"), job("e3"))  # the same request brings more: taken at once
    assert [m.data for m in await long_poll.take()] == [b"e2", b"e3"]
    assert len(nc.requests) == 1


async def test_a_request_that_brought_its_batch_is_followed_by_another_at_once() -> None:
    long_poll, nc = await poll(batch=2)
    taking = asyncio.create_task(long_poll.take())
    await settle()
    await nc.send(job("e1"), job("e2"))  # the batch: nats-server ends it without a status
    assert len(await taking) == 2
    taking = asyncio.create_task(long_poll.take())
    await settle()
    assert len(nc.requests) == 2
    await nc.send(job("e3"))
    assert [m.data for m in await asyncio.wait_for(taking, 1)] == [b"e3"]


async def test_a_status_ends_the_request_and_an_error_is_raised() -> None:
    long_poll, nc = await poll()
    taking = asyncio.create_task(long_poll.take())
    await settle()
    await nc.send(Msg(status="100"))  # a heartbeat ends nothing
    await settle()
    assert len(nc.requests) == 1
    await nc.send(Msg(status="408", description="Request Timeout"))
    await settle()
    assert len(nc.requests) == 2 and not taking.done()
    await nc.send(Msg(status="409", description="Consumer Deleted"))
    with pytest.raises(PollError, match="409 Consumer Deleted"):
        await asyncio.wait_for(taking, 1)


async def test_after_a_reconnect_a_new_request_is_opened_at_once() -> None:
    long_poll, nc = await poll()
    taking = asyncio.create_task(long_poll.take())
    await settle()
    long_poll.lost()
    await settle()
    assert len(nc.requests) == 2
    taking.cancel()


async def test_jobs_that_arrive_while_no_one_takes_them_are_returned_by_close() -> None:
    long_poll, nc = await poll()
    taking = asyncio.create_task(long_poll.take())
    await settle()
    taking.cancel()  # the dispatcher stops while a take waits
    await asyncio.gather(taking, return_exceptions=True)
    await nc.send(job("e1"), job("e2"))
    assert [m.data for m in await long_poll.close()] == [b"e1", b"e2"]
    assert nc.sub.drained
    assert await long_poll.take() == []


async def test_the_jobs_of_one_answer_are_taken_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(long_poll_module, "GATHER_S", 5.0)  # the status ends the wait, not this
    long_poll, nc = await poll()
    taking = asyncio.create_task(long_poll.take())
    await settle()
    await nc.send(job("e1"))
    await settle()
    assert not taking.done()  # the rest of the answer is on its way
    await nc.send(job("e2"), Msg(status="404", description="No Messages"))
    assert [m.data for m in await asyncio.wait_for(taking, 1)] == [b"e1", b"e2"]


async def test_a_message_with_neither_an_ack_subject_nor_a_status_is_ignored() -> None:
    long_poll, nc = await poll()
    taking = asyncio.create_task(long_poll.take())
    await settle()
    await nc.send(Msg(b"stray"))
    await settle()
    assert not taking.done() and len(nc.requests) == 1
    await nc.send(job("e1"))
    assert [m.data for m in await asyncio.wait_for(taking, 1)] == [b"e1"]
