"""A dispatcher fetches up to ``FETCH_BATCH`` jobs at once (dispatcher/loop.py ``_fetch_once``,
dispatcher/bus.py ``fetch``). A batch is queued whole before anything is awaited, so a stop or a
give-back that comes while one of its jobs waits on NATS finds every other job of it; a fetch
cancelled (the dispatcher stopping) leaves what arrives in the poll, and the stop gives it
back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

from contracts.messages import CellJob, CompletionEvent, Job, ProgramJob, encode
from contracts.settings import DispatcherSettings
from contracts.subjects import ATTEMPT_HEADER
from dispatcher.bus import FETCH_BATCH, FETCH_TIMEOUT_S, DispatcherBus
from dispatcher.long_poll import LongPoll
from dispatcher.loop import Dispatcher


def program(execution_id: str) -> ProgramJob:
    return ProgramJob(execution_id=execution_id, owner="key:a", priority=2, submitted_at=0.0,
                      language="python", main_file="main.py", files=[])


def cell(execution_id: str) -> CellJob:
    return CellJob(execution_id=execution_id, owner="key:a", priority=2, submitted_at=0.0,
                   notebook_id="n1", cell_id="c1", code="1")


class Msg:
    def __init__(self, job: Job) -> None:
        self.data = encode(job)
        self.headers: dict[str, str] = {}
        self.reply = f"ack.{job.execution_id}"
        self.acked = self.terminated = False

    async def ack(self) -> None:
        self.acked = True

    async def term(self) -> None:
        self.terminated = True

    async def in_progress(self) -> None:
        pass


class Bus:
    """Hands out one batch, then nothing; reading a placement waits until ``placed`` is set."""

    def __init__(self, batch: list[Msg]) -> None:
        self.batches = [batch]
        self.placed = asyncio.Event()
        self.completions: list[CompletionEvent] = []
        self.given_back: list[str] = []

    async def fetch(self, priority: int) -> list[Msg]:
        if self.batches and priority == 2:
            return self.batches.pop()
        await asyncio.Event().wait()
        return []

    async def placement(self, key: str) -> str | None:
        await self.placed.wait()
        return None

    async def publish_completion(self, completion: CompletionEvent) -> None:
        await asyncio.sleep(0.01)  # a JetStream publish: a stop must wait for it
        self.completions.append(completion)

    async def stop_fetching(self) -> int:
        return 0

    async def give_back(self, msg: Msg) -> None:
        self.given_back.append(msg.reply)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_batch_is_queued_whole_while_a_placement_is_read() -> None:
    bus = Bus([Msg(cell("nb1")), Msg(program("e2")), Msg(program("e3"))])
    dispatcher = Dispatcher(DispatcherSettings(), cast(DispatcherBus, bus))
    fetching = asyncio.create_task(dispatcher._fetch(2))
    await settle()
    assert sorted(w.execution_id for w in dispatcher.queue.waiting()) == ["e2", "e3", "nb1"]
    await dispatcher._stop("e3")  # found queued: cancelled
    assert [c.execution_id for c in bus.completions] == ["e3"]
    fetching.cancel()
    bus.placed.set()
    await settle()


async def test_a_stopping_dispatcher_gives_back_or_ends_every_job_of_a_batch() -> None:
    duplicate = Msg(program("e2"))
    stopped, undecodable, malformed = Msg(program("e4")), Msg(program("e5")), Msg(program("e6"))
    undecodable.data = b'{"executionId": "e5", "kind": "no such kind"}'
    malformed.headers = {ATTEMPT_HEADER: "two"}
    bus = Bus([Msg(cell("nb1")), Msg(program("e2")), duplicate, malformed, Msg(program("e3")),
               stopped, undecodable])
    dispatcher = Dispatcher(DispatcherSettings(), cast(DispatcherBus, bus))
    await dispatcher._stop("e4")  # before its job came
    fetching = asyncio.create_task(dispatcher._fetch(2))
    await settle()
    fetching.cancel()  # the dispatcher stops while nb1's placement is being read
    assert await dispatcher.give_back() == 3
    assert sorted(bus.given_back) == ["ack.e2", "ack.e3", "ack.nb1"]
    assert duplicate.acked and stopped.acked
    assert undecodable.terminated and malformed.terminated
    assert sorted((c.execution_id, c.verdict) for c in bus.completions) == [
        ("e4", "cancelled"), ("e5", "internal_error"), ("e6", "internal_error")]


class Connection:
    """Enough of a NATS connection for the bus's polls and give-backs: ``send`` delivers
    messages to the poll of priority 2 as nats-server would."""

    def __init__(self) -> None:
        self.naks: list[str] = []
        self.deliveries: dict[str, Callable[[Any], Awaitable[None]]] = {}

    def new_inbox(self) -> str:
        return f"_INBOX.{len(self.deliveries)}"

    async def subscribe(self, subject: str, cb: Callable[[Any], Awaitable[None]]) -> Sub:
        self.deliveries[subject] = cb
        return Sub()

    async def publish(self, subject: str, payload: bytes, reply: str) -> None:
        pass

    async def send(self, inbox: str, *msgs: Msg) -> None:
        for msg in msgs:
            await self.deliveries[inbox](msg)

    async def request(self, subject: str, payload: bytes, timeout: float) -> None:
        assert payload == b"-NAK"
        self.naks.append(subject)


class Sub:
    async def drain(self) -> None:
        pass


async def polled_bus() -> tuple[DispatcherBus, Connection]:
    nc = Connection()
    bus = DispatcherBus(cast(Any, nc), cast(Any, None), DispatcherSettings())
    bus._polls = {p: await LongPoll(cast(Any, nc), "JOBS", f"dispatcher-p{p}", FETCH_BATCH,
                                    FETCH_TIMEOUT_S).start() for p in (2, 1, 0)}
    return bus, nc


async def test_jobs_that_arrive_while_a_fetch_is_cancelled_are_given_back() -> None:
    bus, nc = await polled_bus()
    fetches = [asyncio.create_task(bus.fetch(p)) for p in (2, 1)]
    await settle()
    for fetch in fetches:  # the dispatcher stops
        fetch.cancel()
    await asyncio.gather(*fetches, return_exceptions=True)
    await nc.send("_INBOX.0", Msg(program("e1")), Msg(program("e2")))  # sent before the stop
    assert await bus.stop_fetching() == 2
    assert nc.naks == ["ack.e1", "ack.e2"]
