"""Entry point of a dispatcher: settings, connect, serve until signalled."""

from __future__ import annotations

import asyncio
import logging
import signal

from contracts.settings import DispatcherSettings
from dispatcher.bus import DispatcherBus
from dispatcher.loop import Dispatcher

log = logging.getLogger("dispatcher")


async def serve(settings: DispatcherSettings) -> None:
    bus = await DispatcherBus.connect(settings)
    capacity = await bus.ensure_streams()
    log.info(
        "dispatcher up: cap %s, capacity %d, timeout %d s",
        settings.max_concurrent or "the runners' slots", capacity, settings.queue_timeout_s,
    )
    dispatcher = Dispatcher(settings, bus, capacity)
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
