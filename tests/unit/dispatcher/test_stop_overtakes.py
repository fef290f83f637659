"""A stop may reach the dispatcher before its job does (test_queue's stop, red in CI): the
job was still on its way from the stream. The stop is remembered and the job is cancelled on
arrival; without it, the job ran once a slot was free and only its runner stopped it."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from contracts.messages import CompletionEvent, ProgramJob, encode
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from dispatcher.loop import Dispatcher
from dispatcher.service import STOPS_REMEMBERED, DispatchQueue

JOB = ProgramJob(execution_id="e1", owner="key:a", priority=2, submitted_at=0.0,
                 language="python", main_file="main.py", files=[])


class Msg:
    def __init__(self) -> None:
        self.data = encode(JOB)
        self.headers: dict[str, str] = {}
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


class Bus:
    def __init__(self) -> None:
        self.completions: list[CompletionEvent] = []

    async def publish_completion(self, completion: CompletionEvent) -> None:
        self.completions.append(completion)


async def test_a_job_whose_stop_came_first_is_cancelled_when_it_arrives() -> None:
    bus = Bus()
    dispatcher = Dispatcher(DispatcherSettings(), cast(DispatcherBus, bus))
    await dispatcher._stop(JOB.execution_id)
    msg = Msg()
    dispatcher._hold(cast(Any, msg), 2)
    await asyncio.gather(*dispatcher._ending)
    assert [(c.execution_id, c.verdict) for c in bus.completions] == [("e1", "cancelled")]
    assert msg.acked
    assert len(dispatcher.queue) == 0


async def test_a_job_with_no_stop_is_queued() -> None:
    bus = Bus()
    dispatcher = Dispatcher(DispatcherSettings(), cast(DispatcherBus, bus))
    await dispatcher._stop("another")
    dispatcher._hold(cast(Any, Msg()), 2)
    assert bus.completions == []
    assert [w.execution_id for w in dispatcher.queue.waiting()] == ["e1"]


def test_stops_are_remembered_for_the_queue_timeout_and_a_bounded_number() -> None:
    queue: DispatchQueue[str] = DispatchQueue(max_concurrent=1, queue_timeout_s=60)
    queue.cancel("old", now=0.0)
    queue.cancel("young", now=30.0)
    queue.cancel("new", now=61.0)  # "old" is past the queue timeout: forgotten
    assert [queue.stopped_on_arrival(i) for i in ("old", "young", "new")] == [False, True, True]
    assert not queue.stopped_on_arrival("new"), "a stop cancels one arrival"
    for i in range(STOPS_REMEMBERED + 5):
        queue.cancel(f"s{i}", now=100.0)
    assert not queue.stopped_on_arrival("s0")
    assert queue.stopped_on_arrival(f"s{STOPS_REMEMBERED + 4}")
