"""The slot audit on a real nats-server (dispatcher/loop.py ``free_finished_slots``): a job
that completed while the dispatcher that released it was gone keeps its slot of the global cap
until a dispatcher finds it. The audit frees exactly the slots, taken before its cutoff, of
completed jobs: not a running job's, not a young one's (its completion may be on its way to its
own dispatcher), and all of them when there are more than one read brings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from coderunner.nats_server import NatsServer
from contracts.messages import completion_for
from contracts.settings import DispatcherSettings
from dispatcher.bus import SLOT_READ_BATCH, DispatcherBus
from dispatcher.loop import Dispatcher
from tests.unit.dispatcher.test_fetch_batch import program

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def dispatcher(nats_alone: NatsServer) -> AsyncIterator[Dispatcher]:
    settings = DispatcherSettings(nats_url=nats_alone.url, max_concurrent=5000)
    bus = await DispatcherBus.connect(settings)
    await bus.ensure_streams()
    try:
        yield Dispatcher(settings, bus)
    finally:
        await bus.close()


async def taken(bus: DispatcherBus, *execution_ids: str) -> None:
    for execution_id in execution_ids:
        assert await bus.take_slot(execution_id, "runner-a")


async def completed(bus: DispatcherBus, *execution_ids: str) -> None:
    for execution_id in execution_ids:
        await bus.publish_completion(completion_for(program(execution_id), "ok", ""))


async def slots_left(bus: DispatcherBus) -> set[str]:
    return set(await bus.slots_taken_before(time.time() + 60))


async def the_next_millisecond() -> float:
    """A cutoff strictly after every slot taken so far, and before every one taken next."""
    await asyncio.sleep(0.01)
    cutoff = time.time()
    await asyncio.sleep(0.01)
    return cutoff


async def test_it_frees_the_old_slots_of_completed_jobs_only(dispatcher: Dispatcher) -> None:
    bus = dispatcher.bus
    await taken(bus, "old-done", "old-running", "old-done-too")
    cutoff = await the_next_millisecond()
    await taken(bus, "young-done", "young-running")
    await completed(bus, "old-done", "old-done-too", "young-done")
    assert await dispatcher.free_finished_slots(cutoff) == 2
    assert await slots_left(bus) == {"old-running", "young-done", "young-running"}
    assert await dispatcher.free_finished_slots(cutoff) == 0  # nothing left to free


async def test_it_reads_every_slot_when_one_read_does_not_bring_them_all(
        dispatcher: Dispatcher) -> None:
    bus = dispatcher.bus
    many = [f"done-{n}" for n in range(2 * SLOT_READ_BATCH + 7)]
    await taken(bus, *many, "running")
    await completed(bus, *many)
    cutoff = await the_next_millisecond()
    await bus.free_slot("done-3")  # freed meanwhile by its own dispatcher: one gap
    assert await dispatcher.free_finished_slots(cutoff) == len(many) - 1
    assert await slots_left(bus) == {"running"}


async def test_with_no_slot_taken_there_is_nothing_to_free(dispatcher: Dispatcher) -> None:
    assert await dispatcher.bus.slots_taken_before(time.time()) == []
    assert await dispatcher.free_finished_slots(time.time()) == 0
