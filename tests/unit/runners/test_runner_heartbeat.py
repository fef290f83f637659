"""The runner's heartbeat never waits on Docker (a slow engine would make it silent)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from contracts.messages import RunnerInfo
from contracts.packages import PackageSettings
from contracts.runtimes import Catalog
from contracts.settings import RunnerSettings
from runners.packages import Packages
from runners.runner import Runner


class StuckLayers:
    """Layers whose Docker listing never answers; the numbers kept are 2 layers, 300 bytes."""

    count = 2
    bytes = 300

    async def usage(self) -> tuple[int, int]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_the_heartbeat_tells_the_kept_layer_numbers_without_asking_docker() -> None:
    told: asyncio.Queue[RunnerInfo] = asyncio.Queue()

    async def heartbeat(info: RunnerInfo) -> None:
        await told.put(info)

    settings = RunnerSettings()
    sandboxes: Any = SimpleNamespace(_api=None, _settings=settings, instance="i",
                                     remove=None, destroy=None)
    bus: Any = SimpleNamespace(heartbeat=heartbeat, subscribe_notebook=None,
                               subscribe_control=None)
    layers: Any = StuckLayers()
    packages = Packages(PackageSettings(), layers, sandboxes, {})
    runner = Runner(settings, Catalog([]), sandboxes, bus, {}, packages)
    beating = asyncio.create_task(runner._heartbeat())
    try:
        info = await asyncio.wait_for(told.get(), timeout=1)
    finally:
        beating.cancel()
    assert (info.package_layers, info.package_bytes) == (2, 300)
