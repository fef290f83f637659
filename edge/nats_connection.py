"""The edge's one NATS connection, which every part of the bus shares, and the errors they
raise when the queue cannot take or keep something."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.settings import nats_servers


class SubmitError(Exception):
    """The job could not be queued."""

    code = "internal_error"


class QueueFull(SubmitError):
    """The queue is at capacity; try again later."""

    code = "queue_full"


class NotReady(SubmitError):
    """The platform is not ready: no dispatcher has created the queue yet."""

    code = "not_ready"


class NatsConnection:
    """Made with the app, connected in its lifespan (``connect``); the bus's parts read
    ``client`` and ``jetstream`` when they use them, so they may be made before it connects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = Client()
        self.jetstream: JetStreamContext = self.client.jetstream()

    async def connect(self, once: bool = False) -> None:
        """Connect, retrying for ever (a service) or failing at once (``once``: a CLI)."""
        if once:
            self.client = await asyncio.wait_for(nats.connect(
                nats_servers(self.url), name="edge-cli", allow_reconnect=False,
                connect_timeout=2, error_cb=_quiet,
            ), 5)
        else:
            self.client = await nats.connect(
                nats_servers(self.url), name="edge", max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
            )
        self.jetstream = self.client.jetstream()

    async def close(self) -> None:
        """Flush what was published, then close (a drain would wait out pending long polls)."""
        if not self.client.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self.client.flush(timeout=2)
            await self.client.close()


async def _quiet(exc: Exception) -> None:
    """A one-shot client reports its connection failure itself, without tracebacks."""
