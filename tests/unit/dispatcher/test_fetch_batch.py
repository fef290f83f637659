"""A dispatcher fetches up to ``FETCH_BATCH`` jobs at once (dispatcher/loop.py ``_fetch_once``,
dispatcher/bus.py ``fetch``). A batch is queued whole before anything is awaited, so a stop or a
give-back that comes while one of its jobs waits on NATS finds every other job of it; a fetch
cancelled mid-batch (the dispatcher stopping) gives back what it brought."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from contracts.messages import CellJob, CompletionEvent, Job, ProgramJob, encode
from contracts.settings import DispatcherSettings
from contracts.subjects import ATTEMPT_HEADER
from dispatcher import bus as bus_module
from dispatcher.bus import DispatcherBus
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


class Pull:
    """A pull whose fetch of a batch is under way: it ends when ``arrived`` is set."""

    def __init__(self, msgs: list[Any]) -> None:
        self.msgs = msgs
        self.arrived = asyncio.Event()

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        await self.arrived.wait()
        return self.msgs

    async def unsubscribe(self) -> None:
        self.arrived.set()  # the rest of the batch was on the connection already


class Idle(Pull):
    """A pull whose fetch waits for a first job that never comes."""

    async def unsubscribe(self) -> None:
        pass


class Connection:
    def __init__(self) -> None:
        self.naks: list[str] = []

    async def flush(self, timeout: float) -> None:
        pass

    async def request(self, subject: str, payload: bytes, timeout: float) -> None:
        assert payload == b"-NAK"
        self.naks.append(subject)


async def test_a_fetch_cancelled_mid_batch_gives_its_jobs_back() -> None:
    nc = Connection()
    bus = DispatcherBus(cast(Any, nc), cast(Any, None), DispatcherSettings())
    bus._pulls = {2: cast(Any, Pull([Msg(program("e1")), Msg(program("e2"))])),
                  1: cast(Any, Pull([]))}
    fetches = [asyncio.create_task(bus.fetch(p)) for p in (2, 1)]
    await settle()
    for fetch in fetches:
        fetch.cancel()
    await asyncio.gather(*fetches, return_exceptions=True)
    assert await bus.stop_fetching() == 2
    assert nc.naks == ["ack.e1", "ack.e2"]


async def test_a_cancelled_fetch_still_waiting_for_a_first_job_is_ended(
        monkeypatch: Any) -> None:
    monkeypatch.setattr(bus_module, "FINISH_FETCH_S", 0.01)
    nc = Connection()
    bus = DispatcherBus(cast(Any, nc), cast(Any, None), DispatcherSettings())
    bus._pulls = {0: cast(Any, Idle([]))}
    fetch = asyncio.create_task(bus.fetch(0))
    await settle()
    fetch.cancel()
    await asyncio.gather(fetch, return_exceptions=True)
    assert await bus.stop_fetching() == 0
    assert nc.naks == []
