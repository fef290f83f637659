"""A release on a seat (dispatcher/loop.py ``_send``): a runner that has seats gets its job on
one, without a slot when no cap is set; a seat found held puts the job back, and the seat's
unknown holder counts on the runner until heard or for ``UNKNOWN_HOLDER_S``; with a cap the
slot still comes first (and is freed when the seat is refused); an older runner without seats
gets its job on RUN, as before."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest

from contracts.messages import CompletionEvent, RunnerInfo
from contracts.settings import DispatcherSettings
from dispatcher import loop
from dispatcher.bus import DispatcherBus, SeatTaken
from dispatcher.loop import Dispatcher, Held
from dispatcher.service import Waiting
from tests.unit.dispatcher.test_slot_and_release import JOB, Msg


class Bus:
    def __init__(self, slots_capped: bool, seat_held: bool = False) -> None:
        self.slots_capped = slots_capped
        self.seat_held = seat_held
        self.steps: list[str] = []

    async def take_slot(self, execution_id: str, runner: str) -> bool:
        self.steps.append("slot")
        return True

    async def release(self, *args: Any) -> None:
        self.steps.append("on RUN")

    async def release_on_seat(self, data: bytes, runner: str, seat: int, attempts: int,
                              msg_id: str) -> None:
        if self.seat_held:
            self.steps.append(f"seat {seat} refused")
            raise SeatTaken(runner, seat)
        self.steps.append(f"on seat {seat}")

    async def free_slot(self, execution_id: str) -> None:
        self.steps.append("slot freed")


def dispatcher_with(bus: Bus, seats: bool = True, max_concurrent: int | None = None
                    ) -> tuple[Dispatcher, Msg, Waiting[Held]]:
    """Runner r1 (2 slots, with or without seats) and the job decided for it."""
    dispatcher = Dispatcher(DispatcherSettings(max_concurrent=max_concurrent),
                            cast(DispatcherBus, bus))
    dispatcher.fleet.heartbeat(RunnerInfo("r1", {"python": "3"}, capacity=2, at=time.time(),
                                          seats=seats), time.monotonic())
    msg = Msg()
    dispatcher.queue.add(Waiting(JOB.execution_id, 1, 0.0, Held(cast(Any, msg), JOB),
                                 owner=JOB.owner))
    item = dispatcher.queue.next()
    assert item is not None
    dispatcher.fleet.sent("r1", JOB.execution_id, "python")
    return dispatcher, msg, item


async def send(dispatcher: Dispatcher, item: Waiting[Held]) -> int | None:
    seat = dispatcher._seat_for("r1", item.execution_id, time.monotonic())
    await dispatcher._send(item, "r1", None, None, seat)
    return seat


async def test_with_no_cap_a_job_goes_on_a_seat_without_a_slot() -> None:
    bus = Bus(slots_capped=False)
    dispatcher, msg, item = dispatcher_with(bus)
    seat = await send(dispatcher, item)
    assert seat in (0, 1) and bus.steps == [f"on seat {seat}"] and msg.acked
    await dispatcher._completed(CompletionEvent(execution_id=JOB.execution_id, verdict="ok"))
    assert bus.steps == [f"on seat {seat}"]  # no slot to free
    assert dispatcher.seats.seat_of(JOB.execution_id) is None


async def test_a_held_seat_puts_the_job_back_and_counts_its_holder_on_the_runner(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "UNKNOWN_HOLDER_S", 0.05)
    bus = Bus(slots_capped=False, seat_held=True)
    dispatcher, msg, item = dispatcher_with(bus)
    seat = await send(dispatcher, item)
    assert seat is not None and bus.steps == [f"seat {seat} refused"] and not msg.acked
    assert [w.execution_id for w in dispatcher.queue.waiting()] == [JOB.execution_id]
    view = dispatcher.fleet.runners["r1"]
    assert view.free_slots() == 1  # the job did not go; the seat's unknown holder counts
    assert {dispatcher.seats.pick("r1", 2, time.monotonic()) for _ in range(20)} == {1 - seat}
    await asyncio.sleep(0.1)
    assert view.free_slots() == 2  # not heard of within UNKNOWN_HOLDER_S: tried again


async def test_a_held_seats_holder_heard_replaces_the_stand_in() -> None:
    bus = Bus(slots_capped=False, seat_held=True)
    dispatcher, _, item = dispatcher_with(bus)
    seat = await send(dispatcher, item)
    assert seat is not None
    dispatcher._released_on_seat("theirs", "r1", seat)
    view = dispatcher.fleet.runners["r1"]
    assert set(view.theirs) == {"theirs"} and view.free_slots() == 1
    assert dispatcher.seats.seat_of("theirs") == ("r1", seat)


async def test_with_a_cap_the_slot_comes_first_and_is_freed_when_the_seat_is_held() -> None:
    bus = Bus(slots_capped=True)
    dispatcher, msg, item = dispatcher_with(bus, max_concurrent=5)
    seat = await send(dispatcher, item)
    assert bus.steps == ["slot", f"on seat {seat}"] and msg.acked

    held = Bus(slots_capped=True, seat_held=True)
    dispatcher, msg, item = dispatcher_with(held, max_concurrent=5)
    seat = await send(dispatcher, item)
    assert held.steps == ["slot", f"seat {seat} refused", "slot freed"] and not msg.acked


async def test_an_older_runner_without_seats_gets_its_job_on_run_with_a_slot() -> None:
    bus = Bus(slots_capped=False)
    dispatcher, msg, item = dispatcher_with(bus, seats=False)
    assert await send(dispatcher, item) is None
    assert sorted(bus.steps) == ["on RUN", "slot"] and msg.acked
