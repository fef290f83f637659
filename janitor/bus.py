"""The janitor's only NATS call: which runners have a live heartbeat."""

from __future__ import annotations

import asyncio
import logging

import nats
import nats.errors
import nats.js.errors

from contracts import subjects
from contracts.nats_options import NatsOptions, connect_options

log = logging.getLogger(__name__)


async def _live_runners(url: str, options: NatsOptions) -> set[str]:
    nc = await nats.connect(**connect_options(url, options, "janitor",
                                                  subjects.JANITOR_INBOX), connect_timeout=2,
                            allow_reconnect=False, error_cb=_quiet)
    try:
        kv = await nc.jetstream().key_value(subjects.RUNNERS_BUCKET)
        try:
            return set(await kv.keys())
        except nats.js.errors.NoKeysError:
            return set()
    finally:
        await nc.close()


async def _quiet(exc: Exception) -> None:
    """The failure is reported once, by ``live_runners``."""


def live_runners(url: str, options: NatsOptions | None = None) -> set[str] | None:
    """Runner ids with a heartbeat, or None when NATS cannot say (then nobody is judged gone)."""
    try:
        return asyncio.run(asyncio.wait_for(_live_runners(url, options or NatsOptions()), 5))
    except (OSError, TimeoutError, nats.errors.Error, nats.js.errors.Error) as exc:
        why = str(exc) or type(exc).__name__
        log.warning("cannot read runner heartbeats from %s: %s", url, why)
        return None
