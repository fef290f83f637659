"""The fleet bench's edge-placed line on a real nats-server (``coderunner.bench_edge_places``):
a job put straight on a seat by an edge is claimed from it by the runner and its completion is
relayed by a dispatcher that never released it (it reads the seat); a seat the stream refuses
is skipped; with no free seat the job goes to the queue."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from coderunner.bench_edge_places import EdgePlacer, SeatView
from contracts import subjects
from contracts.messages import CompletionEvent, encode
from dispatcher.bus import DispatcherBus
from runners.bus import RunnerBus
from tests.integration.test_completion_relay import buses as buses
from tests.integration.test_seats import claim, job, on_seat, release

pytestmark = pytest.mark.timeout(60)
# ``buses`` (imported): a dispatcher that gave nothing, so its relay reads the seat named, and
# runner r1 bound to its consumers.


class FirstFree(random.Random):
    """Draws the first runner and the first free seat: the order a test can name."""

    def choice(self, seq: Any) -> Any:
        return seq[0]


async def test_an_edge_placed_job_runs_on_its_seat_and_a_refused_seat_is_skipped(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, runner = buses
    await release(dispatcher, "x", "r1", 0)  # a dispatcher's job holds seat 0
    placer = EdgePlacer(dispatcher._nc, [SeatView({"r1": 2}, FirstFree())])

    await placer.place(job("y"))
    assert (await on_seat(dispatcher, "r1", 1), placer.tries) == ("y", [2])
    await placer.place(job("z"))  # seat 0 refused lately, seat 1 filled: to the queue
    assert placer.fallbacks == 1
    assert (await dispatcher._js.stream_info(subjects.JOBS_STREAM)).state.messages == 1

    claimed = {c.job.execution_id: c for c in [await claim(runner), await claim(runner)]}
    assert set(claimed) == {"x", "y"}
    await runner.publish_completion(CompletionEvent("y", "ok"), claimed["y"].seat)
    assert await dispatcher.already_completed("y")
    assert await on_seat(dispatcher, "r1", 1) is None
    placer.completed("y")
    await placer.place(job("w"))
    assert await on_seat(dispatcher, "r1", 1) == "w"


async def test_a_release_heard_fills_the_seat_in_every_view(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    dispatcher, _ = buses
    views = [SeatView({"r1": 2}, FirstFree()), SeatView({"r1": 2}, FirstFree())]
    placer = EdgePlacer(dispatcher._nc, views)
    await placer.listen()
    await release(dispatcher, "x", "r1", 0)
    async with asyncio.timeout(10):
        while not all(view.held.get("r1") for view in views):
            await asyncio.sleep(0.01)
    await placer.place(job("y"))
    assert (await on_seat(dispatcher, "r1", 1), placer.tries) == ("y", [1])


async def test_a_seat_without_the_jobs_id_is_not_trusted(
        buses: tuple[DispatcherBus, RunnerBus]) -> None:
    """The relay checks a seat's message by its ``Nats-Msg-Id``: an edge must set it."""
    dispatcher, runner = buses
    await dispatcher._js.publish(subjects.seat("r1", 0), encode(job("v")))
    claimed = await claim(runner)
    with pytest.raises(Exception, match="not given"):
        await runner.publish_completion(CompletionEvent("v", "ok"), claimed.seat)
