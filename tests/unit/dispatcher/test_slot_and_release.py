"""A release and its slot (dispatcher/loop.py ``_send``). With no cap set, ``SLOTS`` never
refuses a slot, so the job is published on its runner's subject without waiting for its slot's
acknowledgment; with a cap, nothing is released before its slot is taken. A job that completes
before its slot is stored has the slot freed once it is (the completion's purge came first)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from contracts.messages import CompletionEvent, ProgramJob
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from dispatcher.loop import Dispatcher, Held
from dispatcher.service import Waiting

JOB = ProgramJob(execution_id="e1", owner="key:a", priority=1, submitted_at=0.0,
                 language="python", main_file="main.py", files=[])


class Msg:
    data = b"{}"
    acked = False

    async def ack(self) -> None:
        self.acked = True


class Bus:
    """Records each step; a slot's publish is acknowledged when the test says so."""

    def __init__(self, slots_capped: bool) -> None:
        self.slots_capped = slots_capped
        self.slot_stored = asyncio.Event()
        self.steps: list[str] = []

    async def take_slot(self, execution_id: str, runner: str) -> bool:
        self.steps.append("slot sent")
        await self.slot_stored.wait()
        self.steps.append("slot stored")
        return True

    async def release(self, *args: Any) -> None:
        self.steps.append("released")

    async def free_slot(self, execution_id: str) -> None:
        self.steps.append("slot freed")


def sending(max_concurrent: int | None
            ) -> tuple[Dispatcher, Bus, Msg, asyncio.Task[None]]:
    """The job decided for runner r1 (running, as the queue counts) and its send begun."""
    bus = Bus(slots_capped=max_concurrent is not None)
    dispatcher = Dispatcher(DispatcherSettings(max_concurrent=max_concurrent),
                            cast(DispatcherBus, bus))
    msg = Msg()
    dispatcher.queue.add(Waiting(JOB.execution_id, 1, 0.0, Held(cast(Any, msg), JOB),
                                 owner=JOB.owner))
    item = dispatcher.queue.next()
    assert item is not None and JOB.execution_id in dispatcher.queue.running
    return dispatcher, bus, msg, asyncio.create_task(dispatcher._send(item, "r1", None))


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_with_no_cap_the_release_does_not_wait_for_its_slot() -> None:
    _, bus, msg, send = sending(max_concurrent=None)
    await settle()
    assert bus.steps == ["slot sent", "released"]
    assert not msg.acked  # not acked in JOBS before the slot is stored
    bus.slot_stored.set()
    await send
    assert bus.steps == ["slot sent", "released", "slot stored"]
    assert msg.acked


async def test_with_a_cap_nothing_is_released_before_its_slot_is_taken() -> None:
    _, bus, msg, send = sending(max_concurrent=5)
    await settle()
    assert bus.steps == ["slot sent"]
    bus.slot_stored.set()
    await send
    assert bus.steps == ["slot sent", "slot stored", "released"]
    assert msg.acked


async def test_a_job_that_completes_before_its_slot_is_stored_has_the_slot_freed() -> None:
    dispatcher, bus, _, send = sending(max_concurrent=None)
    await settle()
    await dispatcher._completed(CompletionEvent(execution_id=JOB.execution_id, verdict="ok"))
    assert bus.steps == ["slot sent", "released", "slot freed"]  # nothing stored to purge yet
    bus.slot_stored.set()
    await send
    assert bus.steps == ["slot sent", "released", "slot freed", "slot stored", "slot freed"]
