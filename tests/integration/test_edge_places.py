"""An edge puts plain jobs straight on free seats while no job waits (edge/seat_placement.py),
on a real nats-server with the real dispatcher bus and runner bus: the runner claims the job
from its seat and a dispatcher that never released it relays its completion; a seat the stream
refuses is skipped; while a dispatcher says a job waits, jobs go to the queue; a seat's publish
whose answer was lost is sent again, and the job is never sent to the queue as well."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import nats.errors
import pytest
from nats.aio.msg import Msg

from coderunner.nats_server import NatsServer
from contracts import subjects
from contracts.messages import CompletionEvent, PlacementState, RunnerInfo, encode
from dispatcher.bus import DispatcherBus
from edge.execution_events import ExecutionEvents
from edge.job_queue import JobQueue
from edge.nats_connection import NatsConnection
from edge.seat_map import SeatMap
from edge.seat_placement import SeatPlacement
from runners.bus import RunnerBus
from tests.integration.test_seats import buses as buses
from tests.integration.test_seats import claim, job, on_seat, release

pytestmark = pytest.mark.timeout(60)
# ``buses`` (imported): a dispatcher whose relay knows of no job it gave (it reads the seat
# named), and runner r1 (2 seats) bound to its consumers.


class FirstFree(random.Random):
    """Draws the first runner and the first free seat: the order a test can name."""

    def choice(self, seq: Any) -> Any:
        return seq[0]


@pytest.fixture
async def edge(nats_alone: NatsServer, buses: tuple[DispatcherBus, RunnerBus]
               ) -> AsyncIterator[JobQueue]:
    """An edge's job queue that has heard runner r1 (2 seats, python) and a dispatcher with
    no job waiting."""
    dispatcher, runner = buses
    connection = NatsConnection(nats_alone.url)
    await connection.connect()
    placement = SeatPlacement(connection, SeatMap(FirstFree()))
    await placement.start()
    # The completions, as the edge feeds them (edge/app.py: its one subscription to them).
    await ExecutionEvents(connection).on_completions(
        lambda completion: placement.completed(completion.execution_id))
    await runner.heartbeat(RunnerInfo("r1", {"python": "3"}, capacity=2, at=time.time(),
                                      seats=True))
    await tell(dispatcher, waiting=0)
    async with asyncio.timeout(10):
        while not (placement.map.may_place(time.monotonic()) and "r1" in placement.map.runners):
            await asyncio.sleep(0.01)
    yield JobQueue(connection, placement)
    await connection.close()


async def tell(dispatcher: DispatcherBus, waiting: int) -> None:
    await dispatcher.tell_edges(PlacementState("d1", waiting, capped=False))


async def queued(dispatcher: DispatcherBus) -> int:
    return (await dispatcher._js.stream_info(subjects.JOBS_STREAM)).state.messages


async def test_a_job_goes_straight_on_a_free_seat_and_its_completion_is_relayed(
        buses: tuple[DispatcherBus, RunnerBus], edge: JobQueue) -> None:
    dispatcher, runner = buses
    heard: list[str] = []

    async def on_released(msg: Msg) -> None:  # as every dispatcher hears it
        heard.append(f"{subjects.execution_of_release(msg.subject)} {msg.data.decode()}")

    await dispatcher._nc.subscribe(subjects.RELEASED_ALL, cb=on_released)
    await release(dispatcher, "x", "r1", 0)  # a dispatcher's job holds seat 0, not heard yet
    edge.placement.map.completed("x")  # (the edge missed its release)
    await edge.submit(job("y"))
    assert await on_seat(dispatcher, "r1", 1) == "y"  # seat 0 refused: the next tried
    assert await queued(dispatcher) == 0
    assert (edge.placement.placed, edge.placement.refused) == (1, 1)
    async with asyncio.timeout(10):
        while "y r1 1" not in heard:
            await asyncio.sleep(0.01)

    claimed = {c.job.execution_id: c for c in [await claim(runner), await claim(runner)]}
    assert set(claimed) == {"x", "y"}
    await runner.publish_completion(CompletionEvent("y", "ok"), claimed["y"].seat)
    assert await dispatcher.already_completed("y")
    assert await on_seat(dispatcher, "r1", 1) is None
    async with asyncio.timeout(10):  # the edge hears the completion: the seat is free again
        while edge.placement.map.seats.seat_of("y") is not None:
            await asyncio.sleep(0.01)
    await edge.submit(job("w"))
    assert await on_seat(dispatcher, "r1", 1) == "w"


async def test_with_no_free_seat_or_a_job_waiting_jobs_go_to_the_queue(
        buses: tuple[DispatcherBus, RunnerBus], edge: JobQueue) -> None:
    dispatcher, runner = buses
    await edge.submit(msgspec.structs.replace(job("n"), network=True))  # its session's runner
    assert await queued(dispatcher) == 1
    await edge.submit(job("a"))
    await edge.submit(job("b"))
    await edge.submit(job("c"))  # both seats held
    assert await queued(dispatcher) == 2
    await tell(dispatcher, waiting=1)
    async with asyncio.timeout(10):
        while edge.placement.map.may_place(time.monotonic()):
            await asyncio.sleep(0.01)
    claimed = await claim(runner)  # a seat is freed, but a job waits: the queue decides
    await runner.publish_completion(CompletionEvent(claimed.job.execution_id, "ok"),
                                    claimed.seat)
    async with asyncio.timeout(10):
        while edge.placement.map.seats.seat_of(claimed.job.execution_id) is not None:
            await asyncio.sleep(0.01)
    await edge.submit(job("d"))
    assert await queued(dispatcher) == 3 and edge.placement.placed == 2
    assert await on_seat(dispatcher, "r1", 0) != "d" and await on_seat(dispatcher, "r1", 1) != "d"


async def test_a_seat_whose_answer_was_lost_is_sent_again_and_the_job_runs_once(
        buses: tuple[DispatcherBus, RunnerBus], edge: JobQueue,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher, runner = buses
    js = edge.placement.connection.jetstream
    publish = js.publish
    lost: list[str] = []

    async def answer_lost_once(subject: str, payload: bytes = b"", **kwargs: Any) -> Any:
        ack = await publish(subject, payload, **kwargs)
        if not lost:
            lost.append(subject)
            raise nats.errors.TimeoutError  # stored, but its answer never came
        return ack

    monkeypatch.setattr(js, "publish", answer_lost_once)
    await edge.submit(job("z"))
    assert lost == [subjects.seat("r1", 0)]
    assert await on_seat(dispatcher, "r1", 0) == "z" and await queued(dispatcher) == 0
    assert (await claim(runner)).job.execution_id == "z"
    assert await runner.claim() is None  # one copy: not one on seat 1 as well


async def test_a_seat_without_the_jobs_id_is_not_trusted(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    """The relay checks a seat's message by its ``Nats-Msg-Id``: an edge must set it."""
    dispatcher, runner = buses
    await dispatcher._js.publish(subjects.seat("r1", 0), encode(job("v")))
    claimed = await claim(runner)
    with pytest.raises(Exception, match="not given"):
        await runner.publish_completion(CompletionEvent("v", "ok"), claimed.seat)
