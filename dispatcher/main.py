"""Entry point of a dispatcher: settings, connect, serve until signalled."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from dispatcher.loop import Dispatcher

log = logging.getLogger("dispatcher")


def freeze_startup_heap() -> int:
    """Move every object alive once the dispatcher is set up (modules, classes, functions:
    about 27 000 of the 36 000 its collector tracks under load) out of the collector's reach,
    for good: each full collection then walks only what came after. Run L (docs/benchmarks.md):
    a little less CPU a job, in 10 pairs of runs of 12. Returns how many were moved."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def serve(settings: DispatcherSettings) -> None:
    bus = await DispatcherBus.connect(settings)
    capacity = await bus.ensure_streams()
    log.info(
        "dispatcher up: cap %s, capacity %d, timeout %d s",
        settings.max_concurrent or "the runners' slots", capacity, settings.queue_timeout_s,
    )
    dispatcher = Dispatcher(settings, bus, capacity)
    freeze_startup_heap()
    serving = asyncio.create_task(dispatcher.serve())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, serving.cancel)
    try:
        await serving
    except asyncio.CancelledError:
        pass
    log.info("stopping: gave %d held jobs back to the queue", await dispatcher.give_back())
    await bus.close()


def main() -> None:
    asyncio.run(serve(DispatcherSettings.from_env()))
