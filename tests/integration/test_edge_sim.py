"""The fleet bench's edge-placed phase (coderunner/edge_sim.py) on a real nats-server with a
real dispatcher and a simulated runner: the real edges' job queues put the jobs straight on the
runner's seats, every job runs once and completes, none beyond the runner's seats."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from coderunner import edge_sim
from coderunner.fleet_sim import Ledger, SimulatedRunner, simulated_runner_id
from coderunner.nats_server import NatsServer
from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from dispatcher.loop import Dispatcher
from runners.bus import RunnerBus

pytestmark = pytest.mark.timeout(120)
SLOTS = 4


@pytest.fixture
async def fleet(nats_alone: NatsServer) -> AsyncIterator[Ledger]:
    """A dispatcher serving, and one simulated runner of ``SLOTS`` seats whose jobs take 50 ms."""
    settings = DispatcherSettings(nats_url=nats_alone.url)
    bus = await DispatcherBus.connect(settings)
    dispatcher = Dispatcher(settings, bus, await bus.ensure_streams())
    serving = asyncio.create_task(dispatcher.serve())
    ledger = Ledger()
    runner_id = simulated_runner_id(0)
    runner = SimulatedRunner(runner_id, await RunnerBus.connect(nats_alone.url, runner_id),
                             SLOTS, ledger)
    runner.job_s = 0.05
    await runner.start()
    await asyncio.wait_for(runner.bound.wait(), 30)
    yield ledger
    await runner.stop()
    await runner.bus.close()
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await bus.close()


async def test_the_edges_place_every_job_and_each_runs_once(
        nats_alone: NatsServer, fleet: Ledger) -> None:
    result = await edge_sim.place(nats_alone.url, 1, rate=40, seconds=1.0)
    submitted = result["submitted"]
    assert len(submitted) == 40
    async with asyncio.timeout(30):  # a run is recorded once its completion is relayed
        while len(fleet.runs) < len(submitted):
            await asyncio.sleep(0.05)
    assert sorted(run.execution_id for run in fleet.runs) == sorted(submitted)  # each once
    assert fleet.over_capacity(SLOTS) == 0
    assert result["placed"] >= 20  # most went straight; the rest through the queue
