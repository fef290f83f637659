"""Seats on a real nats-server (contracts/subjects.py ``SEATS_STREAM``): a seat holds one job
whoever releases it, the dispatcher relaying a job's completion frees the job's seat before
anyone hears the completion, a repeated relay frees nothing newer, a runner frees no seat but
its own job's, and a runner with seats still takes what waits for it on RUN."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import nats.js.errors
import pytest
from nats.aio.msg import Msg

from coderunner.nats_server import NatsServer
from contracts import subjects
from contracts.messages import CompletionEvent, JobFile, ProgramJob, completion_decoder, encode
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus, SeatTaken
from runners.bus import ClaimedJob, CompletionRefused, RunnerBus
from tests.integration.test_completion_relay import bound_runner

pytestmark = pytest.mark.timeout(60)
GIVEN: dict[str, str] = {}
"""What the relay's dispatcher knows it gave (``Fleet.given_to``); else it reads the seat."""


def job(execution_id: str) -> ProgramJob:
    return ProgramJob(execution_id=execution_id, owner="key:k", priority=1,
                      submitted_at=time.time(), language="python",
                      files=[JobFile("main.py", "print(1)")], main_file="main.py")


@pytest.fixture
async def buses(nats_alone: NatsServer) -> AsyncIterator[tuple[DispatcherBus, RunnerBus]]:
    dispatcher = await DispatcherBus.connect(DispatcherSettings(nats_url=nats_alone.url))
    await dispatcher.ensure_streams()
    GIVEN.clear()
    await dispatcher.relay_runner_completions(GIVEN.get)
    runner = await bound_runner(dispatcher, nats_alone.url)
    yield dispatcher, runner
    await runner.close()
    await dispatcher.close()


async def release(dispatcher: DispatcherBus, execution_id: str, runner: str, seat: int) -> None:
    given = job(execution_id)
    await dispatcher.release_on_seat(encode(given), runner, seat, 0, execution_id)


async def claim(runner: RunnerBus) -> ClaimedJob:
    claimed = await runner.claim()
    assert claimed is not None
    return claimed


async def on_seat(dispatcher: DispatcherBus, runner: str, seat: int) -> str | None:
    """The execution id of the job a seat holds, None when free."""
    try:
        msg = await dispatcher._js.get_last_msg(subjects.SEATS_STREAM,
                                                subjects.seat(runner, seat))
    except nats.js.errors.NotFoundError:
        return None
    return (msg.headers or {})["Nats-Msg-Id"]


async def test_a_seat_holds_one_job_and_is_free_before_its_completion_is_heard(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    free_when_heard: list[bool] = []
    seat_of = {"a-1": 0, "b-1": 1, "a-2": 0}

    async def heard(msg: Msg) -> None:  # as another dispatcher hears it
        execution_id = completion_decoder.decode(msg.data).execution_id
        free_when_heard.append(await on_seat(dispatcher, "r1", seat_of[execution_id]) is None)
        if execution_id == "a-1":
            await release(dispatcher, "a-2", "r1", 0)  # the seat at once: not refused

    await dispatcher._nc.subscribe(subjects.COMPLETIONS_SUBJECTS, cb=heard)
    await release(dispatcher, "a-1", "r1", 0)
    with pytest.raises(SeatTaken):
        await release(dispatcher, "b-1", "r1", 0)
    await release(dispatcher, "b-1", "r1", 1)  # another seat of the same runner
    first = await claim(runner)
    assert first.job.execution_id == "a-1"
    assert first.seat is not None and first.seat.startswith("0 ")
    await runner.publish_completion(CompletionEvent("a-1", "ok"), first.seat)
    await first.ack()
    second = await claim(runner)
    assert second.job.execution_id == "b-1"
    await runner.publish_completion(CompletionEvent("b-1", "ok"), second.seat)
    third = await claim(runner)
    assert third.job.execution_id == "a-2"  # released on seat 0 as a-1's completion was heard
    await runner.publish_completion(CompletionEvent("a-2", "ok"), third.seat)
    for _ in range(100):
        if len(free_when_heard) == 3:
            break
        await asyncio.sleep(0.02)
    assert free_when_heard == [True, True, True]


async def test_a_repeated_relay_leaves_the_seats_next_job_alone(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    await release(dispatcher, "r-1", "r1", 0)
    first = await claim(runner)
    await runner.publish_completion(CompletionEvent("r-1", "ok"), first.seat)
    await release(dispatcher, "r-2", "r1", 0)  # the seat's next job
    GIVEN["r-1"] = "r1"  # asked again before the relay's dispatcher heard the completion
    await runner.publish_completion(CompletionEvent("r-1", "ok"), first.seat)
    assert await on_seat(dispatcher, "r1", 0) == "r-2"


async def test_a_runner_frees_no_seat_but_its_own_jobs(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    await release(dispatcher, "theirs-1", "r2", 0)  # another runner's job
    seq = (await dispatcher._js.get_last_msg(subjects.SEATS_STREAM,
                                             subjects.seat("r2", 0))).seq
    with pytest.raises(CompletionRefused):  # naming the other's seat and message
        await runner.publish_completion(CompletionEvent("theirs-1", "ok"), f"0 {seq}")
    await release(dispatcher, "mine-1", "r1", 0)
    with pytest.raises(CompletionRefused):  # naming its own seat, with the other's message
        await runner.publish_completion(CompletionEvent("theirs-1", "ok"), f"0 {seq}")
    assert await on_seat(dispatcher, "r2", 0) == "theirs-1"
    assert await on_seat(dispatcher, "r1", 0) == "mine-1"
    assert not await dispatcher.already_completed("theirs-1")


async def test_a_runner_with_seats_takes_what_waits_for_it_on_run(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    old = job("old-1")  # released before it had seats, or by an older dispatcher
    assert await dispatcher.take_slot("old-1", "r1")
    await dispatcher.release(old, encode(old), "r1", 0, "old-1")
    await release(dispatcher, "new-1", "r1", 3)
    taken: dict[str, str | None] = {}
    deadline = time.monotonic() + 15
    while len(taken) < 2 and time.monotonic() < deadline:
        claimed = await runner.claim()
        if claimed is not None:
            taken[claimed.job.execution_id] = claimed.seat
            await runner.publish_completion(CompletionEvent(claimed.job.execution_id, "ok"),
                                            claimed.seat)
            await claimed.ack()
    assert taken.keys() == {"old-1", "new-1"}
    assert taken["old-1"] is None  # from RUN: no seat to free
    assert await on_seat(dispatcher, "r1", 3) is None
