"""The completion relay on a real nats-server (dispatcher/bus.py ``relay_runner_completions``)
when the job's slot is not stored yet. With no cap set, a dispatcher publishes a job's slot and
its release at once (dispatcher/loop.py ``_send``); they go to two streams, and the runner may
finish the job and ask for its completion before the slot is stored. The relay looks for the
slot again for a moment: it publishes the completion once the slot names the runner asking, and
still refuses a job given to another runner or to none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from coderunner.nats_server import NatsServer
from contracts.messages import CompletionEvent, RunnerInfo
from contracts.nats_options import NatsOptions
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from runners.bus import CompletionRefused, RunnerBus

pytestmark = pytest.mark.timeout(60)


async def bound_runner(dispatcher: DispatcherBus, url: str, options: NatsOptions | None = None,
                       inbox: str = "") -> RunnerBus:
    """Runner r1 (2 slots) on its own connection, heartbeating and bound to the consumer the
    dispatcher made for it (also tests/faults/test_secured_nats.py's, on a secured NATS)."""
    runner = await RunnerBus.connect(url, "runner-r1", options, inbox)
    await runner.heartbeat(RunnerInfo("r1", {}, capacity=2, at=time.time()))
    await dispatcher.ensure_runner_consumer("r1", 2)
    await runner.bind("r1")
    return runner


@pytest.fixture
async def buses(nats_alone: NatsServer) -> AsyncIterator[tuple[DispatcherBus, RunnerBus]]:
    dispatcher = await DispatcherBus.connect(DispatcherSettings(nats_url=nats_alone.url))
    await dispatcher.ensure_streams()
    await dispatcher.relay_runner_completions()  # knows of no job: reads the slot each time
    runner = await bound_runner(dispatcher, nats_alone.url)
    yield dispatcher, runner
    await runner.close()
    await dispatcher.close()


async def test_a_completion_asked_for_before_its_slot_is_stored_is_relayed(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses

    async def slot_stored_late() -> None:
        await asyncio.sleep(0.1)
        assert await dispatcher.take_slot("late-1", "r1")

    late = asyncio.create_task(slot_stored_late())
    await runner.publish_completion(CompletionEvent("late-1", "ok"))
    await late
    assert await dispatcher.already_completed("late-1")


async def test_a_job_given_to_another_or_to_none_is_still_refused(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    assert await dispatcher.take_slot("other-1", "r2")
    with pytest.raises(CompletionRefused):
        await runner.publish_completion(CompletionEvent("other-1", "ok"))
    with pytest.raises(CompletionRefused):
        await runner.publish_completion(CompletionEvent("never-given", "ok"))
    assert not await dispatcher.already_completed("other-1")
    assert not await dispatcher.already_completed("never-given")
