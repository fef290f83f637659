"""Entry point of a dispatcher: settings, connect, serve until signalled."""

from __future__ import annotations

import asyncio
import logging
import signal

import nats.errors
import nats.js.errors

from contracts.settings import DispatcherSettings
from dispatcher.bus import SETUP_ATTEMPTS, SETUP_RETRY_S, DispatcherBus
from dispatcher.loop import Dispatcher

log = logging.getLogger("dispatcher")


async def ensure_streams(bus: DispatcherBus) -> int:
    """Make the streams, retrying while JetStream is not ready (a cluster electing its leader,
    a replicated stream slow to answer under load)."""
    for attempt in range(1, SETUP_ATTEMPTS + 1):
        try:
            return await bus.ensure_streams()
        except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError,
                nats.js.errors.ServerError) as exc:
            if attempt == SETUP_ATTEMPTS:
                raise
            log.warning("setting up the streams failed (%s); retrying", exc)
            await asyncio.sleep(SETUP_RETRY_S)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def serve(settings: DispatcherSettings) -> None:
    bus = await DispatcherBus.connect(settings)
    capacity = await ensure_streams(bus)
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
