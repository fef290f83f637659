"""The edge's one NATS connection, which every part of the bus shares, and the errors they
raise when the queue cannot take or keep something."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from contracts.nats_options import NatsOptions, connect_options


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

    def __init__(self, url: str, options: NatsOptions | None = None) -> None:
        self.url = url
        self.options = options or NatsOptions()
        self.client = Client()
        self.jetstream: JetStreamContext = self.client.jetstream()

    async def connect(self, once: bool = False) -> None:
        """Connect, retrying for ever (a service) or failing at once (``once``: a CLI)."""
        if once:
            self.client = await asyncio.wait_for(nats.connect(
                **connect_options(self.url, self.options, "edge-cli"), allow_reconnect=False,
                connect_timeout=2, error_cb=_quiet,
            ), 5)
        else:
            self.client = await nats.connect(
                **connect_options(self.url, self.options, "edge"),
                max_reconnect_attempts=-1, reconnect_time_wait=0.5,
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


CHANGE_ATTEMPTS = 50
"""How many times a compare-and-set reads and applies again when another writer came first."""
CHANGE_BACKOFF_S = 0.001
CHANGE_BACKOFF_CAP_S = 0.032
"""After the n-th lost race a writer waits a random time up to 2**n ms (at most 32 ms) before it
reads again. Without it two writers that each change one key in a loop fall into lock-step: the
one that lost reads just before the other writes again, and loses again, 50 times in a row."""


async def compare_and_set(kv: KeyValue, key: str,
                          change: Callable[[bytes | None], bytes | None],
                          before_update: Callable[[], Awaitable[None]] | None = None) -> bool:
    """Store what ``change`` makes of an entry's value (None in, for no entry or a deleted one;
    None out: write nothing), with compare-and-set: read and apply again when another writer
    changed it meanwhile. False when it kept changing for ``CHANGE_ATTEMPTS`` tries.
    ``before_update`` runs between a change made and its write (what the value will name)."""
    for attempt in range(CHANGE_ATTEMPTS):
        if attempt:
            await asyncio.sleep(random.uniform(0, min(CHANGE_BACKOFF_CAP_S,
                                                      CHANGE_BACKOFF_S * 2 ** attempt)))
        try:
            entry = await kv.get(key)
            value, revision = entry.value or None, entry.revision or 0
        except nats.js.errors.KeyNotFoundError as exc:  # also a deleted key, with its marker
            value, revision = None, exc.entry.revision if exc.entry and exc.entry.revision else 0
        new = change(value)
        if new is None:
            return True
        if before_update is not None:
            await before_update()
        try:
            await kv.update(key, new, last=revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            continue
        return True
    return False
